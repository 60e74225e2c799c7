package main

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/spf13/cobra"
	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"
	"golang.org/x/term"

	"github.com/sqc-project/sqc/passes"
)

// How progress looks when stderr is not a terminal (a build log, CI): a
// first line once a task has run for progressFirst, then one every
// progressEvery, and a closing line if any was printed. Tests shorten them.
var (
	progressFirst = time.Second
	progressEvery = 10 * time.Second
)

// newProgress returns where a command reports progress: nil with -q (the
// pass manager then shows none), a bar renderer when stderr is a terminal,
// plain periodic lines otherwise.
func newProgress(cmd *cobra.Command) passes.Progress {
	if quiet(cmd) {
		return nil
	}
	w := cmd.ErrOrStderr()
	f, ok := w.(*os.File)
	return &progress{w: w, bars: ok && term.IsTerminal(int(f.Fd()))}
}

// progress renders passes.Progress on w.
type progress struct {
	w    io.Writer
	bars bool
	mu   sync.Mutex // orders the plain lines of concurrent tasks
}

// Start implements passes.Progress.
func (p *progress) Start(what, unit string, total int) passes.Task {
	t := &task{p: p, what: what, unit: unit, total: total, start: time.Now()}
	t.next = t.start.Add(progressFirst)
	if p.bars {
		t.bar = mpb.New(mpb.WithOutput(p.w), mpb.WithWidth(40))
		counters := decor.CountersNoUnit("%d/%d " + unit)
		if total <= 0 {
			counters = decor.CurrentNoUnit("%d " + unit)
		}
		t.b = t.bar.AddBar(int64(total),
			mpb.PrependDecorators(decor.Name(what+" "), counters),
			mpb.AppendDecorators(decor.AverageSpeed(nil, "%.1f/s "),
				decor.OnComplete(decor.AverageETA(decor.ET_STYLE_GO), "done")))
	}
	return t
}

// task is one task being rendered.
type task struct {
	p           *progress
	what, unit  string
	total, done int
	start, next time.Time
	printed     bool
	bar         *mpb.Progress
	b           *mpb.Bar
	mu          sync.Mutex
	ended       bool
}

// Add implements passes.Task.
func (t *task) Add(n int) {
	if t.b != nil {
		t.b.IncrBy(n)
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.done += n
	now := time.Now()
	if now.Before(t.next) || (t.total > 0 && t.done >= t.total) {
		return
	}
	t.next = now.Add(progressEvery)
	el := now.Sub(t.start).Seconds()
	line := fmt.Sprintf("%s: %d", t.what, t.done)
	if t.total > 0 {
		line += fmt.Sprintf("/%d %s (%.0f%%)", t.total, t.unit, 100*float64(t.done)/float64(t.total))
	} else {
		line += " " + t.unit
	}
	if el > 0 {
		rate := float64(t.done) / el
		line += fmt.Sprintf(", %.1f %s/s", rate, t.unit)
		if t.total > 0 && rate > 0 {
			left := time.Duration(float64(t.total-t.done) / rate * float64(time.Second)).Round(time.Second)
			line += fmt.Sprintf(", about %v left", left)
		}
	}
	t.p.mu.Lock()
	fmt.Fprintln(t.p.w, line)
	t.p.mu.Unlock()
	t.printed = true
}

// End implements passes.Task.
func (t *task) End(ok bool) {
	if t.b != nil {
		if ok {
			// The total may have been an estimate; completing the bar is
			// what lets Wait return.
			t.b.SetTotal(-1, true)
		} else {
			t.b.Abort(false)
		}
		t.bar.Wait()
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.ended {
		return
	}
	t.ended = true
	if ok && t.printed {
		el := time.Since(t.start)
		t.p.mu.Lock()
		fmt.Fprintf(t.p.w, "%s: %d %s in %v\n", t.what, t.done, t.unit, el.Round(time.Millisecond))
		t.p.mu.Unlock()
	}
}
