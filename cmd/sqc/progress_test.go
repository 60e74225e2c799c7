package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// fastProgress makes the plain progress lines come at every step.
func fastProgress(t *testing.T) {
	first, every := progressFirst, progressEvery
	progressFirst, progressEvery = 0, 0
	t.Cleanup(func() { progressFirst, progressEvery = first, every })
}

// Long steps report progress on stderr, as plain lines when it is not a
// terminal, and -q silences them.
func TestCompileProgress(t *testing.T) {
	fastProgress(t)
	dir := t.TempDir()
	recipe := filepath.Join(dir, "gpt.sqr")
	src := "base \"sparse-int8.sqr\"\nprune { method = sparsegpt; min-out-channels = 16; out-channel-multiple = 16; samples = 8 }\ncalibrate { samples = 8 }\n"
	if err := os.WriteFile(recipe, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{"compile", "-r", recipe, filepath.Join(example, "resnet-mini.onnx"),
		"--calib-data", filepath.Join(example, "resnet-mini-calib.npy"), "-o", filepath.Join(dir, "mini.sqir")}
	var stdout, stderr bytes.Buffer
	if status := run(args, &stdout, &stderr); status != 0 {
		t.Fatalf("exit %d\n%s", status, stderr.String())
	}
	for _, re := range []string{
		`(?m)^prune \(sparsegpt\): 1/7 layers \(14%\), [0-9.]+ layers/s, about \S+ left$`,
		`(?m)^prune \(sparsegpt\): 7 layers in \S+$`,
		`(?m)^calibrate: 4/8 samples \(50%\), `,
		`(?m)^calibrate: 8 samples in \S+$`,
	} {
		if !regexp.MustCompile(re).MatchString(stderr.String()) {
			t.Errorf("stderr has no match for %s:\n%s", re, stderr.String())
		}
	}
	stderr.Reset()
	if status := run(append([]string{"-q"}, args...), &stdout, &stderr); status != 0 || stderr.Len() != 0 {
		t.Errorf("-q: exit %d, stderr:\n%s", status, stderr.String())
	}
}

// The plain renderer waits progressFirst before its first line, so a short
// task prints nothing, and ends with a summary only after lines.
func TestProgressQuietWhenShort(t *testing.T) {
	first, every := progressFirst, progressEvery
	progressFirst, progressEvery = time.Hour, time.Hour
	defer func() { progressFirst, progressEvery = first, every }()
	var out bytes.Buffer
	p := &progress{w: &out}
	task := p.Start("calibrate", "samples", 10)
	for range 10 {
		task.Add(1)
	}
	task.End(true)
	if out.Len() != 0 {
		t.Errorf("a short task printed:\n%s", out.String())
	}
	progressFirst, progressEvery = 0, time.Hour
	task = p.Start("eval (the float model)", "images", 0)
	task.Add(3)
	task.Add(4)
	task.End(true)
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "eval (the float model): 3 images, ") || !strings.HasPrefix(lines[1], "eval (the float model): 7 images in ") {
		t.Errorf("an open-ended task, one line then the summary:\n%s", out.String())
	}
}
