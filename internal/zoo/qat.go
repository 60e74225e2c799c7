package zoo

import (
	"fmt"
	"math"

	"github.com/sqc-project/sqc/frontend/onnx/onnxbuild"
	"github.com/sqc-project/sqc/ir"
)

// QATConvNet returns a small convolutional network as a training framework
// exports it after 2:4 sparse fine-tuning and quantization-aware training
// (pytorch-quantization, ModelOpt): QuantizeLinear → DequantizeLinear in
// front of each convolution's input, each weight an int8 initializer behind
// a per-output-channel DequantizeLinear, 2:4 sparse along the input
// channels, and the BatchNormalization still a separate node after its
// convolution, followed by Relu. Three 3×3/1×1 convolutions (16 → 32 → 32 →
// 32 channels at 8×8, the third with a residual from the second), a global
// average pool and a float classifier. Some BatchNormalization scales are
// negative, as trained networks have.
func QATConvNet(seed uint64) (*onnxbuild.Builder, error) {
	m := &net{b: onnxbuild.New("qatnet", 13), rng: NewRand(seed)}
	x := m.b.InputSym("input", ir.Float32, []string{"N", "16", "8", "8"})
	qdq := func(name, v string, scale float32) string {
		s := m.b.Initializer(name+".scale", ir.FromFloat32([]float32{scale}))
		z := m.b.Initializer(name+".zero_point", ir.NewTensor(ir.Int8))
		q := m.node(name+".quantize", "QuantizeLinear", []string{v, s, z}, nil)
		return m.node(name+".dequantize", "DequantizeLinear", []string{q, s, z}, nil)
	}
	conv := func(name, in string, cin, cout, k int) string {
		w := ir.NewTensor(ir.Int8, cout, cin, k, k)
		wd := w.Int8s()
		// 2:4 along the input channels: in each group of four channels
		// of one (output, tap), two are zero.
		for o := 0; o < cout; o++ {
			for c0 := 0; c0 < cin; c0 += 4 {
				for t := 0; t < k*k; t++ {
					keep := int(m.rng.Uint64() % 6)
					pairs := [6][2]int{{0, 1}, {0, 2}, {0, 3}, {1, 2}, {1, 3}, {2, 3}}[keep]
					for _, c := range pairs {
						v := int8(int(m.rng.Uint64()%255) - 127)
						wd[(o*cin+c0+c)*k*k+t] = v
					}
				}
			}
		}
		scale := ir.NewTensor(ir.Float32, cout)
		for i := range scale.Float32s() {
			scale.Float32s()[i] = float32(0.5 / 127 / math.Sqrt(float64(cin*k*k)) * (0.5 + float64(m.rng.Float64())))
		}
		wq := m.b.Initializer(name+".weight_quantized", w)
		ws := m.b.Initializer(name+".weight_scale", scale)
		wz := m.b.Initializer(name+".weight_zero_point", ir.NewTensor(ir.Int8, cout))
		wdq := m.node(name+".weight_dequantize", "DequantizeLinear", []string{wq, ws, wz}, map[string]any{"axis": 0})
		p := int64(k / 2)
		return m.node(name, "Conv", []string{in, wdq}, map[string]any{
			"kernel_shape": []int64{int64(k), int64(k)}, "pads": []int64{p, p, p, p}})
	}
	bn := func(name, in string, c int) string {
		gamma := m.between(0.5, 1.5, c)
		for i := 0; i < c; i += 5 {
			gamma.Float32s()[i] = -gamma.Float32s()[i]
		}
		return m.node(name, "BatchNormalization", []string{in,
			m.b.Initializer(name+".weight", gamma),
			m.b.Initializer(name+".bias", m.between(-0.2, 0.2, c)),
			m.b.Initializer(name+".running_mean", m.between(-0.1, 0.1, c)),
			m.b.Initializer(name+".running_var", m.between(0.5, 1.5, c))}, map[string]any{"epsilon": float32(1e-5)})
	}
	h := conv("conv1", qdq("conv1.input", x, 0.03), 16, 32, 3)
	h = m.node("conv1.relu", "Relu", []string{bn("conv1.bn", h, 32)}, nil)
	h2 := conv("conv2", qdq("conv2.input", h, 0.02), 32, 32, 3)
	h2 = m.node("conv2.relu", "Relu", []string{bn("conv2.bn", h2, 32)}, nil)
	h3 := conv("conv3", qdq("conv3.input", h2, 0.02), 32, 32, 1)
	h3 = m.node("conv3.add", "Add", []string{bn("conv3.bn", h3, 32), h2}, nil)
	h3 = m.node("conv3.relu", "Relu", []string{h3}, nil)
	g := m.node("avgpool", "GlobalAveragePool", []string{h3}, nil)
	f := m.node("flatten", "Flatten", []string{g}, map[string]any{"axis": 1})
	w := m.b.Initializer("fc.weight", m.uniform(1/math.Sqrt(32), 10, 32))
	b := m.b.Initializer("fc.bias", m.uniform(0.1, 10))
	m.b.Add(onnxbuild.NodeSpec{Name: "fc", Op: "Gemm", Inputs: []string{f, w, b}, Outputs: []string{"logits"},
		Attrs: map[string]any{"transB": 1}})
	m.b.OutputSym("logits", ir.Float32, []string{"N", "10"})
	if err := m.b.Err(); err != nil {
		return nil, fmt.Errorf("qatnet: %w", err)
	}
	return m.b, nil
}
