package plugins

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sqc-project/sqc/ir"
	"github.com/sqc-project/sqc/ir/sqir"
	"github.com/sqc-project/sqc/passes"
	_ "github.com/sqc-project/sqc/passes/all" // the built-in passes, for pipelines mixing both
)

// binDir holds the plugins TestMain builds: the examples and testpass.
var binDir string

func TestMain(m *testing.M) {
	os.Exit(func() int {
		flag.Parse()
		dir, err := os.MkdirTemp("", "sqc-plugins-test-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer os.RemoveAll(dir)
		binDir = dir
		start := time.Now()
		cmd := exec.Command("go", "build", "-o", dir+string(filepath.Separator),
			"./examples/drop-notes", "./examples/fold-identity", "./examples/sensitivity-prune", "./internal/testplugins/testpass")
		if out, err := cmd.CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "building the test plugins: %v\n%s", err, out)
			return 1
		}
		if testing.Verbose() {
			fmt.Printf("built the test plugins in %v\n", time.Since(start).Round(time.Millisecond))
		}
		defer Shutdown()
		return m.Run()
	}())
}

// bin returns the path of a plugin TestMain built.
func bin(name string) string { return filepath.Join(binDir, name) }

// testPass returns a plugin script that runs testpass in mode, named mode.
func testPass(t testing.TB, mode string) string {
	t.Helper()
	path := filepath.Join(binDir, mode)
	script := fmt.Sprintf("#!/bin/sh\nSQC_TESTPASS=%s exec %q \"$@\"\n", mode, bin("testpass"))
	if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

// parse reads a graph in the textual form, verified.
func parse(t *testing.T, src string) *ir.Graph {
	t.Helper()
	g, err := sqir.ParseAndVerify("test.sqir", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// runSteps builds a pipeline from the command-line form and runs it.
func runSteps(g *ir.Graph, pipeline string) (*passes.Report, error) {
	specs, err := passes.ParseSpec(pipeline)
	if err != nil {
		return nil, err
	}
	p, err := passes.Build(withTestTimeouts(specs...))
	if err != nil {
		return nil, err
	}
	m := &passes.Manager{VerifyEach: true}
	return m.Run(g, p)
}

// children lists the processes whose parent is this test binary, as
// "pid command".
func children(t *testing.T) []string {
	t.Helper()
	me := os.Getpid()
	var out []string
	for _, pid := range procs(t) {
		stat, err := os.ReadFile(filepath.Join("/proc", pid, "stat"))
		if err != nil {
			continue // gone meanwhile
		}
		// The command, in parentheses, may hold spaces: fields follow the last ')'.
		s := string(stat)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(s[i+1:])
		if len(f) > 1 && f[1] == strconv.Itoa(me) {
			out = append(out, pid+" "+s[strings.IndexByte(s, '(')+1:i]+" "+f[0])
		}
	}
	return out
}

// withCmdline lists the processes whose command line is args.
func withCmdline(t *testing.T, args ...string) []string {
	t.Helper()
	want := strings.Join(args, "\x00") + "\x00"
	var out []string
	for _, pid := range procs(t) {
		if b, err := os.ReadFile(filepath.Join("/proc", pid, "cmdline")); err == nil && string(b) == want {
			out = append(out, pid)
		}
	}
	return out
}

func procs(t *testing.T) []string {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Skip("no /proc to list processes")
	}
	var pids []string
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err == nil {
			pids = append(pids, e.Name())
		}
	}
	return pids
}

// eventually reports whether cond became true within ten minutes, looking
// every 10 ms: for what a loaded machine may take a while to show (a
// plugin's output lines, a killed process's end). A clean run returns at
// the first look; the bound only turns a real failure into one, not a hang,
// and is far past anything a busy machine takes (the tests' own -timeout
// is 30 minutes).
func eventually(cond func() bool) bool {
	for deadline := time.Now().Add(10 * time.Minute); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			return cond()
		}
	}
	return true
}

// gone reports whether the processes whose command line is args have ended,
// waiting for it (eventually): a plugin's child killed with the plugin's
// group is not this test's child, so its end shows when the system has
// scheduled it.
func gone(t *testing.T, args ...string) bool {
	return eventually(func() bool { return len(withCmdline(t, args...)) == 0 })
}

// noChildren fails when a process this test started is still there.
func noChildren(t *testing.T) {
	t.Helper()
	// A process that was killed is reaped by go-plugin's goroutine; a
	// loaded machine can take a while to schedule it, and a leak stays a
	// leak after two minutes.
	if !eventually(func() bool { return len(children(t)) == 0 }) {
		t.Fatalf("processes left behind: %v", children(t))
	}
}

func readFile(path string) ([]byte, error) { return os.ReadFile(path) }

func writeExec(path string, b []byte) error { return os.WriteFile(path, b, 0o755) }

// A test not about time must not fail because the machine is busy: plugins
// get half an hour to start and the timeout option's maximum (a week) to
// answer a step, not the defaults' seconds, so that only go test's own
// -timeout (which prints every goroutine) bounds a hang. The tests of the
// timeouts themselves set their own.
const (
	testStartTimeout = 30 * time.Minute
	testStepTimeout  = float64(maxTimeoutSeconds) // seconds, the timeout option
)

// testConfig is the Config of tests that are not about starting time.
func testConfig() Config { return Config{StartTimeout: testStartTimeout} }

// withTestTimeouts gives every plugin step whose timeout option is unset
// testStepTimeout.
func withTestTimeouts(specs ...passes.StepSpec) []passes.StepSpec {
	for i, s := range specs {
		p := passes.Lookup(s.Name)
		if p == nil || s.Options[timeoutOption] != nil {
			continue
		}
		for _, o := range p.Options {
			if o.Name == timeoutOption {
				opts := map[string]any{timeoutOption: testStepTimeout}
				for k, v := range s.Options {
					opts[k] = v
				}
				specs[i].Options = opts
			}
		}
	}
	return specs
}
