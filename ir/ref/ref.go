// Package ref is the reference executor: it runs an ir.Graph on the CPU and
// so defines what every op computes. Float ops follow ONNX's float32
// semantics; integer (INT8) ops are exact, and the GPU backend must match
// them bit for bit. Calibration and accuracy evaluation run here too, so the
// heavy ops (convolution, GEMM) are fast and use every core.
//
// Results do not depend on the CPU. Go may fuse a product and the addition
// after it into one fused multiply-add where the CPU has one (arm64, amd64
// built with GOAMD64=v3), which rounds once instead of twice, so a product
// that is not exact and feeds an addition is written float32(x*y) or
// float64(x*y): an explicit conversion rounds it and forbids the fusion.
// Where a fused multiply-add is meant it is written as one (FMA32,
// math.FMA, the assembly micro-kernels).
//
// Each op's kernel is registered by name from the file that implements it.
// Output shapes are not computed by kernels: before each node runs, the
// executor calls the op's ir schema with the concrete input types and values
// and allocates the outputs, so the shape rule of an op is written once.
package ref

import (
	"fmt"
	"runtime"
	"sync"

	"github.com/sqc-project/sqc/ir"
)

// Kernel computes a node's outputs from its inputs. in[i] is nil for an
// absent optional input; out holds zeroed tensors of the inferred types.
type Kernel func(n *ir.Node, in, out []*ir.Tensor) error

var kernels = map[string]Kernel{}

func register(op string, k Kernel) {
	if _, dup := kernels[op]; dup {
		panic("ref: kernel for " + op + " registered twice")
	}
	kernels[op] = k
}

// Supports reports whether the executor has a kernel for op.
func Supports(op string) bool { _, ok := kernels[op]; return ok }

// Executor runs one graph, repeatedly.
type Executor struct {
	g *ir.Graph
	// lastUse[v] is the index of the last node reading v; after it runs, v's
	// tensor is dropped so peak memory stays near the widest cut of the graph.
	lastUse map[*ir.Value]int
	outputs map[*ir.Value]bool
}

// New prepares a graph for execution. Every op must have a kernel.
func New(g *ir.Graph) (*Executor, error) {
	e := &Executor{g: g, lastUse: map[*ir.Value]int{}, outputs: map[*ir.Value]bool{}}
	for i, n := range g.Nodes {
		if !Supports(n.Op) {
			return nil, fmt.Errorf("node %s: the reference executor has no kernel for op %s", n.Name, n.Op)
		}
		for _, v := range n.Inputs {
			if v != nil {
				e.lastUse[v] = i
			}
		}
	}
	for _, v := range g.Outputs {
		e.outputs[v] = true
	}
	return e, nil
}

// Observer, when given to RunObserved, sees every node output as it is
// computed (calibration collects activation statistics this way). It must not
// keep or modify the tensor.
type Observer func(v *ir.Value, t *ir.Tensor)

// Run executes the graph on inputs (one per graph input, in order) and
// returns one tensor per graph output.
func (e *Executor) Run(inputs []*ir.Tensor) ([]*ir.Tensor, error) {
	return e.RunObserved(inputs, nil)
}

// RunObserved is Run with an observer of every intermediate value.
func (e *Executor) RunObserved(inputs []*ir.Tensor, observe Observer) ([]*ir.Tensor, error) {
	if observe == nil {
		return e.RunReplacing(inputs, nil)
	}
	return e.RunReplacing(inputs, func(v *ir.Value, t *ir.Tensor) *ir.Tensor {
		observe(v, t)
		return t
	})
}

// Replacer, when given to RunReplacing, sees every node output as it is
// computed and returns the tensor that later nodes and the graph outputs
// read instead (t itself to change nothing). Calibration measures what
// quantizing one value does to the network's output this way. It must not
// modify t: a kernel may have returned a view of its input.
type Replacer func(v *ir.Value, t *ir.Tensor) *ir.Tensor

// RunReplacing is Run with a replacer of every node output.
func (e *Executor) RunReplacing(inputs []*ir.Tensor, replace Replacer) ([]*ir.Tensor, error) {
	g := e.g
	if len(inputs) != len(g.Inputs) {
		return nil, fmt.Errorf("graph %s has %d inputs, got %d tensors", g.Name, len(g.Inputs), len(inputs))
	}
	env := make(map[*ir.Value]*ir.Tensor, len(g.Nodes))
	for i, v := range g.Inputs {
		t := inputs[i]
		if err := checkInput(v, t); err != nil {
			return nil, err
		}
		env[v] = t
	}
	for i, n := range g.Nodes {
		in := make([]*ir.Tensor, len(n.Inputs))
		types := make([]ir.Type, len(n.Inputs))
		for j, v := range n.Inputs {
			if v == nil {
				continue
			}
			t := v.Const
			if t == nil {
				t = env[v]
			}
			if t == nil {
				return nil, fmt.Errorf("node %s: input %q has no value (is the graph in topological order?)", n.Name, v.Name)
			}
			in[j], types[j] = t, t.Type()
		}
		outTypes, err := ir.InferTypes(n, types, in)
		if err != nil {
			return nil, err
		}
		out := make([]*ir.Tensor, len(outTypes))
		for j, t := range outTypes {
			dims, ok := t.Shape.Ints()
			if !ok {
				return nil, fmt.Errorf("node %s: output %d has shape %v at run time, want every dim known", n.Name, j, t.Shape)
			}
			out[j] = ir.NewTensor(t.DType, dims...)
		}
		if err := runKernel(n, in, out); err != nil {
			return nil, fmt.Errorf("node %s (%s): %w", n.Name, n.Op, err)
		}
		for j, v := range n.Outputs {
			if replace != nil {
				if r := replace(v, out[j]); r != nil {
					out[j] = r
				}
			}
			env[v] = out[j]
		}
		for _, v := range n.Inputs {
			if v != nil && e.lastUse[v] == i && !e.outputs[v] {
				delete(env, v)
			}
		}
	}
	res := make([]*ir.Tensor, len(g.Outputs))
	for i, v := range g.Outputs {
		if v.IsConst() {
			res[i] = v.Const
			continue
		}
		res[i] = env[v]
		if res[i] == nil {
			return nil, fmt.Errorf("graph output %q was not computed", v.Name)
		}
	}
	return res, nil
}

// runKernel calls the op's kernel, turning a panic into an error: a kernel
// bug on one odd input must not take down a compile or an evaluation.
func runKernel(n *ir.Node, in, out []*ir.Tensor) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("internal error in the reference kernel: %v", r)
		}
	}()
	return kernels[n.Op](n, in, out)
}

func checkInput(v *ir.Value, t *ir.Tensor) error {
	if t == nil {
		return fmt.Errorf("input %q: no tensor given", v.Name)
	}
	if err := t.Check(); err != nil {
		return fmt.Errorf("input %q: %v", v.Name, err)
	}
	if t.DType != v.Type.DType {
		return fmt.Errorf("input %q: got %v data, want %v", v.Name, t.DType, v.Type.DType)
	}
	if len(t.Shape) != v.Type.Shape.Rank() {
		return fmt.Errorf("input %q: got shape %v, want %v", v.Name, t.Shape, v.Type.Shape)
	}
	for i, d := range v.Type.Shape {
		if d.Known() && int64(t.Shape[i]) != d.Size {
			return fmt.Errorf("input %q: got shape %v, want %v", v.Name, t.Shape, v.Type.Shape)
		}
	}
	return nil
}

// Run is a one-shot convenience: New then Run.
func Run(g *ir.Graph, inputs ...*ir.Tensor) ([]*ir.Tensor, error) {
	e, err := New(g)
	if err != nil {
		return nil, err
	}
	return e.Run(inputs)
}

// parallelFor splits [0, n) into contiguous chunks run on every core; grain
// is the smallest chunk worth a goroutine.
func parallelFor(n, grain int, body func(lo, hi int)) {
	workers := runtime.GOMAXPROCS(0)
	if grain < 1 {
		grain = 1
	}
	if w := n / grain; w < workers {
		workers = w
	}
	if workers <= 1 {
		body(0, n)
		return
	}
	var wg sync.WaitGroup
	chunk := (n + workers - 1) / workers
	for lo := 0; lo < n; lo += chunk {
		hi := min(lo+chunk, n)
		wg.Add(1)
		go func() {
			defer wg.Done()
			body(lo, hi)
		}()
	}
	wg.Wait()
}
