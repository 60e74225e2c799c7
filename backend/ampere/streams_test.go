package ampere

import (
	"slices"
	"testing"

	"github.com/sqc-project/sqc/backend/ampere/engine"
)

// happensBefore returns, for each step, the steps the plan finishes before
// it starts: the earlier steps of its stream, the steps it waits for, and
// everything those finished first.
func happensBefore(p streamPlan) [][]bool {
	n := len(p.stream)
	before := make([][]bool, n)
	last := map[int]int{} // each stream's latest step so far
	add := func(j, i int) {
		before[j][i] = true
		for k, b := range before[i] {
			before[j][k] = before[j][k] || b
		}
	}
	for j := range n {
		before[j] = make([]bool, n)
		if i, ok := last[p.stream[j]]; ok {
			add(j, i)
		}
		for _, i := range p.waits[j] {
			if i >= j {
				return nil // a wait on a later step: not a plan
			}
			add(j, i)
		}
		last[p.stream[j]] = j
	}
	return before
}

// conflicts lists the pairs of steps (i < j) that touch one buffer, one of
// them writing it: the pairs a plan must order.
func conflicts(e *engine.Engine) [][2]int {
	root := bufferRoots(e)
	touch := func(s *engine.Step) (all, writes map[string]bool) {
		all, writes = map[string]bool{}, map[string]bool{}
		for _, a := range s.Args {
			if b, ok := a.V.(*engine.Arg_Buffer); ok {
				all[root(b.Buffer)] = true
			}
		}
		for _, w := range s.Writes {
			writes[root(w)], all[root(w)] = true, true
		}
		return all, writes
	}
	var out [][2]int
	for j, sj := range e.Steps {
		aj, wj := touch(sj)
		for i := range j {
			ai, wi := touch(e.Steps[i])
			for r := range aj {
				if ai[r] && (wi[r] || wj[r]) {
					out = append(out, [2]int{i, j})
					break
				}
			}
		}
	}
	return out
}

// checkPlan fails t unless the plan orders every conflicting pair.
func checkPlan(t *testing.T, e *engine.Engine, p streamPlan) {
	t.Helper()
	before := happensBefore(p)
	if before == nil {
		t.Fatalf("a step waits for a later one: %v", p.waits)
	}
	for _, c := range conflicts(e) {
		if !before[c[1]][c[0]] {
			t.Errorf("steps %d (%s) and %d (%s) touch one buffer and may run at once (streams %d, %d)",
				c[0], e.Steps[c[0]].Node, c[1], e.Steps[c[1]].Node, p.stream[c[0]], p.stream[c[1]])
		}
	}
	for i, rec := range p.record {
		waited := false
		for _, w := range p.waits {
			waited = waited || slices.Contains(w, i)
		}
		if rec != waited {
			t.Errorf("step %d records an event: %v, is waited for: %v", i, rec, waited)
		}
	}
}

func stepIndex(t *testing.T, e *engine.Engine, node string) int {
	t.Helper()
	for i, s := range e.Steps {
		if s.Node == node {
			return i
		}
	}
	t.Fatalf("no step of node %s", node)
	return -1
}

// TestStreamsResNetMini plans the example's steps on streams: block3's
// 1×1 shortcut reads only block2's output, so it runs beside block3.1.conv
// on a second stream, and block3.2.conv, which adds the shortcut's output,
// waits for it; every pair of steps that touch one buffer, one writing it,
// is ordered.
func TestStreamsResNetMini(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts PlanOptions
	}{{"throughput", PlanOptions{}}, {"latency", PlanOptions{OptBatch: 1}}} {
		t.Run(tc.name, func(t *testing.T) {
			e, _ := miniPlan(t, tc.opts)
			if !e.StepWrites {
				t.Fatal("the planner did not say what each step writes")
			}
			p := planStreams(e, DefaultStreams)
			checkPlan(t, e, p)
			conv1, short, conv2 := stepIndex(t, e, "block3.1.conv"), stepIndex(t, e, "block3.shortcut.conv"), stepIndex(t, e, "block3.2.conv")
			if p.streams != 2 || p.stream[conv1] == p.stream[short] {
				t.Errorf("%d streams, block3.1.conv on %d, block3.shortcut.conv on %d: want 2, the two apart", p.streams, p.stream[conv1], p.stream[short])
			}
			other := conv1
			if p.stream[conv2] == p.stream[conv1] {
				other = short
			}
			if !slices.Contains(p.waits[conv2], other) {
				t.Errorf("block3.2.conv (stream %d) waits for %v, want step %d", p.stream[conv2], p.waits[conv2], other)
			}
			for i, s := range e.Steps {
				if i > 0 && i != short && i != conv1 && p.stream[i] != p.stream[i-1] && p.stream[i] != p.stream[conv2] {
					t.Errorf("step %d (%s) on stream %d: only the shortcut branches off", i, s.Node, p.stream[i])
				}
			}
			// The shortcut only reads block2's output: its one write is its
			// own output.
			if w := e.Steps[short].Writes; len(w) != 1 || w[0] != "block3.shortcut.conv.out.q" {
				t.Errorf("block3.shortcut.conv writes %v, want its output only", w)
			}

			// The check can fail: without block3.2.conv's waits, its read
			// of the branch it does not continue is unordered.
			broken := p
			broken.waits = slices.Clone(p.waits)
			broken.waits[conv2] = nil
			if before := happensBefore(broken); before[conv2][other] {
				t.Errorf("step %d still ordered after %d without the wait", conv2, other)
			}

			// One stream, or an engine from before Step.writes: every step
			// in order on the runtime's stream.
			for _, q := range []streamPlan{planStreams(e, 1), planStreams(&engine.Engine{Buffers: e.Buffers, Steps: e.Steps}, DefaultStreams)} {
				if q.streams != 1 || slices.Max(q.stream) != 0 || slices.ContainsFunc(q.waits, func(w []int) bool { return len(w) > 0 }) {
					t.Errorf("single-stream plan %+v", q)
				}
				checkPlan(t, e, q)
			}
		})
	}
}

// TestStreamsLimit plans steps that are all independent (each writes its
// own buffer from the input) on at most 3 streams: the fourth and later
// go to the stream idle longest, and a last step reading every output
// waits for the other streams.
func TestStreamsLimit(t *testing.T) {
	e := &engine.Engine{StepWrites: true, Buffers: []*engine.Buffer{{Name: "x"}}}
	var sink []*engine.Arg
	for i := range 7 {
		name := string(rune('a' + i))
		e.Buffers = append(e.Buffers, &engine.Buffer{Name: name})
		e.Steps = append(e.Steps, &engine.Step{Node: name, Writes: []string{name}, Args: []*engine.Arg{bufArg(&engine.Buffer{Name: "x"}), bufArg(&engine.Buffer{Name: name})}})
		sink = append(sink, bufArg(&engine.Buffer{Name: name}))
	}
	e.Buffers = append(e.Buffers, &engine.Buffer{Name: "y"}, &engine.Buffer{Name: "v", AliasOf: "y"})
	e.Steps = append(e.Steps, &engine.Step{Node: "sink", Writes: []string{"v"}, Args: append(sink, bufArg(&engine.Buffer{Name: "v"}))})
	// A step writing y in place through its view v: after the sink.
	e.Steps = append(e.Steps, &engine.Step{Node: "inplace", Writes: []string{"y"}, Args: []*engine.Arg{bufArg(&engine.Buffer{Name: "y"})}})
	p := planStreams(e, 3)
	checkPlan(t, e, p)
	if want := []int{0, 1, 2, 0, 1, 2, 0}; !slices.Equal(p.stream[:7], want) {
		t.Errorf("streams %v, want %v", p.stream[:7], want)
	}
	if p.streams != 3 || len(p.waits[7]) != 2 {
		t.Errorf("%d streams, the sink waits for %v: want 3 streams, 2 waits", p.streams, p.waits[7])
	}
	if p.stream[8] != p.stream[7] {
		t.Errorf("the in-place step runs on stream %d, the sink on %d", p.stream[8], p.stream[7])
	}
}

// TestWritesOfAChain: in a data-movement chain (ShuffleNet's shuffle and
// Slice, then the channel Pad that pad-channels puts before the next
// convolution) the Slice's gather is planned while the Pad is, and is
// named after the Slice; its writes are the Slice's: its output (they once
// were the Pad's reading: the Slice's input). The simulation fails a step
// that changes a buffer its writes do not name.
func TestWritesOfAChain(t *testing.T) {
	src := `graph "g" (%x: f32[N,8,4,4]) -> (%y) {
  const %s: i64[5] = [0, 2, 4, 4, 4]
  const %st: i64[1] = [4]
  const %en: i64[1] = [8]
  const %ax: i64[1] = [1]
  const %back: i64[4] = [0, 8, 4, 4]
  %r: f32[N,2,4,4,4] = Reshape "view" (%x, %s)
  %t: f32[N,4,2,4,4] = Transpose "shuffle" (%r) {perm = [0, 2, 1, 3, 4]}
  %u: f32[N,8,4,4] = Reshape "back" (%t, %back)
  %h: f32[N,4,4,4] = Slice "half" (%u, %st, %en, %ax)
  const %pads: i64[8] = [0, 0, 0, 0, 0, 4, 0, 0]
  %p: f32[N,8,4,4] = Pad "pad" (%h, %pads)
  %y: f32[N,8,4,4] = Relu "relu" (%p)
}`
	g, e := planText(t, src)
	checkPlan(t, e, planStreams(e, DefaultStreams))
	simulateEqualsRef(t, g, e, 2, 7, 8)
}
