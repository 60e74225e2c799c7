package sqcplugin

import (
	"context"
	"errors"
	"fmt"
	"os"
	"regexp"
	"runtime/debug"
	"sync"

	"github.com/sqc-project/sqc/ir"
	"github.com/sqc-project/sqc/passes"
	"github.com/sqc-project/sqc/plugins/internal/wire"
	"github.com/sqc-project/sqc/plugins/internal/wirepb"
)

// nameRE is the form of pass and option names: what pipelines and recipes
// can spell without quoting.
var nameRE = regexp.MustCompile(`^[a-z][a-z0-9]*(-[a-z0-9]+)*$`)

// reserved are option names sqc gives a plugin step itself.
var reserved = map[string]string{
	"timeout": "sqc's limit on a plugin step's time",
	"sha256":  "a recipe's checksum of the plugin binary",
}

// server serves the Pass service.
type server struct {
	wirepb.UnimplementedPassServer
	p     *Pass
	opts  []passes.Option
	decls []*wirepb.OptionDecl
	// mu serialises Run: a pass works on one graph at a time.
	mu sync.Mutex
}

func newServer(p *Pass) (*server, error) {
	switch {
	case p == nil:
		return nil, errors.New("sqcplugin.Serve needs a Pass")
	case !nameRE.MatchString(p.Name):
		return nil, fmt.Errorf("pass name %q: want lower-case words joined by '-'", p.Name)
	case p.Doc == "":
		return nil, fmt.Errorf("pass %s has no Doc", p.Name)
	case p.Run == nil:
		return nil, fmt.Errorf("pass %s has no Run", p.Name)
	}
	s := &server{p: p}
	tmp := &passes.Pass{Name: p.Name}
	seen := map[string]bool{}
	for _, o := range p.Options {
		switch {
		case !nameRE.MatchString(o.Name):
			return nil, fmt.Errorf("pass %s: option name %q: want lower-case words joined by '-'", p.Name, o.Name)
		case reserved[o.Name] != "":
			return nil, fmt.Errorf("pass %s: option name %s is reserved for %s", p.Name, o.Name, reserved[o.Name])
		case seen[o.Name]:
			return nil, fmt.Errorf("pass %s: option %s declared twice", p.Name, o.Name)
		case o.Doc == "":
			return nil, fmt.Errorf("pass %s: option %s has no Doc", p.Name, o.Name)
		}
		seen[o.Name] = true
		po, err := toPassOption(o)
		if err != nil {
			return nil, fmt.Errorf("pass %s: %v", p.Name, err)
		}
		if po.Default != nil {
			tmp.Options = []passes.Option{po}
			if _, err := passes.CheckOption(tmp, po.Name, po.Default); err != nil {
				return nil, fmt.Errorf("pass %s: default of option %s: %v", p.Name, po.Name, err)
			}
		}
		d, err := wire.OptionToDecl(po)
		if err != nil {
			return nil, fmt.Errorf("pass %s: %v", p.Name, err)
		}
		s.opts = append(s.opts, po)
		s.decls = append(s.decls, d)
	}
	return s, nil
}

// stderr is the process's standard error as it started.
var stderr = os.Stderr

var stdio sync.Once

// directStdio points os.Stdout and os.Stderr at the process's standard
// error. go-plugin's Serve replaces them with pipes that a goroutine copies
// to the host over gRPC, which loses the last words of a plugin that exits
// (log.Fatal's message, written just before os.Exit, often never arrives).
// Standard error is a pipe the host reads to its end, so what is written
// there arrives even then; standard output must stay clear of it, as it
// carried the handshake. Serve sets the pipes before it serves, so the
// first call that gets here runs after it.
func directStdio() {
	stdio.Do(func() { os.Stdout, os.Stderr = stderr, stderr })
}

// Describe returns the pass's name, doc and options.
func (s *server) Describe(context.Context, *wirepb.DescribeRequest) (*wirepb.DescribeResponse, error) {
	directStdio()
	return &wirepb.DescribeResponse{Name: s.p.Name, Doc: s.p.Doc, Options: s.decls}, nil
}

// Run decodes the request's graph over the mapped weights, runs the pass
// and encodes the result.
func (s *server) Run(ctx context.Context, req *wirepb.RunRequest) (*wirepb.RunResponse, error) {
	directStdio()
	s.mu.Lock()
	defer s.mu.Unlock()
	m, err := wire.Map(req.WeightsIn)
	if err != nil {
		return nil, fmt.Errorf("weights: %v", err)
	}
	defer m.Close()
	dec := wire.Decoder{Extent: m.Data}
	g, err := dec.Graph(req.Graph)
	if err != nil {
		return nil, fmt.Errorf("decoding the graph: %v", err)
	}
	opts, err := s.options(req, g)
	if err != nil {
		return nil, err
	}
	st := &stats{m: map[string]int64{}}
	if err := s.call(context.WithValue(ctx, statsKey{}, st), g, opts); err != nil {
		return nil, err
	}
	var w *wire.Writer
	if req.WeightsOut != "" {
		f, err := os.OpenFile(req.WeightsOut, os.O_WRONLY, 0)
		if err != nil {
			return nil, fmt.Errorf("weights: %v", err)
		}
		defer f.Close()
		w = wire.NewWriter(f, false)
	}
	enc := wire.Encoder{Extent: func(t *ir.Tensor) (*wirepb.Extent, error) {
		if x, ok := m.Unchanged(t); ok {
			return x, nil
		}
		if w == nil {
			return nil, errors.New("the host gave no file for weights")
		}
		return w.Write(t)
	}}
	pg, err := enc.Graph(g)
	if err != nil {
		return nil, fmt.Errorf("encoding the result: %v", err)
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	return &wirepb.RunResponse{Graph: pg, Stats: st.m}, nil
}

// options decodes the step's values, fills defaults the host left out and
// attaches the per-node values.
func (s *server) options(req *wirepb.RunRequest, g *ir.Graph) (Options, error) {
	vals, err := wire.OptionsFromProto(req.Options)
	if err != nil {
		return Options{}, err
	}
	for _, o := range s.opts {
		if _, ok := vals[o.Name]; !ok && o.Default != nil {
			vals[o.Name] = o.Default
		}
	}
	opts := Options{values: vals, perNode: map[*ir.Node]passes.Options{}}
	for _, no := range req.NodeOptions {
		if no.Node < 0 || int(no.Node) >= len(g.Nodes) {
			return Options{}, fmt.Errorf("per-node options for node %d of %d", no.Node, len(g.Nodes))
		}
		over, err := wire.OptionsFromProto(no.Options)
		if err != nil {
			return Options{}, fmt.Errorf("node %s: %v", g.Nodes[no.Node].Name, err)
		}
		merged := make(passes.Options, len(vals))
		for k, v := range vals {
			merged[k] = v
		}
		for k, v := range over {
			merged[k] = v
		}
		opts.perNode[g.Nodes[no.Node]] = merged
	}
	return opts, nil
}

// call runs the pass, turning a panic into an error so that one bad input
// costs the step, not the plugin process.
func (s *server) call(ctx context.Context, g *ir.Graph, opts Options) (err error) {
	defer func() {
		if r := recover(); r != nil {
			fmt.Fprintf(os.Stderr, "panic in pass %s: %v\n%s", s.p.Name, r, debug.Stack())
			err = fmt.Errorf("panic: %v", r)
		}
	}()
	return s.p.Run(ctx, g, opts)
}

// stats are a Run's counters.
type stats struct {
	mu sync.Mutex
	m  map[string]int64
}

func (s *stats) add(stat string, n int) {
	s.mu.Lock()
	s.m[stat] += int64(n)
	s.mu.Unlock()
}
