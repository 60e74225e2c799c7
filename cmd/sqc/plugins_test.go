package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
)

// TestPluginScripts runs the CLI tests of plugins, testdata/plugins, with
// the example plugins and the tests' misbehaving plugin (testpass) built
// into $PLUGINS. Every sqc the scripts run must stop its plugins before it
// exits: afterwards no process of a plugin binary may be left.
func TestPluginScripts(t *testing.T) {
	repo, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	build := exec.Command("go", "build", "-o", dir+string(filepath.Separator),
		"./plugins/examples/fold-identity", "./plugins/examples/sensitivity-prune", "./plugins/internal/testplugins/testpass")
	build.Dir = repo
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the plugins: %v\n%s", err, out)
	}
	testscript.Run(t, testscript.Params{
		Dir: filepath.Join("testdata", "plugins"),
		Setup: func(env *testscript.Env) error {
			env.Setenv("REPO", repo)
			env.Setenv("PLUGINS", dir)
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"waitproc": cmdWaitProc,
		},
	})
	if left := pluginProcesses(t, dir); len(left) > 0 {
		t.Errorf("plugin processes left behind: %v", left)
	}
}

// cmdWaitProc implements "waitproc ARG...": it waits (up to 10 s) until a
// process runs with the command line ARG...
func cmdWaitProc(ts *testscript.TestScript, neg bool, args []string) {
	want := strings.Join(args, "\x00") + "\x00"
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		entries, err := os.ReadDir("/proc")
		if err != nil {
			ts.Fatalf("no /proc: %v", err)
		}
		for _, e := range entries {
			if b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline")); err == nil && string(b) == want {
				return
			}
		}
	}
	ts.Fatalf("no process %q started", strings.Join(args, " "))
}

// pluginProcesses lists the processes running a binary of dir, and the
// child the testpass plugin's hang mode starts ("sleep 987").
func pluginProcesses(t *testing.T, dir string) []string {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Log("no /proc: processes not checked")
		return nil
	}
	var out []string
	for _, e := range entries {
		pid := e.Name()
		if pid[0] < '0' || pid[0] > '9' {
			continue
		}
		exe, _ := os.Readlink(filepath.Join("/proc", pid, "exe"))
		cmdline, _ := os.ReadFile(filepath.Join("/proc", pid, "cmdline"))
		if strings.HasPrefix(exe, dir+string(filepath.Separator)) || string(cmdline) == "sleep\x00987\x00" {
			out = append(out, pid+" "+strings.ReplaceAll(string(cmdline), "\x00", " "))
		}
	}
	return out
}
