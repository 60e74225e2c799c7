package ampere

import (
	"slices"

	"github.com/sqc-project/sqc/backend/ampere/engine"
)

// DefaultStreams is the most streams an engine's steps run on unless
// OpenOptions.Streams says otherwise: a ResNet's downsampling blocks give
// two branches at a time, an Inception block four.
const DefaultStreams = 4

// streamPlan says where each step of an engine runs: steps that depend on
// none of each other run on streams of their own, so that two small
// launches (a ResNet block's 1×1 projection beside its first 3×3
// convolution, at batch 1) share the GPU instead of taking turns on it.
//
// Step j depends on an earlier step i when they touch one buffer and one
// of them writes it (Step.writes): read after write, write after read,
// write after write. A step runs on the stream of one of the steps it
// depends on whose stream it can continue (the latest step there), else on
// a stream of its own while there are streams left, else on the stream
// idle longest; before it starts it waits for the latest of the steps it
// depends on on each other stream (an event that step records). Stream
// order covers the rest. The split-K workspace is one a stream, so the
// split-K steps of different streams never share it.
type streamPlan struct {
	streams int     // streams used; 1: every step on the runtime's stream
	stream  []int   // each step's stream, 0 the runtime's own
	waits   [][]int // the steps on other streams each step waits for first
	record  []bool  // whether a later step waits for this one (it records an event)
}

// singleStream is the plan of the engines whose steps do not say what they
// write (older files), or that take a host step: every step in order on
// the runtime's stream.
func singleStream(n int) streamPlan {
	return streamPlan{streams: 1, stream: make([]int, n), waits: make([][]int, n), record: make([]bool, n)}
}

// planStreams plans e's steps on at most maxStreams streams.
func planStreams(e *engine.Engine, maxStreams int) streamPlan {
	n := len(e.Steps)
	if maxStreams <= 1 || !e.StepWrites {
		return singleStream(n)
	}
	for _, s := range e.Steps {
		if s.Kernel == HostKernel {
			return singleStream(n)
		}
	}
	deps := stepDeps(e)
	p := singleStream(n)
	p.streams = 0
	tail := make([]int, maxStreams) // each stream's latest step
	// waited[s][t] is the latest step of stream t that stream s has
	// waited for.
	waited := make([][]int, maxStreams)
	for s := range waited {
		tail[s] = -1
		waited[s] = make([]int, maxStreams)
		for t := range waited[s] {
			waited[s][t] = -1
		}
	}
	for j := range n {
		s := -1
		for _, i := range deps[j] { // of the streams j can continue, the lowest
			if t := p.stream[i]; tail[t] == i && (s < 0 || t < s) {
				s = t
			}
		}
		if s < 0 && p.streams < maxStreams {
			s = p.streams
			p.streams++
		}
		if s < 0 { // the stream idle longest
			s = 0
			for t := range p.streams {
				if tail[t] < tail[s] {
					s = t
				}
			}
		}
		p.stream[j] = s
		latest := make([]int, maxStreams) // the latest step j depends on, by other stream
		for t := range latest {
			latest[t] = -1
		}
		for _, i := range deps[j] {
			if t := p.stream[i]; t != s && i > waited[s][t] {
				latest[t] = max(latest[t], i)
			}
		}
		for t, i := range latest {
			if i >= 0 {
				p.waits[j] = append(p.waits[j], i)
				p.record[i] = true
				waited[s][t] = i
			}
		}
		tail[s] = j
	}
	p.streams = max(p.streams, 1)
	return p
}

// stepDeps returns, for each step, the earlier steps it depends on (in
// increasing order): the latest writer of each buffer it touches, and the
// readers since that write of each buffer it writes.
func stepDeps(e *engine.Engine) [][]int {
	root := bufferRoots(e)
	lastWriter := map[string]int{}
	readers := map[string][]int{}
	deps := make([][]int, len(e.Steps))
	for j, s := range e.Steps {
		writes := map[string]bool{}
		for _, w := range s.Writes {
			writes[root(w)] = true
		}
		on := map[int]bool{}
		touched := map[string]bool{}
		for _, a := range s.Args {
			b, ok := a.V.(*engine.Arg_Buffer)
			if !ok {
				continue
			}
			touched[root(b.Buffer)] = true
		}
		for w := range writes {
			touched[w] = true
		}
		for r := range touched {
			if i, ok := lastWriter[r]; ok {
				on[i] = true
			}
			if writes[r] {
				for _, i := range readers[r] {
					on[i] = true
				}
			}
		}
		for r := range touched {
			if writes[r] {
				lastWriter[r] = j
				readers[r] = nil
			} else {
				readers[r] = append(readers[r], j)
			}
		}
		for i := range on {
			deps[j] = append(deps[j], i)
		}
		slices.Sort(deps[j])
	}
	return deps
}

// StreamPlan is the plan Open makes for e with at most maxStreams streams,
// without a GPU (sqc inspect shows it): each step's stream (0 the
// runtime's own), the steps on other streams each waits for first, and
// the number of streams used.
func StreamPlan(e *engine.Engine, maxStreams int) (stream []int, waits [][]int, streams int) {
	p := planStreams(e, maxStreams)
	return p.stream, p.waits, p.streams
}
