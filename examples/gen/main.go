// Command gen writes examples/resnet-mini.onnx, the example model of the
// README and the CLI tests: a small ResNet-style CNN for 32×32 RGB images
// (CIFAR-sized) with a symbolic batch dim.
//
//	input f32[N,3,32,32]
//	stem    conv 3×3 3→16, BatchNormalization, Relu                 [N,16,32,32]
//	block1  basic residual block, 16 channels                        [N,16,32,32]
//	block2  basic residual block, 16 channels                        [N,16,32,32]
//	block3  downsampling block, stride 2, 16→32 channels, with a
//	        1×1 stride-2 conv + BatchNormalization on the shortcut   [N,32,16,16]
//	head    GlobalAveragePool, Flatten, Gemm 32→10                   logits f32[N,10]
//
// The layers are those of a torchvision ResNet (convolutions without bias,
// each followed by an unfused BatchNormalization), exported the way
// PyTorch's exporter writes them at opset 13, so the model exercises what
// real CNNs need: BatchNormalization, residual Adds, strided and 1×1
// convolutions, global pooling and a classifier.
//
// The weights are pseudo-random, drawn from a fixed seed with SplitMix64
// (internal/zoo.Rand), so the file is byte-identical on every run,
// Go version and platform; a test checks that. The convolutions use He
// (Kaiming) uniform initialisation and the BatchNormalization statistics
// are near identity, so activations keep a sensible range through the
// network, as calibration for INT8 needs.
//
// Usage (from the repository root; `make example` and `go generate` run it):
//
//	go run ./examples/gen [-o examples/resnet-mini.onnx] [-calib examples/resnet-mini-calib.npy]
//
// It also writes the example's calibration data: 32 images of smooth
// pseudo-random patterns (sums of sinusoids, values in about [-1, 1], as
// normalized photos), an .npy array [32,3,32,32] of float32.
package main

//go:generate go run . -o ../resnet-mini.onnx -calib ../resnet-mini-calib.npy

import (
	"encoding/binary"
	"flag"
	"fmt"
	"math"
	"os"
	"strings"

	"github.com/sqc-project/sqc/frontend/onnx/onnxbuild"
	"github.com/sqc-project/sqc/internal/atomicfile"
	"github.com/sqc-project/sqc/internal/zoo"
	"github.com/sqc-project/sqc/ir"
)

// seed is the generator's fixed seed; changing it changes the committed model.
const seed = 0x5eed_c0de_2024

func main() {
	out := flag.String("o", "examples/resnet-mini.onnx", "output `file`")
	calib := flag.String("calib", "examples/resnet-mini-calib.npy", "calibration data output `file`")
	flag.Parse()
	if flag.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "gen: unexpected arguments %q (usage: gen [-o file] [-calib file])\n", flag.Args())
		os.Exit(2)
	}
	err := build().WriteFile(*out)
	if err == nil {
		err = atomicfile.WriteFile(*calib, calibNpy())
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "gen: %v\n", err)
		os.Exit(1)
	}
}

// calibSeed draws the calibration images; changing it changes the committed file.
const calibSeed = 0xca11_b8a7e

// calibNpy returns the calibration images as an .npy file (format 1.0,
// little-endian float32, C order): each image channel is a sum of three
// sinusoids of random frequency, direction and phase, scaled to about
// [-1, 1], so activations have the structure of real images rather than
// noise.
func calibNpy() []byte {
	const n, c, h, w = 32, 3, 32, 32
	rng := zoo.NewRand(calibSeed)
	data := make([]float32, n*c*h*w)
	for img := range n * c {
		var fx, fy, ph [3]float64
		for k := range 3 {
			fx[k] = (float64(rng.Float64())*2 - 1) * 0.5
			fy[k] = (float64(rng.Float64())*2 - 1) * 0.5
			ph[k] = float64(rng.Float64()) * 2 * math.Pi
		}
		for y := range h {
			for x := range w {
				v := 0.0
				for k := range 3 {
					v += math.Sin(float64(fx[k]*float64(x)) + float64(fy[k]*float64(y)) + ph[k])
				}
				data[img*h*w+y*w+x] = float32(v / 3)
			}
		}
	}
	header := fmt.Sprintf("{'descr': '<f4', 'fortran_order': False, 'shape': (%d, %d, %d, %d), }", n, c, h, w)
	// The magic, version and header length take 10 bytes; the header is
	// padded with spaces to a multiple of 64 and ends in a newline.
	pad := 64 - (10+len(header)+1)%64
	header += strings.Repeat(" ", pad%64) + "\n"
	buf := []byte("\x93NUMPY\x01\x00")
	buf = binary.LittleEndian.AppendUint16(buf, uint16(len(header)))
	buf = append(buf, header...)
	for _, v := range data {
		buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(v))
	}
	return buf
}

// build assembles the model.
func build() *onnxbuild.Builder {
	m := &model{b: onnxbuild.New("resnet-mini", 13), rng: zoo.NewRand(seed)}
	x := m.b.InputSym("input", ir.Float32, []string{"N", "3", "32", "32"})

	x = m.convBNRelu("stem", x, 3, 16, 3, 1)
	x = m.basicBlock("block1", x, 16)
	x = m.basicBlock("block2", x, 16)
	x = m.downBlock("block3", x, 16, 32)

	x = m.node("head.pool", "GlobalAveragePool", []string{x}, nil)
	x = m.node("head.flatten", "Flatten", []string{x}, map[string]any{"axis": 1})
	w := m.b.Initializer("head.fc.weight", m.uniform(1/math.Sqrt(32), 10, 32))
	bias := m.b.Initializer("head.fc.bias", m.uniform(1/math.Sqrt(32), 10))
	m.b.Add(onnxbuild.NodeSpec{Name: "head.fc", Op: "Gemm", Inputs: []string{x, w, bias}, Outputs: []string{"logits"},
		Attrs: map[string]any{"alpha": float32(1), "beta": float32(1), "transB": 1}})
	m.b.OutputSym("logits", ir.Float32, []string{"N", "10"})
	return m.b
}

type model struct {
	b   *onnxbuild.Builder
	rng *zoo.Rand
}

// node adds a node whose output is named after it ("<name>.out").
func (m *model) node(name, op string, inputs []string, attrs map[string]any) string {
	out := name + ".out"
	m.b.Add(onnxbuild.NodeSpec{Name: name, Op: op, Inputs: inputs, Outputs: []string{out}, Attrs: attrs})
	return out
}

// conv adds a k×k convolution without bias, padded to keep the size at
// stride 1, with He-uniform weights (bound sqrt(6/fan_in)).
func (m *model) conv(name, x string, cin, cout, k, stride int) string {
	w := m.b.Initializer(name+".weight", m.uniform(math.Sqrt(6/float64(cin*k*k)), cout, cin, k, k))
	p := k / 2
	return m.node(name, "Conv", []string{x, w}, map[string]any{
		"kernel_shape": []int64{int64(k), int64(k)},
		"strides":      []int64{int64(stride), int64(stride)},
		"pads":         []int64{int64(p), int64(p), int64(p), int64(p)},
		"dilations":    []int64{1, 1},
		"group":        1,
	})
}

// bn adds an inference-mode BatchNormalization with statistics near
// identity: gamma in [0.8,1.2], beta and mean in [-0.1,0.1], var in [0.5,1.5].
func (m *model) bn(name, x string, c int) string {
	gamma := m.b.Initializer(name+".weight", m.between(0.8, 1.2, c))
	beta := m.b.Initializer(name+".bias", m.between(-0.1, 0.1, c))
	mean := m.b.Initializer(name+".running_mean", m.between(-0.1, 0.1, c))
	variance := m.b.Initializer(name+".running_var", m.between(0.5, 1.5, c))
	return m.node(name, "BatchNormalization", []string{x, gamma, beta, mean, variance},
		map[string]any{"epsilon": float32(1e-5), "momentum": float32(0.9)})
}

func (m *model) convBNRelu(name, x string, cin, cout, k, stride int) string {
	x = m.conv(name+".conv", x, cin, cout, k, stride)
	x = m.bn(name+".bn", x, cout)
	return m.node(name+".relu", "Relu", []string{x}, nil)
}

// basicBlock is ResNet's basic block with an identity shortcut:
// relu(bn2(conv2(relu(bn1(conv1(x))))) + x).
func (m *model) basicBlock(name, x string, c int) string {
	y := m.convBNRelu(name+".1", x, c, c, 3, 1)
	y = m.conv(name+".2.conv", y, c, c, 3, 1)
	y = m.bn(name+".2.bn", y, c)
	y = m.node(name+".add", "Add", []string{y, x}, nil)
	return m.node(name+".relu", "Relu", []string{y}, nil)
}

// downBlock is the basic block that halves the size and changes the width:
// its first conv has stride 2 and the shortcut is a 1×1 stride-2 conv with
// BatchNormalization.
func (m *model) downBlock(name, x string, cin, cout int) string {
	y := m.convBNRelu(name+".1", x, cin, cout, 3, 2)
	y = m.conv(name+".2.conv", y, cout, cout, 3, 1)
	y = m.bn(name+".2.bn", y, cout)
	s := m.conv(name+".shortcut.conv", x, cin, cout, 1, 2)
	s = m.bn(name+".shortcut.bn", s, cout)
	y = m.node(name+".add", "Add", []string{y, s}, nil)
	return m.node(name+".relu", "Relu", []string{y}, nil)
}

// uniform returns a float32 tensor of the shape with elements uniform in
// [-bound, bound).
func (m *model) uniform(bound float64, shape ...int) *ir.Tensor {
	return m.between(-bound, bound, shape...)
}

// between returns a float32 tensor of the shape with elements uniform in
// [lo, hi).
func (m *model) between(lo, hi float64, shape ...int) *ir.Tensor {
	t := ir.NewTensor(ir.Float32, shape...)
	d := t.Float32s()
	for i := range d {
		d[i] = float32(lo + float64((hi-lo)*m.rng.Float64()))
	}
	return t
}
