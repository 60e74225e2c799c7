package prune_test

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sqc-project/sqc/ir"
	"github.com/sqc-project/sqc/ir/ref"
	"github.com/sqc-project/sqc/passes"
	_ "github.com/sqc-project/sqc/passes/all" // every pass, for pipelines that run others after prune
)

// builder makes small graphs with random weights.
type builder struct {
	t   *testing.T
	g   *ir.Graph
	rng *rand.Rand
	n   int
}

func newBuilder(t *testing.T, seed uint64, inputs ...*ir.Value) *builder {
	return &builder{t: t, g: &ir.Graph{Name: "g", Inputs: inputs}, rng: rand.New(rand.NewPCG(seed, 99))}
}

// rand returns a constant of uniform values in [-1, 1).
func (b *builder) rand(shape ...int) *ir.Value {
	d := make([]float32, ir.NumElements(shape))
	for i := range d {
		d[i] = float32(2*b.rng.Float64() - 1)
	}
	b.n++
	return ir.NewConst(fmt.Sprintf("c%d", b.n), ir.FromFloat32(d, shape...))
}

// between returns a constant of uniform values in [lo, hi).
func (b *builder) between(lo, hi float64, shape ...int) *ir.Value {
	d := make([]float32, ir.NumElements(shape))
	for i := range d {
		d[i] = float32(lo + (hi-lo)*b.rng.Float64())
	}
	b.n++
	return ir.NewConst(fmt.Sprintf("c%d", b.n), ir.FromFloat32(d, shape...))
}

// op appends a node and returns its (first) output, typed by inference.
func (b *builder) op(name, op string, attrs ir.Attrs, ins ...*ir.Value) *ir.Value {
	b.t.Helper()
	out := &ir.Value{Name: name + ".out"}
	n := &ir.Node{Name: name, Op: op, Inputs: ins, Outputs: []*ir.Value{out}, Attrs: attrs}
	if err := ir.InferNode(n); err != nil {
		b.t.Fatal(err)
	}
	b.g.Nodes = append(b.g.Nodes, n)
	return out
}

func (b *builder) done(outs ...*ir.Value) *ir.Graph {
	b.t.Helper()
	b.g.Outputs = outs
	if err := ir.Verify(b.g); err != nil {
		b.t.Fatal(err)
	}
	return b.g
}

func randInput(rng *rand.Rand, shape ...int) *ir.Tensor {
	d := make([]float32, ir.NumElements(shape))
	for i := range d {
		d[i] = float32(rng.NormFloat64())
	}
	return ir.FromFloat32(d, shape...)
}

// runGraph runs g on the inputs with the reference executor.
func runGraph(t *testing.T, g *ir.Graph, in ...*ir.Tensor) []*ir.Tensor {
	t.Helper()
	out, err := ref.Run(g, in...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// maxRelDiff is max |a−b| / max(max|a|, 1e-6) over two tensors.
func maxRelDiff(a, b *ir.Tensor) float64 {
	av, bv := a.Float32s(), b.Float32s()
	scale, diff := 1e-6, 0.0
	for i := range av {
		scale = max(scale, math.Abs(float64(av[i])))
		diff = max(diff, math.Abs(float64(av[i]-bv[i])))
	}
	return diff / scale
}

// sqDiff is Σ (a−b)².
func sqDiff(a, b *ir.Tensor) float64 {
	s := 0.0
	for i, v := range a.Float32s() {
		d := float64(v - b.Float32s()[i])
		s += d * d
	}
	return s
}

// runPipeline runs a pipeline in the command-line form with verification
// after every step.
func runPipeline(g *ir.Graph, pipeline string) (*passes.Report, error) {
	return (&passes.Manager{VerifyEach: true}).RunSpec(g, pipeline)
}

// writeNpy writes a float32 array as a .npy file (format 1.0).
func writeNpy(t *testing.T, dir, name string, x *ir.Tensor) string {
	t.Helper()
	dims := make([]string, len(x.Shape))
	for i, d := range x.Shape {
		dims[i] = fmt.Sprint(d)
	}
	shape := strings.Join(dims, ", ")
	if len(dims) == 1 {
		shape += ","
	}
	header := fmt.Sprintf("{'descr': '<f4', 'fortran_order': False, 'shape': (%s), }", shape)
	pad := 64 - (10+len(header)+1)%64
	header += strings.Repeat(" ", pad%64) + "\n"
	var buf bytes.Buffer
	buf.WriteString("\x93NUMPY\x01\x00")
	binary.Write(&buf, binary.LittleEndian, uint16(len(header)))
	buf.WriteString(header)
	binary.Write(&buf, binary.LittleEndian, x.Float32s())
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// claims lists the weights with a sparsity claim, by name.
func claims(g *ir.Graph) map[string]ir.Sparsity {
	out := map[string]ir.Sparsity{}
	for _, v := range g.Constants() {
		if v.Sparsity != nil {
			out[v.Name] = *v.Sparsity
		}
	}
	return out
}

// node finds a node by name.
func node(t *testing.T, g *ir.Graph, name string) *ir.Node {
	t.Helper()
	for _, n := range g.Nodes {
		if n.Name == name {
			return n
		}
	}
	t.Fatalf("no node %q", name)
	return nil
}
