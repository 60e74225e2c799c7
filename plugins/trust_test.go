package plugins

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sqc-project/sqc/ir/sqir"
)

// conv is a small graph with a conv, for the plugins that misbehave.
const conv = `graph "g" (%x: f32[1,4,3,3]) -> (%y) {
  const %w: f32[2,4,1,1] = [1, 2, 3, 4, 5, 6, 7, 8]
  %y: f32[1,2,3,3] = Conv "conv1" (%x, %w, _) {kernel_shape = [1, 1]}
}
`

// TestMisbehaving runs plugins that fail in every way the host must
// survive: each gives an error naming the plugin, leaves the graph as it
// was, and leaves no process behind.
func TestMisbehaving(t *testing.T) {
	for _, c := range []struct {
		mode string
		// load is set when loading fails; else the step does.
		load    bool
		timeout string
		want    string // a regexp; PLUGIN stands for the plugin's path
	}{
		{mode: "garbage-stdout", load: true, want: `^plugin PLUGIN wrote "hello from a chatty plugin" to standard output where sqc expects the plugin handshake \(is it an sqc plugin\? a plugin must not print to standard output before sqcplugin.Serve\)$`},
		{mode: "exit-early", load: true, want: `^plugin PLUGIN exited before its handshake: cannot start: no licence for this machine$`},
		{mode: "protocol-2", load: true, want: `^plugin PLUGIN speaks sqc plugin protocol 2, but this sqc speaks protocol 1: rebuild the plugin with this sqc's plugins/sqcplugin package$`},
		{mode: "bad-option", load: true, want: `^plugin PLUGIN exited before its handshake: sqcplugin: pass test-bad-option: option name timeout is reserved for sqc's limit on a plugin step's time$`},
		{mode: "crash", want: `^pass test-crash: plugin PLUGIN crashed \(exit status 3\): fatal: out of cheese$`},
		{mode: "panic", want: `^pass test-panic: plugin PLUGIN crashed \(exit status 2\): panic: boom in a goroutine$`},
		{mode: "panic-run", want: `^pass test-panic-run: plugin PLUGIN: panic: boom in Run$`},
		{mode: "hang", timeout: "0.3", want: `^pass test-hang: plugin PLUGIN did not answer within 0.3 s \(its timeout option\); it was stopped$`},
		{mode: "slow", timeout: "0.2", want: `^pass test-slow: plugin PLUGIN did not answer within 0.2 s \(its timeout option\); it was stopped$`},
		{mode: "invalid", want: `(?s)^pass test-invalid: plugin PLUGIN returned a graph that does not verify:\n.*w.*2:4`},
		{mode: "dangling", want: `(?s)^pass test-dangling: plugin PLUGIN returned a graph that does not verify:\ngraph output "y" is not produced by any node or input$`},
		{mode: "rename-output", want: `^pass test-rename-output: plugin PLUGIN changed the graph's outputs from \(y\) to \(y.renamed\)$`},
		{mode: "error", want: `^pass test-error: plugin PLUGIN: layer conv1: no luck today$`},
	} {
		t.Run(c.mode, func(t *testing.T) {
			path := testPass(t, c.mode)
			want := regexp.MustCompile(strings.ReplaceAll(c.want, "PLUGIN", regexp.QuoteMeta(path)))
			p, err := Load(path, testConfig())
			if c.load {
				if err == nil || !want.MatchString(err.Error()) {
					t.Fatalf("load: got %v, want %s", err, want)
				}
				noChildren(t)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			g := parse(t, conv)
			step := p.Pass().Name
			if c.timeout != "" {
				step += "{timeout=" + c.timeout + "}"
			}
			_, err = runSteps(g, step)
			if err == nil || !want.MatchString(err.Error()) {
				t.Fatalf("run: got %v, want %s", err, want)
			}
			if got := sqir.Format(g); got != sqir.Format(parse(t, conv)) {
				t.Errorf("the graph changed:\n%s", got)
			}
			switch c.mode {
			case "crash", "panic", "hang", "slow":
				// Gone, or killed by the host at once.
			default:
				// The plugin answered: a bad answer costs the step, not
				// the process, which Shutdown stops.
				if p.proc == nil || p.proc.client.Exited() {
					t.Error("the plugin's process is gone after a bad answer")
				}
				Shutdown()
			}
			noChildren(t)
			if !gone(t, "sleep", "987") {
				t.Errorf("the hung plugin's child is still running: %v", withCmdline(t, "sleep", "987"))
			}
		})
	}
}

// TestRestartAfterCrash checks that a step after a crash starts the plugin
// again rather than talking to a dead process.
func TestRestartAfterCrash(t *testing.T) {
	p, err := Load(testPass(t, "crash"), testConfig())
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		_, err := runSteps(parse(t, conv), p.Pass().Name)
		if err == nil || !strings.Contains(err.Error(), "crashed (exit status 3)") {
			t.Fatalf("run %d: got %v, want a crash", i+1, err)
		}
	}
	noChildren(t)
}

func TestStartTimeout(t *testing.T) {
	path := testPass(t, "hang-start")
	// The plugin never completes its handshake, so the error can only
	// come from the start timeout: its message, which names the 300ms
	// set here and not the default, shows that the setting applied.
	_, err := Load(path, Config{StartTimeout: 300 * time.Millisecond})
	want := fmt.Sprintf("plugin %s did not complete its handshake within 300ms; it was stopped", path)
	if err == nil || err.Error() != want {
		t.Fatalf("got %v, want %s", err, want)
	}
	noChildren(t)
}

// TestNoisy checks that what a plugin prints after its handshake reaches
// the configured output, prefixed, and breaks nothing.
func TestNoisy(t *testing.T) {
	var out syncBuffer
	p, err := Load(testPass(t, "noisy"), Config{Output: &out, StartTimeout: testStartTimeout})
	if err != nil {
		t.Fatal(err)
	}
	g := parse(t, conv)
	if _, err := runSteps(g, p.Pass().Name); err != nil {
		t.Fatal(err)
	}
	if g.Nodes[0].Notes["noisy"] != "was here" {
		t.Error("the step's change did not come back")
	}
	// The plugin's streams reach the host on their own goroutines, after
	// the step's answer at times on a loaded machine: wait for the lines
	// (while the plugin still runs) rather than for a fixed moment.
	for _, line := range []string{"noisy: garbage on stdout during Run\n", "noisy: a line on stderr\n"} {
		if !eventually(func() bool { return strings.Contains(out.String(), line) }) {
			t.Errorf("output %q lacks %q", out.String(), line)
		}
	}
	Shutdown()
	noChildren(t)
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestChecksum(t *testing.T) {
	path2 := testPass(t, "pinned")
	sum, err := fileSum(path2)
	if err != nil {
		t.Fatal(err)
	}
	wrong := strings.Repeat("0", 64)
	_, err = Load(path2, Config{SHA256: wrong, StartTimeout: testStartTimeout})
	want := fmt.Sprintf("plugin %s: the binary's sha256 is %x, but %s is pinned", path2, sum, wrong)
	if err == nil || err.Error() != want {
		t.Errorf("wrong pin: got %v, want %s", err, want)
	}
	_, err = Load(path2, Config{SHA256: "abc", StartTimeout: testStartTimeout})
	if want := fmt.Sprintf(`plugin %s: sha256 "abc": want 64 hexadecimal digits`, path2); err == nil || err.Error() != want {
		t.Errorf("malformed pin: got %v, want %s", err, want)
	}
	p, err := Load(path2, Config{SHA256: hex.EncodeToString(sum), StartTimeout: testStartTimeout})
	if err != nil {
		t.Fatal(err)
	}
	if p.SHA256() != hex.EncodeToString(sum) {
		t.Errorf("pinned sha256 %q, want %x", p.SHA256(), sum)
	}
	Shutdown()
	noChildren(t)
}

func copyFile(from, to string) error {
	b, err := readFile(from)
	if err != nil {
		return err
	}
	return writeExec(to, b)
}

// TestShutdownDuringStep stops a plugin in the middle of a step, as an
// interrupt does: at once, with the process it started, and the step says
// why it failed.
func TestShutdownDuringStep(t *testing.T) {
	path := testPass(t, "hang")
	p, err := Load(path, testConfig())
	if err != nil {
		t.Fatal(err)
	}
	g := parse(t, conv)
	done := make(chan error, 1)
	go func() {
		_, err := runSteps(g, p.Pass().Name)
		done <- err
	}()
	// Wait until the plugin has started its child: the step is under way.
	if !eventually(func() bool { return len(withCmdline(t, "sleep", "987")) > 0 }) {
		t.Fatal("the step did not start")
	}
	Shutdown()
	err = <-done
	// Shutdown's own message, not the step timeout's (which would say
	// "did not answer within"), shows that the step was stopped by it.
	if want := fmt.Sprintf("pass test-hang: plugin %s was stopped while it ran (sqc is shutting down)", path); err == nil || err.Error() != want {
		t.Errorf("got %v, want %s", err, want)
	}
	noChildren(t)
	if !gone(t, "sleep", "987") {
		t.Errorf("the plugin's child is still running: %v", withCmdline(t, "sleep", "987"))
	}
}
