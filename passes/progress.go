package passes

// Progress receives the progress of long-running work (calibration,
// SparseGPT pruning) so that a tool can show it: the passes count, the tool
// renders (a bar on a terminal, periodic lines in a log, nothing when
// asked to be quiet). Implementations must be safe for concurrent use.
type Progress interface {
	// Start begins a task: what it is ("calibrate"), the unit it counts
	// ("samples") and how many units it will take (0 when unknown).
	Start(what, unit string, total int) Task
}

// Task is one piece of work being reported.
type Task interface {
	// Add records n more units done.
	Add(n int)
	// End finishes the task; ok is false when it failed.
	End(ok bool)
}

// Progress returns where the pass reports progress: the manager's
// Progress, or one that discards everything.
func (c *Context) Progress() Progress {
	if c.m != nil && c.m.m.Progress != nil {
		return c.m.m.Progress
	}
	return NoProgress
}

// NoProgress discards all progress.
var NoProgress Progress = noProgress{}

type noProgress struct{}

func (noProgress) Start(string, string, int) Task { return noProgress{} }
func (noProgress) Add(int)                        {}
func (noProgress) End(bool)                       {}
