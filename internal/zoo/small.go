package zoo

import (
	"fmt"
	"math"

	"github.com/sqc-project/sqc/frontend/onnx/onnxbuild"
	"github.com/sqc-project/sqc/ir"
)

// convBiasRelu is a k×k convolution with a bias (padded by k/2), then Relu.
func (m *net) convBiasRelu(name, x string, cin, cout, k, stride int) string {
	w := m.b.Initializer(name+".weight", m.uniform(math.Sqrt(6/float64(cin*k*k)), cout, cin, k, k))
	b := m.b.Initializer(name+".bias", m.between(-0.1, 0.1, cout))
	p := int64(k / 2)
	c := m.node(name, "Conv", []string{x, w, b}, map[string]any{
		"kernel_shape": []int64{int64(k), int64(k)},
		"strides":      []int64{int64(stride), int64(stride)},
		"pads":         []int64{p, p, p, p},
	})
	return m.node(name+".relu", "Relu", []string{c}, nil)
}

// classifier is global average pooling, Flatten and a Gemm to 10 classes.
func (m *net) classifier(x string, cin int) {
	x = m.node("avgpool", "GlobalAveragePool", []string{x}, nil)
	x = m.node("flatten", "Flatten", []string{x}, map[string]any{"axis": 1})
	bound := 1 / math.Sqrt(float64(cin))
	w := m.b.Initializer("fc.weight", m.uniform(bound, 10, cin))
	b := m.b.Initializer("fc.bias", m.uniform(bound, 10))
	m.b.Add(onnxbuild.NodeSpec{Name: "fc", Op: "Gemm", Inputs: []string{x, w, b}, Outputs: []string{"logits"}, Attrs: map[string]any{"transB": 1}})
	m.b.OutputSym("logits", ir.Float32, []string{"N", "10"})
}

// FireNet returns a SqueezeNet-style network on 3×32×32 inputs: a stem
// conv, a max pool, two fire modules (a 1×1 squeeze conv and parallel 1×1
// and 3×3 expand convs whose outputs a Concat joins along the channels)
// and the classifier. The Concat is what such graphs add over a ResNet:
// its inputs come from two layers, so INT8 calibration gives them
// different scales.
func FireNet(seed uint64) (*onnxbuild.Builder, error) {
	m := &net{b: onnxbuild.New("firenet", 13), rng: NewRand(seed)}
	x := m.b.InputSym("input", ir.Float32, []string{"N", "3", "32", "32"})
	h := m.convBiasRelu("stem", x, 3, 32, 3, 2)
	h = m.node("pool", "MaxPool", []string{h}, map[string]any{"kernel_shape": []int64{3, 3}, "strides": []int64{2, 2}, "pads": []int64{1, 1, 1, 1}})
	cin := 32
	for i, w := range []int{16, 32} {
		name := fmt.Sprintf("fire%d", i+2)
		s := m.convBiasRelu(name+".squeeze", h, cin, w, 1, 1)
		e1 := m.convBiasRelu(name+".expand1x1", s, w, 2*w, 1, 1)
		e3 := m.convBiasRelu(name+".expand3x3", s, w, 2*w, 3, 1)
		h = m.node(name+".concat", "Concat", []string{e1, e3}, map[string]any{"axis": 1})
		cin = 4 * w
	}
	m.classifier(h, cin)
	return m.b, m.b.Err()
}

// TFNet returns a small network as a TensorFlow converter (tf2onnx) writes
// it: the input is NHWC (N×32×32×3), a Transpose makes it NCHW for the
// convolutions (two conv + Relu, a max pool between them), then the
// classifier. On the GPU the transpose is a view: the NHWC input is already
// the layout the convolutions read.
func TFNet(seed uint64) (*onnxbuild.Builder, error) {
	m := &net{b: onnxbuild.New("tfnet", 13), rng: NewRand(seed)}
	x := m.b.InputSym("input", ir.Float32, []string{"N", "32", "32", "3"})
	h := m.node("to_nchw", "Transpose", []string{x}, map[string]any{"perm": []int64{0, 3, 1, 2}})
	h = m.convBiasRelu("conv1", h, 3, 16, 3, 1)
	h = m.node("pool", "MaxPool", []string{h}, map[string]any{"kernel_shape": []int64{2, 2}, "strides": []int64{2, 2}})
	h = m.convBiasRelu("conv2", h, 16, 32, 3, 1)
	m.classifier(h, 32)
	return m.b, m.b.Err()
}

// SENet returns a MobileNetV3-style network on 3×32×32 inputs: a stride-2
// stem conv with HardSwish, a squeeze-and-excitation block (global average
// pool, 1×1 conv + Relu, 1×1 conv + HardSigmoid, then a channel-wise Mul of
// the feature map by the computed per-channel gates), a conv + Relu and
// the classifier. HardSwish, HardSigmoid and the Mul of two computed values
// are the ops these models add over a ResNet.
func SENet(seed uint64) (*onnxbuild.Builder, error) {
	m := &net{b: onnxbuild.New("senet", 14), rng: NewRand(seed)}
	x := m.b.InputSym("input", ir.Float32, []string{"N", "3", "32", "32"})
	h := m.conv("stem", x, 3, 16, 3, 2)
	h = m.node("stem.hswish", "HardSwish", []string{h}, nil)
	s := m.node("se.pool", "GlobalAveragePool", []string{h}, nil)
	s = m.convBiasRelu("se.reduce", s, 16, 8, 1, 1)
	s = m.conv("se.expand", s, 8, 16, 1, 1)
	s = m.node("se.gate", "HardSigmoid", []string{s}, map[string]any{"alpha": float32(1.0 / 6), "beta": float32(0.5)})
	h = m.node("se.scale", "Mul", []string{h, s}, nil)
	h = m.convBiasRelu("conv2", h, 16, 32, 3, 1)
	m.classifier(h, 32)
	return m.b, m.b.Err()
}
