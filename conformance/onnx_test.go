package conformance

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"sort"
	"strings"
	"testing"

	"github.com/sqc-project/sqc/frontend/onnx"
	"github.com/sqc-project/sqc/internal/onnxsuite"
	"github.com/sqc-project/sqc/ir"
	"github.com/sqc-project/sqc/ir/ref"
)

// suiteDirs are the suite's parts with model.onnx + test_data_set_* folders
// ("real" only holds download links to zoo models).
var suiteDirs = []string{"node", "pytorch-converted", "pytorch-operator", "simple"}

// unsupportedOpRE finds the op in the frontend's unsupported-op error,
// `node "foo": unsupported op Resize (opset 13)`.
var unsupportedOpRE = regexp.MustCompile(`unsupported op (\S+)`)

// exclusion is one line of exclusions.txt.
type exclusion struct {
	reason string
	line   int
	seen   bool
}

// loadExclusions reads `test_name  # reason` lines; blank lines and lines
// starting with # are comments. Every exclusion must give a reason.
func loadExclusions(path string) (map[string]*exclusion, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[string]*exclusion{}
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		name, reason, ok := strings.Cut(text, "#")
		name, reason = strings.TrimSpace(name), strings.TrimSpace(reason)
		if !ok || reason == "" {
			return nil, fmt.Errorf("%s:%d: %q has no reason, want `test_name  # reason`", path, line, text)
		}
		if strings.ContainsAny(name, " \t") {
			return nil, fmt.Errorf("%s:%d: %q is not one test name, want `test_name  # reason`", path, line, name)
		}
		if prev, dup := out[name]; dup {
			return nil, fmt.Errorf("%s:%d: %s is already excluded at line %d", path, line, name, prev.line)
		}
		out[name] = &exclusion{reason: reason, line: line}
	}
	return out, sc.Err()
}

// suiteCase is one test directory of the suite.
type suiteCase struct {
	name string // the directory name, unique across the suite's parts
	dir  string
}

func collectCases(t *testing.T, suiteRoot string) []suiteCase {
	var cases []suiteCase
	seen := map[string]string{}
	for _, part := range suiteDirs {
		models, err := filepath.Glob(filepath.Join(suiteRoot, part, "*", "model.onnx"))
		if err != nil {
			t.Fatal(err)
		}
		sort.Strings(models)
		for _, m := range models {
			dir := filepath.Dir(m)
			name := filepath.Base(dir)
			if other, dup := seen[name]; dup {
				t.Fatalf("test name %s is both %s and %s: names must be unique for exclusions.txt", name, other, dir)
			}
			seen[name] = dir
			cases = append(cases, suiteCase{name: name, dir: dir})
		}
	}
	if len(cases) == 0 {
		t.Fatalf("no model.onnx under %s/{%s}/*: is libonnx-testdata installed completely?", suiteRoot, strings.Join(suiteDirs, ","))
	}
	return cases
}

// importModel is onnx.Import that turns a panic into an error, so that one
// frontend bug fails one test instead of the whole run.
func importModel(path string) (g *ir.Graph, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("frontend panicked: %v\n%s", r, debug.Stack())
		}
	}()
	return onnx.Import(path)
}

// unsupportedOp returns the first op of the model sqc cannot run, from the
// frontend's error or from the executor's kernel table, or "".
func unsupportedOp(g *ir.Graph, importErr error) string {
	if importErr != nil {
		if m := unsupportedOpRE.FindStringSubmatch(importErr.Error()); m != nil {
			return m[1]
		}
		return ""
	}
	for _, n := range g.Nodes {
		if !ref.Supports(n.Op) {
			return n.Op
		}
	}
	return ""
}

// outcome is what became of one applicable test.
type outcome int

const (
	notRun outcome = iota // filtered out by -run
	passed
	failed
	excludedFailed // excluded, and failed as expected
	excludedPassed // excluded, but passes: the exclusion is stale
)

// TestONNXSuite runs every applicable test of the ONNX conformance suite
// through the frontend and the reference executor.
func TestONNXSuite(t *testing.T) {
	suiteRoot := onnxsuite.RootDir()
	if _, err := os.Stat(suiteRoot); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("libonnx-testdata is missing in CI (%v): apt-get install libonnx-testdata", err)
		}
		t.Skipf("libonnx-testdata not installed (%v): apt-get install libonnx-testdata to run the ONNX conformance suite", err)
	}
	excl, err := loadExclusions("exclusions.txt")
	if err != nil {
		t.Fatal(err)
	}
	cases := collectCases(t, suiteRoot)

	notApplicable := map[string]int{}
	counts := map[outcome]int{}
	applicable := 0
	for _, c := range cases {
		g, importErr := importModel(filepath.Join(c.dir, "model.onnx"))
		ex := excl[c.name]
		if ex != nil {
			ex.seen = true
		}
		if op := unsupportedOp(g, importErr); op != "" {
			notApplicable[op]++
			if ex != nil {
				t.Errorf("exclusions.txt:%d: %s is not applicable (op %s is not supported): remove its exclusion", ex.line, c.name, op)
			}
			continue
		}
		applicable++
		res := notRun
		t.Run(c.name, func(t *testing.T) {
			problems := runCase(c, g, importErr)
			switch {
			case ex == nil && len(problems) == 0:
				res = passed
			case ex == nil:
				res = failed
				for _, p := range problems {
					t.Error(p)
				}
			case len(problems) == 0:
				res = excludedPassed
				t.Errorf("passes, but exclusions.txt:%d excludes it (%s): remove the exclusion", ex.line, ex.reason)
			default:
				res = excludedFailed
				t.Skipf("excluded (exclusions.txt:%d): %s; fails with: %s", ex.line, ex.reason, firstLine(problems[0]))
			}
		})
		counts[res]++
	}
	for name, ex := range excl {
		if !ex.seen {
			t.Errorf("exclusions.txt:%d: %s is not a test of the suite: remove its exclusion", ex.line, name)
		}
	}

	naTotal := 0
	ops := make([]string, 0, len(notApplicable))
	for op, n := range notApplicable {
		ops = append(ops, op)
		naTotal += n
	}
	sort.Slice(ops, func(i, j int) bool {
		if notApplicable[ops[i]] != notApplicable[ops[j]] {
			return notApplicable[ops[i]] > notApplicable[ops[j]]
		}
		return ops[i] < ops[j]
	})
	var by strings.Builder
	for _, op := range ops {
		fmt.Fprintf(&by, " %s:%d", op, notApplicable[op])
	}
	t.Logf("ONNX suite: %d tests: %d applicable (%d passed, %d excluded, %d failed, %d excluded but passing, %d not run), %d not applicable",
		len(cases), applicable, counts[passed], counts[excludedFailed], counts[failed], counts[excludedPassed], counts[notRun], naTotal)
	t.Logf("not applicable by first unsupported op:%s", by.String())
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}

// runCase runs every data set of one test and returns what went wrong.
func runCase(c suiteCase, g *ir.Graph, importErr error) (problems []string) {
	if importErr != nil {
		return []string{"import: " + importErr.Error()}
	}
	e, err := ref.New(g)
	if err != nil {
		return []string{"executor: " + err.Error()}
	}
	sets, err := onnxsuite.DataSets(c.dir)
	if err != nil || len(sets) == 0 {
		return []string{fmt.Sprintf("no test_data_set_* in %s (%v)", c.dir, err)}
	}
	for _, set := range sets {
		_, probs := runDataSet(e, g, set, onnxsuite.SuiteTol)
		for _, p := range probs {
			problems = append(problems, filepath.Base(set)+": "+p)
		}
	}
	return problems
}

// runDataSet feeds one test_data_set's inputs to the executor and compares
// the outputs with the expected ones at tol.
func runDataSet(e *ref.Executor, g *ir.Graph, set string, tol onnxsuite.Tolerance) (maxAbs float64, problems []string) {
	inputs, err := onnxsuite.ReadMatched(onnxsuite.NumberedFiles(set, "input"), g.Inputs, "input")
	if err != nil {
		return 0, []string{err.Error()}
	}
	wants, err := onnxsuite.ReadMatched(onnxsuite.NumberedFiles(set, "output"), g.Outputs, "output")
	if err != nil {
		return 0, []string{err.Error()}
	}
	return runAndCompare(e, g, inputs, wants, tol)
}

// runAndCompare runs the executor and compares every output; maxAbs is the
// largest absolute difference of any float element.
func runAndCompare(e *ref.Executor, g *ir.Graph, inputs, wants []*ir.Tensor, tol onnxsuite.Tolerance) (maxAbs float64, problems []string) {
	outs, err := run(e, len(g.Outputs), inputs)
	if err != nil {
		return 0, []string{"run: " + err.Error()}
	}
	for i, want := range wants {
		st, err := onnxsuite.CompareTensors(outs[i], want, tol)
		maxAbs = max(maxAbs, st.MaxAbs)
		if err != nil {
			problems = append(problems, fmt.Sprintf("output %d %q: %v", i, g.Outputs[i].Name, err))
		}
	}
	return maxAbs, problems
}

// run is Executor.Run with panics (outside the kernels, which the executor
// already guards) turned into errors.
func run(e *ref.Executor, nout int, inputs []*ir.Tensor) (outs []*ir.Tensor, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("executor panicked: %v\n%s", r, debug.Stack())
		}
	}()
	outs, err = e.Run(inputs)
	if err == nil && len(outs) != nout {
		err = fmt.Errorf("%d outputs, want %d", len(outs), nout)
	}
	return outs, err
}

func TestLoadExclusions(t *testing.T) {
	write := func(text string) string {
		p := filepath.Join(t.TempDir(), "exclusions.txt")
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	ex, err := loadExclusions(write("# header\n\ntest_a   # reason one\n\ttest_b#two # with a hash\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(ex) != 2 || ex["test_a"].reason != "reason one" || ex["test_a"].line != 3 ||
		ex["test_b"].reason != "two # with a hash" || ex["test_b"].line != 4 {
		t.Errorf("parsed %v %v, want test_a (line 3, reason one) and test_b (line 4)", ex["test_a"], ex["test_b"])
	}
	for _, c := range []struct{ text, want string }{
		{"test_a\n", ":1: \"test_a\" has no reason"},
		{"test_a  #   \n", "has no reason"},
		{"test_a test_b # r\n", "is not one test name"},
		{"test_a # r\n# c\ntest_a # again\n", ":3: test_a is already excluded at line 1"},
	} {
		_, err := loadExclusions(write(c.text))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: error %v, want one containing %q", c.text, err, c.want)
		}
	}
}
