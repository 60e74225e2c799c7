package plugins

import (
	"context"
	"errors"
	"fmt"
	"os"
	"reflect"
	"slices"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/sqc-project/sqc/ir"
	"github.com/sqc-project/sqc/passes"
	"github.com/sqc-project/sqc/plugins/internal/wire"
	"github.com/sqc-project/sqc/plugins/internal/wirepb"
)

// run is the Run of a plugin's pass: it sends the graph, waits for the
// result within the step's timeout, checks the result and puts it in place
// of the graph. On any failure the graph is left as it was.
func (p *Plugin) run(c *passes.Context) (any, error) {
	p.runMu.Lock()
	defer p.runMu.Unlock()
	proc, err := p.running()
	if err != nil {
		return nil, err
	}
	timeout := seconds(c.Options.Float(timeoutOption))

	dir, err := workDir()
	if err != nil {
		return nil, fmt.Errorf("plugin %s: %v", p.display, err)
	}
	in, err := os.CreateTemp(dir, "in-*.weights")
	if err != nil {
		return nil, fmt.Errorf("plugin %s: %v", p.display, err)
	}
	defer removeFile(in)
	out, err := os.CreateTemp(dir, "out-*.weights")
	if err != nil {
		return nil, fmt.Errorf("plugin %s: %v", p.display, err)
	}
	defer removeFile(out)

	req, sent, err := p.request(c, in, out.Name())
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	resp, err := proc.rpc.Run(ctx, req)
	if err != nil {
		return nil, p.callError(proc, ctx, err, timeout, "its timeout option")
	}
	g, err := p.result(resp, sent, out)
	if err != nil {
		return nil, err
	}
	if err := sameInterface(c.Graph, g); err != nil {
		return nil, fmt.Errorf("plugin %s %v", p.display, err)
	}
	*c.Graph = *g
	c.Changed()
	for k, v := range resp.Stats {
		c.Count(k, int(v))
	}
	return nil, nil
}

// running returns the plugin's process, starting it again (and checking it
// still serves the same pass) when it is not running.
func (p *Plugin) running() (*process, error) {
	p.mu.Lock()
	proc := p.proc
	p.mu.Unlock()
	if proc != nil && !proc.client.Exited() {
		return proc, nil
	}
	if proc != nil {
		p.forget(proc)
		proc.kill()
	}
	proc, err := p.start()
	if err != nil {
		return nil, err
	}
	pass, err := p.describeWith(proc)
	if err == nil && pass.Name != p.pass.Name {
		err = fmt.Errorf("plugin %s now serves pass %s, not %s", p.display, pass.Name, p.pass.Name)
	}
	if err != nil {
		proc.kill()
		return nil, err
	}
	p.mu.Lock()
	p.proc = proc
	p.mu.Unlock()
	return proc, nil
}

// request encodes the step: the graph, with large constants written to in,
// the options without the host's own, and the per-node values. sent maps
// each extent's offset in "in" to the tensor written there.
func (p *Plugin) request(c *passes.Context, in *os.File, outName string) (*wirepb.RunRequest, map[uint64]*ir.Tensor, error) {
	w := wire.NewWriter(in, true)
	sent := map[uint64]*ir.Tensor{}
	enc := wire.Encoder{Extent: func(t *ir.Tensor) (*wirepb.Extent, error) {
		x, err := w.Write(t)
		if err == nil {
			sent[x.Offset] = t
		}
		return x, err
	}}
	pg, err := enc.Graph(c.Graph)
	if err != nil {
		return nil, nil, fmt.Errorf("plugin %s: sending the graph: %v", p.display, err)
	}
	opts := own(c.Options)
	po, err := wire.OptionsToProto(opts)
	if err != nil {
		return nil, nil, fmt.Errorf("plugin %s: %v", p.display, err)
	}
	req := &wirepb.RunRequest{Graph: pg, Options: po, WeightsOut: outName}
	if w.Size() > 0 {
		req.WeightsIn = in.Name()
	}
	for i, n := range c.Graph.Nodes {
		diff := passes.Options{}
		for k, v := range own(c.OptionsFor(n)) {
			if !sameValue(v, opts[k]) {
				diff[k] = v
			}
		}
		if len(diff) == 0 {
			continue
		}
		pd, err := wire.OptionsToProto(diff)
		if err != nil {
			return nil, nil, fmt.Errorf("plugin %s: node %s: %v", p.display, n.Name, err)
		}
		req.NodeOptions = append(req.NodeOptions, &wirepb.NodeOptions{Node: int32(i), Options: pd})
	}
	return req, sent, nil
}

// own drops the host's options from a step's values.
func own(opts passes.Options) passes.Options {
	out := make(passes.Options, len(opts))
	for k, v := range opts {
		if !reservedOptions[k] {
			out[k] = v
		}
	}
	return out
}

// sameValue compares option values; selectors by their patterns (a compiled
// regexp is not comparable).
func sameValue(a, b any) bool {
	switch x := a.(type) {
	case passes.Selector:
		y, ok := b.(passes.Selector)
		return ok && x.String() == y.String()
	case []string:
		y, ok := b.([]string)
		return ok && slices.Equal(x, y)
	}
	return reflect.TypeOf(a) == reflect.TypeOf(b) && a == b
}

// result decodes and verifies what the plugin returned.
func (p *Plugin) result(resp *wirepb.RunResponse, sent map[uint64]*ir.Tensor, out *os.File) (*ir.Graph, error) {
	st, err := out.Stat()
	if err != nil {
		return nil, fmt.Errorf("plugin %s: %v", p.display, err)
	}
	reused := map[*ir.Tensor]bool{}
	dec := wire.Decoder{Extent: func(dt ir.DType, n int, x *wirepb.Extent) (any, error) {
		if !x.Input {
			return wire.ReadExtent(out, st.Size(), dt, n, x)
		}
		t := sent[x.Offset]
		if t == nil {
			return nil, fmt.Errorf("extent at %d of the request's weights is not a tensor sqc sent", x.Offset)
		}
		data, err := wire.Reuse(t, dt, n, reused[t])
		reused[t] = true
		return data, err
	}}
	g, err := dec.Graph(resp.Graph)
	if err != nil {
		return nil, fmt.Errorf("plugin %s returned a malformed graph: %v", p.display, err)
	}
	if err := ir.Verify(g); err != nil {
		return nil, fmt.Errorf("plugin %s returned a graph that does not verify:\n%w", p.display, err)
	}
	return g, nil
}

// sameInterface checks that the graph's inputs and outputs kept their
// names: callers bind data to them by name.
func sameInterface(before, after *ir.Graph) error {
	names := func(vs []*ir.Value) []string {
		out := make([]string, len(vs))
		for i, v := range vs {
			out[i] = v.Name
		}
		return out
	}
	if a, b := names(before.Inputs), names(after.Inputs); !slices.Equal(a, b) {
		return fmt.Errorf("changed the graph's inputs from (%s) to (%s)", strings.Join(a, ", "), strings.Join(b, ", "))
	}
	if a, b := names(before.Outputs), names(after.Outputs); !slices.Equal(a, b) {
		return fmt.Errorf("changed the graph's outputs from (%s) to (%s)", strings.Join(a, ", "), strings.Join(b, ", "))
	}
	return nil
}

// callError explains a failed call: a timeout (the process is killed), a
// crash (the process is gone), or an error the plugin returned.
func (p *Plugin) callError(proc *process, ctx context.Context, err error, timeout time.Duration, limit string) error {
	// The plugin's gRPC server enforces the deadline too, and its reset of
	// the stream can arrive a moment before the host's own context expires;
	// a plugin that honours ctx answers with its error at that moment.
	// Either way the step ran out of time.
	dl, _ := ctx.Deadline()
	if proc.stopped.Load() {
		return fmt.Errorf("plugin %s was stopped while it ran (sqc is shutting down)", p.display)
	}
	if errors.Is(ctx.Err(), context.DeadlineExceeded) || time.Until(dl) < deadlineSlack {
		proc.kill()
		p.forget(proc)
		return fmt.Errorf("plugin %s did not answer within %s (%s); it was stopped", p.display, formatSeconds(timeout), limit)
	}
	code := status.Code(err)
	if code == codes.Unavailable || code == codes.Canceled || code == codes.Internal {
		// The connection broke: the process died, or is about to be seen
		// dead.
		if state := proc.exitState(crashWait); state != "" {
			p.forget(proc)
			msg := fmt.Sprintf("plugin %s crashed (%s)", p.display, state)
			if why := proc.out.lastWords(); why != "" {
				msg += ": " + why
			}
			proc.kill() // reap go-plugin's goroutines
			return errors.New(msg)
		}
		proc.kill()
		p.forget(proc)
		return fmt.Errorf("plugin %s: lost the connection (%v); it was stopped", p.display, status.Convert(err).Message())
	}
	return fmt.Errorf("plugin %s: %s", p.display, status.Convert(err).Message())
}

// crashWait is how long a broken connection waits for the plugin's
// process to be seen gone before it is called a lost connection rather
// than a crash: generous, since a loaded machine can take seconds to
// schedule the reaper, and only a failing step ever waits.
const crashWait = 15 * time.Second

// deadlineSlack is how close to its deadline a failed call counts as one
// that ran out of time.
const deadlineSlack = 50 * time.Millisecond

// forget drops a dead process, so that the next step starts a new one.
func (p *Plugin) forget(proc *process) {
	p.mu.Lock()
	if p.proc == proc {
		p.proc = nil
	}
	p.mu.Unlock()
}

// The host's temporary directory for weights files, created on first use
// (mode 0700: the files hold the user's model) and removed by Shutdown.
var (
	workMu  sync.Mutex
	workPth string
)

func workDir() (string, error) {
	workMu.Lock()
	defer workMu.Unlock()
	if workPth != "" {
		if _, err := os.Stat(workPth); err == nil {
			return workPth, nil
		}
	}
	d, err := os.MkdirTemp("", "sqc-plugins-")
	if err != nil {
		return "", err
	}
	workPth = d
	return d, nil
}

func removeWorkDir() {
	workMu.Lock()
	defer workMu.Unlock()
	if workPth != "" {
		os.RemoveAll(workPth)
		workPth = ""
	}
}

// removeFile closes and removes a weights file.
func removeFile(f *os.File) {
	f.Close()
	os.Remove(f.Name())
}
