package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// Go may fuse x*y + z into one fused multiply-add, rounded once, where the
// CPU has one: on arm64, and on amd64 built with GOAMD64=v3, but not on
// amd64 v1. Float code whose products are not rounded explicitly
// (float32(x*y), float64(x*y)) then computes different scales on different
// hosts, and sqc compile writes a different engine. The two tests below
// check that it does not: one by reading the compiler's output, the other by
// running sqc built for each host.

// fusedInstr matches the fused multiply-add instructions of the compiler's
// assembly listing (-S) for each checked target.
var fusedInstr = map[string]*regexp.Regexp{
	"arm64":    regexp.MustCompile(`\t(FMADD|FMSUB|FNMADD|FNMSUB)[SD]\t`),
	"amd64/v3": regexp.MustCompile(`\tVFN?M(ADD|SUB)\w*\t`),
}

// listingPos is the file:line of an instruction in a -S listing.
var listingPos = regexp.MustCompile(`\((/[^():]+\.go):(\d+)\)`)

// TestNoImplicitFusedMultiplyAdd compiles every package of the module for
// arm64 and for amd64 with GOAMD64=v3 and fails on any fused multiply-add the
// compiler made of a product and an addition in the module's code, unless the
// line calls math.FMA (a fusion meant, the same everywhere) or says that its
// product is exact (an "exact product" comment: then fusion changes nothing).
func TestNoImplicitFusedMultiplyAdd(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: compiling the module twice with assembly listings takes a minute")
	}
	repo, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	targets := map[string][]string{
		"arm64":    {"GOARCH=arm64"},
		"amd64/v3": {"GOARCH=amd64", "GOAMD64=v3"},
	}
	for _, target := range []string{"arm64", "amd64/v3"} {
		t.Run(strings.ReplaceAll(target, "/", "-"), func(t *testing.T) {
			cmd := exec.Command("go", "build", "-gcflags=github.com/sqc-project/sqc/...=-S", "./...")
			cmd.Dir = repo
			cmd.Env = append(os.Environ(), append([]string{"CGO_ENABLED=0", "GOOS=linux"}, targets[target]...)...)
			r, w := io.Pipe()
			cmd.Stdout, cmd.Stderr = w, w
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- cmd.Wait(); w.Close() }()
			sites := map[string]int{} // file:line → fused instructions
			sc := bufio.NewScanner(r)
			sc.Buffer(make([]byte, 1<<20), 1<<24)
			for sc.Scan() {
				line := sc.Text()
				if !fusedInstr[target].MatchString(line) {
					continue
				}
				if m := listingPos.FindStringSubmatch(line); m != nil && strings.HasPrefix(m[1], repo+"/") {
					sites[m[1]+":"+m[2]]++
				}
			}
			if err := sc.Err(); err != nil {
				t.Fatal(err)
			}
			if err := <-done; err != nil {
				t.Fatalf("go build for %s: %v", target, err)
			}
			var bad []string
			for site, n := range sites {
				src, err := sourceLine(site)
				if err != nil {
					t.Fatal(err)
				}
				if strings.Contains(src, "math.FMA(") || strings.Contains(src, "exact product") {
					continue
				}
				rel, _ := filepath.Rel(repo, site)
				bad = append(bad, fmt.Sprintf("%s: %d fused: %s", rel, n, strings.TrimSpace(src)))
			}
			sort.Strings(bad)
			if len(bad) > 0 {
				t.Errorf("%d lines where Go fuses a product with an addition on %s, so results differ from amd64 v1's "+
					"(round the product: float32(x*y) or float64(x*y); or call math.FMA where a fused one is meant):\n%s",
					len(bad), target, strings.Join(bad, "\n"))
			}
		})
	}
}

// sourceLine returns the text of a file:line.
func sourceLine(site string) (string, error) {
	i := strings.LastIndexByte(site, ':')
	n, err := strconv.Atoi(site[i+1:])
	if err != nil {
		return "", err
	}
	b, err := os.ReadFile(site[:i])
	if err != nil {
		return "", err
	}
	lines := bytes.Split(b, []byte("\n"))
	if n < 1 || n > len(lines) {
		return "", fmt.Errorf("%s: no such line", site)
	}
	return string(lines[n-1]), nil
}

// TestCrossArchCompile builds sqc for linux/amd64 (GOAMD64=v1 and v3) and
// linux/arm64, runs the arm64 one under qemu-aarch64, and checks that every
// build compiles the same models to the same bytes: the README's example
// (SparseGPT, auto calibration), mnist_burn's BatchNorms with MNIST
// preprocessing and the entropy calibrator, and the QAT ShuffleNet. It
// skips where qemu-aarch64 or the arm64 loader is missing (CI's machine).
// bench/xarch.sh runs a larger matrix.
func TestCrossArchCompile(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: compiling under qemu takes about a minute")
	}
	const sysroot = "/usr/aarch64-linux-gnu" // sqc is dynamically linked (purego)
	qemu, err := exec.LookPath("qemu-aarch64")
	if err == nil {
		_, err = os.Stat(filepath.Join(sysroot, "lib", "ld-linux-aarch64.so.1"))
	}
	if err != nil {
		// CI does not install qemu: from a cold build cache this test takes
		// about 2.5 minutes on two cores (3 builds of sqc, then qemu).
		t.Skipf("skipping the arm64 half of the determinism check: qemu-aarch64 or %s is missing "+
			"(Debian: qemu-user, libc6-arm64-cross): %v", sysroot, err)
	}
	repo, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	shared := filepath.Join(repo, "..", "shared")
	if _, err := os.Stat(filepath.Join(shared, "models")); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true but the shared test data is missing: %v", err)
		}
		t.Skipf("no shared test data: %v", err)
	}
	dir := t.TempDir()
	type host struct {
		name string
		env  []string
		run  []string // the command that runs the binary, before its arguments
	}
	hosts := []host{
		{"amd64-v1", []string{"GOARCH=amd64", "GOAMD64=v1"}, nil},
		{"amd64-v3", []string{"GOARCH=amd64", "GOAMD64=v3"}, nil},
		{"arm64", []string{"GOARCH=arm64"}, []string{qemu, "-L", sysroot}},
	}
	for i := range hosts {
		h := &hosts[i]
		bin := filepath.Join(dir, "sqc-"+h.name)
		build := exec.Command("go", "build", "-trimpath", "-o", bin, "./cmd/sqc")
		build.Dir = repo
		build.Env = append(os.Environ(), append([]string{"CGO_ENABLED=0", "GOOS=linux"}, h.env...)...)
		if out, err := build.CombinedOutput(); err != nil {
			t.Fatalf("building sqc for %s: %v\n%s", h.name, err, out)
		}
		h.run = append(h.run, bin)
	}
	if out, err := exec.Command(hosts[1].run[0], "--version").CombinedOutput(); err != nil {
		t.Logf("this CPU does not run GOAMD64=v3 binaries, so only amd64 v1 and arm64 are compared: %v\n%s", err, out)
		hosts = append(hosts[:1], hosts[2])
	}

	recipe := filepath.Join(dir, "entropy.sqr")
	if err := os.WriteFile(recipe, []byte("base \"dense-int8.sqr\"\ncalibrate { method = entropy }\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		out  string
		args []string
	}{
		{"resnet-mini.sqe", []string{"examples/resnet-mini.onnx", "-r", "examples/resnet-mini.sqr", "--calib-data", "examples/resnet-mini-calib.npy"}},
		{"mnist-burn-entropy.sqe", []string{filepath.Join(shared, "models", "mnist_burn_pytorch_bn.onnx"), "-r", recipe,
			"--calib-data", filepath.Join(shared, "data", "mnist", "train-images-idx3-ubyte.gz"),
			"--scale", "0.00392156862745098", "--mean", "0.1307", "--std", "0.3081"}},
		{"shufflenet-qat.sqe", []string{filepath.Join(shared, "models", "shufflenet-v2-12-qdq.onnx"), "-r", "qat.sqr"}},
	}
	for _, c := range cases {
		var want []byte
		for _, h := range hosts {
			out := filepath.Join(dir, h.name+"."+c.out)
			args := append(append(append([]string{}, h.run[1:]...), "compile", "-q", "-o", out), c.args...)
			cmd := exec.Command(h.run[0], args...)
			cmd.Dir = repo
			if b, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("%s: sqc compile %s: %v\n%s", h.name, strings.Join(c.args, " "), err, b)
			}
			got, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			if want == nil {
				want = got
				continue
			}
			if !bytes.Equal(got, want) {
				at := 0
				for at < min(len(got), len(want)) && got[at] == want[at] {
					at++
				}
				t.Errorf("%s: the %s build wrote a different file than %s (%d bytes, want %d; first difference at byte %d)",
					c.out, h.name, hosts[0].name, len(got), len(want), at)
			}
		}
	}
}
