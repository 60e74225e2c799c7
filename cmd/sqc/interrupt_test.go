package main

import (
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sqc-project/sqc/internal/atomicfile"
	"github.com/sqc-project/sqc/internal/dataset"
	"github.com/sqc-project/sqc/internal/zoo"
	"github.com/sqc-project/sqc/ir"
	"github.com/sqc-project/sqc/passes/calibrate"
)

// These tests start the sqc binary (the test binary under the name sqc, as
// the scripts run it), interrupt it with SIGINT and look at the output
// folder: sqc must exit with status 130 and leave no file behind, neither a
// partial output nor the temporary file it was writing.

// startSqc starts sqc with args; the caller waits for it.
func startSqc(t *testing.T, args ...string) *exec.Cmd {
	t.Helper()
	bin, err := exec.LookPath("sqc")
	if err != nil {
		t.Fatalf("sqc is not on PATH (TestMain puts it there): %v", err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Stderr = &strings.Builder{}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd
}

// waitInterrupted waits for cmd and requires the exit status of SIGINT.
func waitInterrupted(t *testing.T, cmd *exec.Cmd) {
	t.Helper()
	err := cmd.Wait()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 130 {
		t.Fatalf("sqc %s: %v, want exit status 130 after SIGINT; stderr:\n%s", strings.Join(cmd.Args[1:], " "), err, cmd.Stderr)
	}
}

// files lists the names in dir.
func files(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// A compile interrupted while it calibrates, and one interrupted while it
// writes its output (the moment the temporary file appears), leave the
// output folder empty.
func TestInterruptCompile(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and compiles a ResNet-18")
	}
	dir := t.TempDir()
	model := filepath.Join(dir, "resnet18.onnx")
	b, err := zoo.ResNet(zoo.ResNetConfig{Depth: 18, Width: 64, Size: 64, Classes: 1000, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.WriteFile(model); err != nil {
		t.Fatal(err)
	}
	t.Run("calibrating", func(t *testing.T) {
		// 256 images of 64×64: several CPU-seconds of calibration (about
		// 40 images/s on two cores), so that one second in, the compile is
		// still far from its output.
		calib := filepath.Join(dir, "calib.npy")
		x := ir.NewTensor(ir.Float32, 256, 3, 64, 64)
		for i := range x.Float32s() {
			x.Float32s()[i] = float32(i%251) / 251
		}
		if err := atomicfile.Write(calib, func(w io.Writer) error { return dataset.WriteNpy(w, x) }); err != nil {
			t.Fatal(err)
		}
		out := t.TempDir()
		cmd := startSqc(t, "compile", model, "-r", "dense-int8.sqr", "--calib-data", calib, "-o", filepath.Join(out, "out.sqe"), "-M", filepath.Join(out, "out.d"))
		time.Sleep(time.Second)
		cmd.Process.Signal(syscall.SIGINT)
		waitInterrupted(t, cmd)
		if left := files(t, out); len(left) > 0 {
			t.Errorf("an interrupted compile left %v", left)
		}
	})
	// .sqir keeps the 47 MB of weights as text: a write long enough to
	// interrupt in the middle.
	t.Run("writing", func(t *testing.T) {
		out := t.TempDir()
		cmd := startSqc(t, "compile", model, "-r", "graph.sqr", "-o", filepath.Join(out, "out.sqir"))
		deadline := time.Now().Add(2 * time.Minute)
		// The first file may be the output check's probe, which lives for
		// microseconds: wait for the write's temporary file itself.
		writing := func() bool {
			for _, f := range files(t, out) {
				if strings.HasPrefix(f, ".out.sqir.tmp") {
					return true
				}
			}
			return false
		}
		for !writing() {
			if time.Now().After(deadline) {
				cmd.Process.Kill()
				t.Fatal("no temporary output file appeared within 2 minutes")
			}
			time.Sleep(time.Millisecond)
		}
		seen := files(t, out)
		cmd.Process.Signal(syscall.SIGINT)
		if !strings.HasPrefix(seen[0], ".out.sqir.tmp") {
			t.Fatalf("the output folder holds %v, want the temporary file of the write in progress", seen)
		}
		waitInterrupted(t, cmd)
		if left := files(t, out); len(left) > 0 {
			t.Errorf("a compile interrupted while writing (%s) left %v", seen[0], left)
		}
	})
}

// sqc eval interrupted while it calibrates or classifies leaves no file: its
// recipe's calibration cache is either not written or whole.
func TestInterruptEval(t *testing.T) {
	if testing.Short() {
		t.Skip("evaluates MNIST")
	}
	shared := filepath.Join("..", "..", "..", "shared")
	mnistDir := filepath.Join(shared, "data", "mnist")
	if _, err := os.Stat(mnistDir); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true but the shared test data is missing: %v", err)
		}
		t.Skip("needs ../shared")
	}
	for _, after := range []time.Duration{300 * time.Millisecond, 1500 * time.Millisecond} {
		t.Run(after.String(), func(t *testing.T) {
			out := t.TempDir()
			cache := filepath.Join(out, "calib.cache")
			recipe := filepath.Join(t.TempDir(), "cached.sqr")
			src := "base \"dense-int8.sqr\"\ncalibrate { method = max; cache = \"" + cache + "\" }\n"
			if err := os.WriteFile(recipe, []byte(src), 0o644); err != nil {
				t.Fatal(err)
			}
			cmd := startSqc(t, "eval", filepath.Join(shared, "models", "mnist-8.onnx"),
				"--images", filepath.Join(mnistDir, "t10k-images-idx3-ubyte.gz"), "--labels", filepath.Join(mnistDir, "t10k-labels-idx1-ubyte.gz"),
				"-r", recipe, "--calib-images", filepath.Join(mnistDir, "train-images-idx3-ubyte.gz"), "--calib-count", "4096")
			time.Sleep(after)
			cmd.Process.Signal(syscall.SIGINT)
			waitInterrupted(t, cmd)
			left := files(t, out)
			switch {
			case len(left) == 0:
			case len(left) == 1 && left[0] == "calib.cache":
				// Written before the interrupt: it must be whole.
				if _, err := calibrate.ReadCache(cache); err != nil {
					t.Errorf("the calibration cache left behind is not whole: %v", err)
				}
			default:
				t.Errorf("an interrupted eval left %v", left)
			}
		})
	}
}
