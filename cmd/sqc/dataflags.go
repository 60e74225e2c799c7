package main

import (
	"github.com/spf13/cobra"

	"github.com/sqc-project/sqc/passes"
)

// dataFlags are the preprocessing flags of the commands that point a
// pipeline at calibration data (compile): each one given sets the option of
// that name on every step that reads data (calibrate, and prune with
// sparsegpt), overriding the recipe, so that normalising the data needs no
// recipe of one's own.
type dataFlags struct {
	scale        float64
	mean, std    []string
	layout       string
	resize, crop int64
}

func (d *dataFlags) register(cmd *cobra.Command) {
	f := cmd.Flags()
	f.Float64Var(&d.scale, "scale", 1, "multiply calibration data by `S` first (0.00392156862745098 maps 0..255 to 0..1)")
	f.StringSliceVar(&d.mean, "mean", nil, "then subtract `M`: one number, or one per channel (0.485,0.456,0.406)")
	f.StringSliceVar(&d.std, "std", nil, "then divide by `D`: one number, or one per channel (0.229,0.224,0.225)")
	f.StringVar(&d.layout, "layout", "", "layout of the calibration images (NCHW or NHWC; default: the recipe's, NCHW)")
	f.Int64Var(&d.resize, "resize", 0, "resize calibration images so that the shorter side has `N` pixels (images only)")
	f.Int64Var(&d.crop, "crop", 0, "cut the central `N`×N square of each calibration image (images only)")
}

// apply sets, on every step that reads data, the options whose flags were
// given.
func (d *dataFlags) apply(cmd *cobra.Command, specs []passes.StepSpec) {
	values := map[string]any{}
	changed := cmd.Flags().Changed
	if changed("scale") {
		values["scale"] = d.scale
	}
	if changed("mean") {
		values["mean"] = d.mean
	}
	if changed("std") {
		values["std"] = d.std
	}
	if changed("layout") {
		values["layout"] = d.layout
	}
	if changed("resize") {
		values["resize"] = d.resize
	}
	if changed("crop") {
		values["crop"] = d.crop
	}
	if len(values) > 0 {
		setDataOptions(specs, values)
	}
}
