package calibrate

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"
	"golang.org/x/term"
)

// Output receives calibration progress and notes (a cache that did not
// match and is being replaced): a bar when it is a terminal, plain lines
// every PlainEvery otherwise. Tools may point it elsewhere; io.Discard
// silences it. The progress option turns reporting off per pass.
var Output io.Writer = os.Stderr

// PlainEvery is how often a progress line is written when Output is not a
// terminal (logs of CI and build systems).
var PlainEvery = 10 * time.Second

// progress reports samples done out of a total.
type progress struct {
	w           io.Writer
	total, done int
	start, last time.Time
	printed     bool
	p           *mpb.Progress
	bar         *mpb.Bar
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// newProgress starts reporting; w nil reports nothing.
func newProgress(w io.Writer, total int) *progress {
	pr := &progress{w: w, total: total, start: time.Now()}
	pr.last = pr.start
	if w != nil && isTerminal(w) {
		pr.p = mpb.New(mpb.WithOutput(w), mpb.WithWidth(40))
		pr.bar = pr.p.AddBar(int64(total),
			mpb.PrependDecorators(decor.Name("calibrate "), decor.CountersNoUnit("%d/%d samples")),
			mpb.AppendDecorators(decor.AverageSpeed(nil, "%.1f/s "),
				decor.OnComplete(decor.AverageETA(decor.ET_STYLE_GO), "done")))
	}
	return pr
}

// add records n more samples.
func (pr *progress) add(n int) {
	pr.done += n
	switch {
	case pr.bar != nil:
		pr.bar.IncrBy(n)
	case pr.w != nil && time.Since(pr.last) >= PlainEvery && pr.done < pr.total:
		pr.last = time.Now()
		el := pr.last.Sub(pr.start).Seconds()
		rate := float64(pr.done) / el
		left := time.Duration(float64(pr.total-pr.done) / rate * float64(time.Second)).Round(time.Second)
		fmt.Fprintf(pr.w, "calibrate: %d/%d samples (%.0f%%), %.1f samples/s, about %v left\n",
			pr.done, pr.total, 100*float64(pr.done)/float64(pr.total), rate, left)
		pr.printed = true
	}
}

// finish ends the report: the bar completes (or is dropped when ok is
// false), and a summary line follows any plain lines.
func (pr *progress) finish(ok bool, summary string) {
	if pr.bar != nil {
		if ok {
			// Completing the bar (its total may have been an estimate) is
			// what lets Wait return.
			pr.bar.SetTotal(int64(pr.done), true)
		} else {
			pr.bar.Abort(false)
		}
		pr.p.Wait()
	}
	if pr.w != nil && ok && (pr.printed || pr.bar != nil || time.Since(pr.start) >= PlainEvery) {
		fmt.Fprintln(pr.w, summary)
	}
}

// note writes a line of information (not progress) to w.
func note(w io.Writer, format string, args ...any) {
	if w != nil {
		fmt.Fprintf(w, "calibrate: "+format+"\n", args...)
	}
}
