// Package zoo builds ONNX models of well-known architectures with
// deterministic pseudo-random weights, for tests and benchmarks that need a
// real network's shapes (a ResNet-50 with 100 MB of weights, ResNet-34's conv
// layers) without downloading one. The graphs are laid out the way PyTorch's
// exporter writes torchvision models: convolutions without bias, each
// followed by an unfused BatchNormalization, Relu, residual Add,
// GlobalAveragePool, Flatten and a Gemm classifier.
package zoo

import (
	"fmt"
	"math"

	"github.com/sqc-project/sqc/frontend/onnx/onnxbuild"
	"github.com/sqc-project/sqc/ir"
)

// ResNetConfig chooses a ResNet variant.
type ResNetConfig struct {
	// Depth is 18, 34 (basic blocks), 50 or 101 (bottleneck blocks).
	Depth int
	// Width is the stem's channel count (64 in torchvision); smaller widths
	// give quick test models of the same structure.
	Width int
	// Size is the input image's height and width (224 in torchvision).
	Size int
	// Classes is the classifier's output count (1000 for ImageNet).
	Classes int
	// Batch is the input's batch dim; 0 makes it symbolic ("N").
	Batch int
	// ShapeChainFlatten replaces Flatten by the Shape → Gather → Unsqueeze →
	// Concat → Reshape chain older PyTorch exports write for x.view(x.size(0), -1).
	ShapeChainFlatten bool
	// Seed selects the weights.
	Seed uint64
}

// ResNet returns the model of a torchvision-style ResNet.
func ResNet(c ResNetConfig) (*onnxbuild.Builder, error) {
	blocks, bottleneck := map[int][]int{18: {2, 2, 2, 2}, 34: {3, 4, 6, 3}, 50: {3, 4, 6, 3}, 101: {3, 4, 23, 3}}[c.Depth], c.Depth >= 50
	if blocks == nil {
		return nil, fmt.Errorf("resnet depth %d: want 18, 34, 50 or 101", c.Depth)
	}
	if c.Width <= 0 || c.Size < 32 || c.Classes <= 0 || c.Batch < 0 {
		return nil, fmt.Errorf("resnet: width %d, size %d, classes %d, batch %d: want positive width and classes, size >= 32", c.Width, c.Size, c.Classes, c.Batch)
	}
	m := &net{b: onnxbuild.New(fmt.Sprintf("resnet%d", c.Depth), 13), rng: NewRand(c.Seed)}
	batch := "N"
	if c.Batch > 0 {
		batch = fmt.Sprint(c.Batch)
	}
	x := m.b.InputSym("input", ir.Float32, []string{batch, "3", fmt.Sprint(c.Size), fmt.Sprint(c.Size)})
	x = m.convBNRelu("conv1", x, 3, c.Width, 7, 2)
	x = m.node("maxpool", "MaxPool", []string{x}, map[string]any{
		"kernel_shape": []int64{3, 3}, "strides": []int64{2, 2}, "pads": []int64{1, 1, 1, 1}})
	cin := c.Width
	for stage, n := range blocks {
		width := c.Width << stage
		for i := 0; i < n; i++ {
			stride := 1
			if i == 0 && stage > 0 {
				stride = 2
			}
			name := fmt.Sprintf("layer%d.%d", stage+1, i)
			if bottleneck {
				x = m.bottleneck(name, x, cin, width, stride)
				cin = width * 4
			} else {
				x = m.basic(name, x, cin, width, stride)
				cin = width
			}
		}
	}
	x = m.node("avgpool", "GlobalAveragePool", []string{x}, nil)
	if c.ShapeChainFlatten {
		s := m.node("flatten.shape", "Shape", []string{x}, nil)
		n := m.node("flatten.gather", "Gather", []string{s, m.b.Const(ir.FromInt64([]int64{0}))}, map[string]any{"axis": 0})
		n = m.node("flatten.unsqueeze", "Unsqueeze", []string{n, m.b.Ints(0)}, nil)
		shape := m.node("flatten.concat", "Concat", []string{n, m.b.Ints(-1)}, map[string]any{"axis": 0})
		x = m.node("flatten", "Reshape", []string{x, shape}, nil)
	} else {
		x = m.node("flatten", "Flatten", []string{x}, map[string]any{"axis": 1})
	}
	bound := 1 / math.Sqrt(float64(cin))
	w := m.b.Initializer("fc.weight", m.uniform(bound, c.Classes, cin))
	bias := m.b.Initializer("fc.bias", m.uniform(bound, c.Classes))
	m.b.Add(onnxbuild.NodeSpec{Name: "fc", Op: "Gemm", Inputs: []string{x, w, bias}, Outputs: []string{"logits"},
		Attrs: map[string]any{"alpha": float32(1), "beta": float32(1), "transB": 1}})
	m.b.OutputSym("logits", ir.Float32, []string{batch, fmt.Sprint(c.Classes)})
	return m.b, m.b.Err()
}

type net struct {
	b   *onnxbuild.Builder
	rng *Rand
}

func (m *net) node(name, op string, inputs []string, attrs map[string]any) string {
	out := name + ".out"
	m.b.Add(onnxbuild.NodeSpec{Name: name, Op: op, Inputs: inputs, Outputs: []string{out}, Attrs: attrs})
	return out
}

// conv is a k×k convolution without bias, padded by k/2, He-uniform weights.
func (m *net) conv(name, x string, cin, cout, k, stride int) string {
	w := m.b.Initializer(name+".weight", m.uniform(math.Sqrt(6/float64(cin*k*k)), cout, cin, k, k))
	p := int64(k / 2)
	return m.node(name, "Conv", []string{x, w}, map[string]any{
		"kernel_shape": []int64{int64(k), int64(k)},
		"strides":      []int64{int64(stride), int64(stride)},
		"pads":         []int64{p, p, p, p},
	})
}

// bn is an inference BatchNormalization with statistics near identity.
func (m *net) bn(name, x string, c int) string {
	gamma := m.b.Initializer(name+".weight", m.between(0.8, 1.2, c))
	beta := m.b.Initializer(name+".bias", m.between(-0.1, 0.1, c))
	mean := m.b.Initializer(name+".running_mean", m.between(-0.1, 0.1, c))
	variance := m.b.Initializer(name+".running_var", m.between(0.5, 1.5, c))
	return m.node(name, "BatchNormalization", []string{x, gamma, beta, mean, variance}, map[string]any{"epsilon": float32(1e-5)})
}

func (m *net) convBNRelu(name, x string, cin, cout, k, stride int) string {
	x = m.bn(name+".bn", m.conv(name, x, cin, cout, k, stride), cout)
	return m.node(name+".relu", "Relu", []string{x}, nil)
}

// shortcut is the identity, or a strided 1×1 conv + BN when the shape changes.
func (m *net) shortcut(name, x string, cin, cout, stride int) string {
	if cin == cout && stride == 1 {
		return x
	}
	return m.bn(name+".downsample.bn", m.conv(name+".downsample", x, cin, cout, 1, stride), cout)
}

// basic is ResNet-18/34's block: relu(bn(conv3x3(relu(bn(conv3x3(x))))) + shortcut(x)).
func (m *net) basic(name, x string, cin, cout, stride int) string {
	y := m.convBNRelu(name+".conv1", x, cin, cout, 3, stride)
	y = m.bn(name+".conv2.bn", m.conv(name+".conv2", y, cout, cout, 3, 1), cout)
	y = m.node(name+".add", "Add", []string{y, m.shortcut(name, x, cin, cout, stride)}, nil)
	return m.node(name+".relu", "Relu", []string{y}, nil)
}

// bottleneck is ResNet-50's block: 1×1 reduce, 3×3 (strided, as torchvision
// v1.5), 1×1 expand to 4× width, plus the shortcut.
func (m *net) bottleneck(name, x string, cin, width, stride int) string {
	y := m.convBNRelu(name+".conv1", x, cin, width, 1, 1)
	y = m.convBNRelu(name+".conv2", y, width, width, 3, stride)
	y = m.bn(name+".conv3.bn", m.conv(name+".conv3", y, width, width*4, 1, 1), width*4)
	y = m.node(name+".add", "Add", []string{y, m.shortcut(name, x, cin, width*4, stride)}, nil)
	return m.node(name+".relu", "Relu", []string{y}, nil)
}

func (m *net) uniform(bound float64, shape ...int) *ir.Tensor {
	return m.between(-bound, bound, shape...)
}

func (m *net) between(lo, hi float64, shape ...int) *ir.Tensor {
	t := ir.NewTensor(ir.Float32, shape...)
	d := t.Float32s()
	for i := range d {
		d[i] = float32(lo + float64((hi-lo)*m.rng.Float64()))
	}
	return t
}

// Rand is Steele, Lea and Flood's SplitMix64 generator (OOPSLA 2014), written
// out so generated models do not depend on a library's choice of algorithm.
type Rand struct{ s uint64 }

// NewRand returns a generator with the given seed.
func NewRand(seed uint64) *Rand { return &Rand{s: seed} }

// Uint64 returns the next 64 random bits.
func (r *Rand) Uint64() uint64 {
	r.s += 0x9e3779b97f4a7c15
	z := r.s
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// Float64 returns a number uniform in [0, 1).
func (r *Rand) Float64() float64 { return float64(r.Uint64()>>11) / (1 << 53) }
