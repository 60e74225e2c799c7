// Package dataopt declares, once, the options of the passes that read
// calibration data (calibrate, and prune with SparseGPT), so that a recipe
// says where the data is and how to preprocess it with the same words for
// both, and turns their values into an internal/dataset.Spec.
package dataopt

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/sqc-project/sqc/internal/dataset"
	"github.com/sqc-project/sqc/passes"
)

// DefaultSamples is the default number of calibration samples: TensorRT's
// guidance is about 500 images for ImageNet networks.
const DefaultSamples = 512

// Options returns the data options: data, format, samples, batch, resize,
// crop, scale, mean, std, layout and channels. purpose completes the doc of
// data ("calibration data", "sparsegpt's calibration data"); allSamples says
// whether samples = 0 means "every sample" (else at least one is needed);
// freeBatch is the batch used when the graph's batch dim is free, for the
// doc of batch.
func Options(purpose string, allSamples bool, freeBatch int) []passes.Option {
	samples := passes.Option{Name: "samples", Kind: passes.Int, Default: int64(DefaultSamples), Min: 1, Max: 1 << 30,
		Doc: "number of samples to run (the first ones in sorted order)"}
	if allSamples {
		samples.Min = 0
		samples.Doc += "; 0 runs them all"
	}
	return []passes.Option{
		{Name: "data", Kind: passes.String, Default: "",
			Doc: purpose + ": a .npy, .npz, .pb or IDX file, an image, or a folder of images or .pb files"},
		{Name: "format", Kind: passes.String, Default: "auto", Enum: dataset.Formats,
			Doc: "format of the data; auto chooses from the path"},
		samples,
		{Name: "batch", Kind: passes.Int, Default: int64(0), Min: 0, Max: 1 << 16,
			Doc: fmt.Sprintf("samples per run of the graph; 0 takes the graph's fixed batch dim, or %d when it has none", freeBatch)},
		{Name: "resize", Kind: passes.Int, Default: int64(0), Min: 0, Max: 1 << 16,
			Doc: "resize images (not arrays, taken at their size) so that the shorter side has this many pixels (PIL bilinear, as torchvision); 0 keeps the size"},
		{Name: "crop", Kind: passes.Int, Default: int64(0), Min: 0, Max: 1 << 16,
			Doc: "cut the central crop×crop square of each image (not of arrays); 0 keeps it whole"},
		{Name: "scale", Kind: passes.Float, Default: 1.0,
			Doc: "multiply every value by this first (0.00392156862745098 = 1/255 maps pixels to 0..1)"},
		{Name: "mean", Kind: passes.Strings, Default: []string{},
			Doc: "subtract after scaling: one number, or one per channel (0.485|0.456|0.406)"},
		{Name: "std", Kind: passes.Strings, Default: []string{},
			Doc: "divide after subtracting the mean: one number, or one per channel (0.229|0.224|0.225)"},
		{Name: "layout", Kind: passes.String, Default: dataset.NCHW, Enum: []string{dataset.NCHW, dataset.NHWC},
			Doc: "layout of image tensors (and the channel axis mean and std index for arrays)"},
		{Name: "channels", Kind: passes.String, Default: "auto", Enum: []string{"auto", dataset.RGB, dataset.BGR, dataset.Gray},
			Doc: "channel order of image tensors; auto follows the graph input (1 channel: gray, else rgb)"},
	}
}

// Spec builds the dataset spec the options describe (Inputs left for the
// caller). batch 0 stays 0 (dataset takes the graph's fixed batch dim).
func Spec(o passes.Options) (dataset.Spec, error) {
	mean, err := Floats("mean", o.Strings("mean"))
	if err != nil {
		return dataset.Spec{}, err
	}
	std, err := Floats("std", o.Strings("std"))
	if err != nil {
		return dataset.Spec{}, err
	}
	channels := o.String("channels")
	if channels == "auto" {
		channels = ""
	}
	return dataset.Spec{
		Path:   o.String("data"),
		Format: o.String("format"),
		Limit:  int(o.Int("samples")),
		Batch:  int(o.Int("batch")),
		Preprocess: dataset.Preprocess{
			Resize:   int(o.Int("resize")),
			Crop:     int(o.Int("crop")),
			Scale:    float32(o.Float("scale")),
			Mean:     mean,
			Std:      std,
			Layout:   o.String("layout"),
			Channels: channels,
		},
	}, nil
}

// Floats reads a list option of numbers; an entry may itself hold several,
// separated by commas or spaces ("0.485, 0.456, 0.406").
func Floats(option string, items []string) ([]float32, error) {
	var out []float32
	for _, it := range items {
		for _, f := range strings.FieldsFunc(it, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' }) {
			v, err := strconv.ParseFloat(f, 32)
			if err != nil || math.IsInf(v, 0) || math.IsNaN(v) {
				return nil, fmt.Errorf("option %s: %q is not a number (want one value, or one per channel)", option, f)
			}
			out = append(out, float32(v))
		}
	}
	return out, nil
}
