package ampere

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"sort"
	"strings"
	"testing"

	"github.com/sqc-project/sqc/backend/ampere/engine"
	"github.com/sqc-project/sqc/frontend/onnx"
	"github.com/sqc-project/sqc/internal/onnxsuite"
	"github.com/sqc-project/sqc/ir"
	"github.com/sqc-project/sqc/ir/ref"
)

// conformancePlanFailures are the ONNX node tests that TestConformancePlans
// expects not to plan, with why: the test fails when one of them plans or
// when a test not listed fails to.
var conformancePlanFailures = func() map[string]string {
	m := map[string]string{}
	// The node works across dim 0, which a static-shaped node test has
	// at 2 to 6 and the engine takes as the batch: a reduction, Concat,
	// Split or normalization along it, a Transpose or Flatten that moves
	// it. Each sample of an engine is computed on its own; the output
	// has no batch-first buffer (keepsBatch).
	for _, name := range []string{
		"test_concat_1d_axis_0",
		"test_concat_1d_axis_negative_1",
		"test_concat_2d_axis_0",
		"test_concat_2d_axis_negative_2",
		"test_concat_3d_axis_0",
		"test_concat_3d_axis_negative_3",
		"test_flatten_axis0",
		"test_flatten_axis2",
		"test_flatten_axis3",
		"test_flatten_negative_axis1",
		"test_flatten_negative_axis2",
		"test_flatten_negative_axis4",
		"test_layer_normalization_2d_axis0",
		"test_layer_normalization_2d_axis0_expanded",
		"test_layer_normalization_2d_axis_negative_2",
		"test_layer_normalization_2d_axis_negative_2_expanded",
		"test_layer_normalization_3d_axis0_epsilon",
		"test_layer_normalization_3d_axis0_epsilon_expanded",
		"test_layer_normalization_3d_axis_negative_3_epsilon",
		"test_layer_normalization_3d_axis_negative_3_epsilon_expanded",
		"test_layer_normalization_4d_axis0",
		"test_layer_normalization_4d_axis0_expanded",
		"test_layer_normalization_4d_axis_negative_4",
		"test_layer_normalization_4d_axis_negative_4_expanded",
		"test_logsoftmax_axis_0_expanded",
		"test_mvn_expanded",
		"test_reduce_l1_default_axes_keepdims_example",
		"test_reduce_l1_default_axes_keepdims_random",
		"test_reduce_l2_default_axes_keepdims_example",
		"test_reduce_l2_default_axes_keepdims_random",
		"test_reduce_log_sum_asc_axes",
		"test_reduce_log_sum_default",
		"test_reduce_max_default_axes_keepdim_example",
		"test_reduce_max_default_axes_keepdims_random",
		"test_reduce_mean_default_axes_keepdims_example",
		"test_reduce_mean_default_axes_keepdims_random",
		"test_reduce_min_default_axes_keepdims_example",
		"test_reduce_min_default_axes_keepdims_random",
		"test_reduce_prod_default_axes_keepdims_example",
		"test_reduce_prod_default_axes_keepdims_random",
		"test_reduce_sum_square_default_axes_keepdims_example",
		"test_reduce_sum_square_default_axes_keepdims_random",
		"test_softmax_axis_0_expanded",
		"test_split_equal_parts_1d",
		"test_split_equal_parts_default_axis",
		"test_transpose_all_permutations_2",
		"test_transpose_all_permutations_3",
		"test_transpose_all_permutations_4",
		"test_transpose_all_permutations_5",
		"test_transpose_default",
	} {
		m[name] = acrossTheBatch
	}
	for _, name := range []string{
		"test_clip_default_int8_inbounds",
		"test_max_int8",
		"test_min_int8",
		"test_mod_mixed_sign_int8",
	} {
		m[name] = "an i8 graph input: the GPU runtime takes f32 inputs (and quantizes them itself)"
	}
	return m
}()

// acrossTheBatch is why a node test whose node works across dim 0 does
// not plan.
const acrossTheBatch = "the node works across dim 0, the batch: the engine computes each sample on its own and holds every value batch first"

// conformanceSimFailures are the node tests that plan but whose engine is
// expected to compute a wrong result, with why. Each would be a bug: there
// are none.
var conformanceSimFailures = map[string]string{}

// suiteCaseData is one data set of a node test: its inputs and expected
// outputs, in the graph's order.
type suiteCaseData struct {
	name       string
	ins, wants []*ir.Tensor
	batch      int
	byName     map[string]*ir.Tensor
}

// conformanceEligible loads a node test and says why it is not one the GPU
// planner is held to (""): the model must load, the reference executor must
// reproduce the suite's outputs, every input and output must be an f32 or
// i8 tensor of rank ≥ 1, and the inputs must agree on dim 0 (the batch).
func conformanceEligible(dir string) (g *ir.Graph, sets []suiteCaseData, why string) {
	g, err := func() (g *ir.Graph, err error) {
		defer func() {
			if r := recover(); r != nil {
				err = fmt.Errorf("frontend panicked: %v", r)
			}
		}()
		return onnx.Import(filepath.Join(dir, "model.onnx"))
	}()
	if err != nil {
		return nil, nil, "model does not load"
	}
	for _, vs := range [][]*ir.Value{g.Inputs, g.Outputs} {
		for _, v := range vs {
			if v.Type.DType != ir.Float32 && v.Type.DType != ir.Int8 {
				return nil, nil, "a graph input or output is not f32 or i8"
			}
			if len(v.Type.Shape) < 1 {
				return nil, nil, "a graph input or output is a scalar"
			}
		}
	}
	if len(g.Inputs) == 0 {
		return nil, nil, "no graph inputs (no batch)"
	}
	for _, n := range g.Nodes {
		if !ref.Supports(n.Op) {
			return nil, nil, "the reference executor has no kernel for an op"
		}
	}
	ex, err := ref.New(g)
	if err != nil {
		return nil, nil, "the reference executor refuses the graph"
	}
	dirs, err := onnxsuite.DataSets(dir)
	if err != nil || len(dirs) == 0 {
		return nil, nil, "no data sets"
	}
	for _, d := range dirs {
		ins, err := onnxsuite.ReadMatched(onnxsuite.NumberedFiles(d, "input"), g.Inputs, "input")
		if err != nil {
			return nil, nil, "data set does not read"
		}
		wants, err := onnxsuite.ReadMatched(onnxsuite.NumberedFiles(d, "output"), g.Outputs, "output")
		if err != nil {
			return nil, nil, "data set does not read"
		}
		outs, err := func() (outs []*ir.Tensor, err error) {
			defer func() {
				if r := recover(); r != nil {
					err = fmt.Errorf("executor panicked: %v", r)
				}
			}()
			return ex.Run(ins)
		}()
		if err != nil || len(outs) != len(wants) {
			return nil, nil, "the reference executor fails"
		}
		for i, w := range wants {
			if _, err := onnxsuite.CompareTensors(outs[i], w, onnxsuite.SuiteTol); err != nil {
				return nil, nil, "the reference executor differs from the suite"
			}
		}
		set := suiteCaseData{name: filepath.Base(d), ins: ins, wants: wants, batch: -1, byName: map[string]*ir.Tensor{}}
		for i, x := range ins {
			if x.DType != g.Inputs[i].Type.DType || len(x.Shape) < 1 {
				return nil, nil, "a data set's input is not f32 or i8 of rank ≥ 1"
			}
			if set.batch >= 0 && x.Shape[0] != set.batch {
				return nil, nil, "the inputs disagree on dim 0"
			}
			set.batch = x.Shape[0]
			set.byName[g.Inputs[i].Name] = x
		}
		if set.batch == 0 {
			return nil, nil, "an empty batch"
		}
		sets = append(sets, set)
	}
	return g, sets, ""
}

// failRecorder is a testing.TB that records failures instead of failing
// the test: simulate reports through it, and the census counts them.
type failRecorder struct {
	testing.TB
	errs []string
}

// stopSimulation is the panic failRecorder's Fatal stops simulate with.
type stopSimulation struct{}

func (r *failRecorder) Helper() {}
func (r *failRecorder) Error(args ...any) {
	r.errs = append(r.errs, fmt.Sprint(args...))
}
func (r *failRecorder) Errorf(format string, args ...any) {
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}
func (r *failRecorder) Fatal(args ...any) {
	r.Error(args...)
	panic(stopSimulation{})
}
func (r *failRecorder) Fatalf(format string, args ...any) {
	r.Errorf(format, args...)
	panic(stopSimulation{})
}

// simulateCase runs the planned engine e on every data set (simulate, at
// the data set's batch) and returns what differs from the suite's outputs.
func simulateCase(t *testing.T, g *ir.Graph, e *engine.Engine, sets []suiteCaseData) (problems []string) {
	for _, set := range sets {
		r := &failRecorder{TB: t}
		var got map[string]*ir.Tensor
		func() {
			defer func() {
				if x := recover(); x != nil {
					if _, ok := x.(stopSimulation); !ok {
						r.errs = append(r.errs, fmt.Sprintf("simulation panicked: %v\n%s", x, debug.Stack()))
					}
				}
			}()
			got = simulate(r, g, e, set.batch, set.byName)
		}()
		for _, err := range r.errs {
			problems = append(problems, set.name+": "+err)
		}
		if len(r.errs) > 0 {
			continue
		}
		for i, v := range g.Outputs {
			if _, err := onnxsuite.CompareTensors(got[v.Name], set.wants[i], onnxsuite.SuiteTol); err != nil {
				problems = append(problems, fmt.Sprintf("%s: output %s: %v", set.name, v.Name, err))
			}
		}
	}
	return problems
}

// planSafely is Plan with a panic turned into an error.
func planSafely(g *ir.Graph) (e *engine.Engine, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("planner panicked: %v\n%s", r, debug.Stack())
		}
	}()
	return Plan(g, "test")
}

// planReason is a planning error for the census: the op and the last
// fallback's reason (why the node has no kernel comes before it), the
// graph's value and node names as X and numbers as #, so that tests group.
func planReason(g *ir.Graph, err error) string {
	s, _, _ := strings.Cut(err.Error(), "\n")
	op := ""
	if m := regexp.MustCompile(`^node "[^"]*" \(([^)]*)\): `).FindStringSubmatch(s); m != nil {
		op, s = m[1], s[len(m[0]):]
	}
	if i := strings.LastIndex(s, "; "); i >= 0 && strings.Contains(s, "no fallback either") {
		s = s[i+2:]
	}
	var names []string
	for _, n := range g.Nodes {
		names = append(names, n.Name)
		for _, v := range append(append([]*ir.Value{}, n.Inputs...), n.Outputs...) {
			if v != nil {
				names = append(names, v.Name)
			}
		}
	}
	sort.Slice(names, func(i, j int) bool { return len(names[i]) > len(names[j]) })
	for _, name := range names {
		if name != "" {
			s = regexp.MustCompile(`\b`+regexp.QuoteMeta(name)+`\b`).ReplaceAllString(s, "X")
		}
	}
	s = regexp.MustCompile(`\d+`).ReplaceAllString(s, "#")
	if op != "" {
		return op + ": " + s
	}
	return s
}

// TestConformancePlans holds the GPU planner to rule 1 on the ONNX
// conformance suite's node tests: every test the reference executor
// passes, whose inputs and outputs the GPU runtime can hold (f32 or i8,
// rank ≥ 1) and whose inputs agree on dim 0, must plan (Plan), and the
// engine, simulated on the CPU with the kernels' Go models at the batch of
// the test's dim 0, must give the suite's outputs at its tolerance. Tests
// that do not are listed with why in conformancePlanFailures or
// conformanceSimFailures; the test fails when the lists stop being true.
func TestConformancePlans(t *testing.T) {
	root := onnxsuite.RootDir()
	if _, err := os.Stat(root); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("libonnx-testdata is missing in CI (%v): apt-get install libonnx-testdata", err)
		}
		t.Skipf("libonnx-testdata not installed (%v): apt-get install libonnx-testdata to plan the ONNX conformance suite", err)
	}
	models, err := filepath.Glob(filepath.Join(root, "node", "*", "model.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	if len(models) == 0 {
		t.Fatalf("no model.onnx under %s/node: is libonnx-testdata installed completely?", root)
	}
	sort.Strings(models)
	seen := map[string]bool{}
	skipped := map[string]int{}
	planFails := map[string][]string{}
	var planned, simFails, simOK []string
	for _, m := range models {
		dir := filepath.Dir(m)
		name := filepath.Base(dir)
		seen[name] = true
		g, sets, why := conformanceEligible(dir)
		if why != "" {
			skipped[why]++
			continue
		}
		e, err := planSafely(g)
		if err != nil {
			reason := planReason(g, err)
			planFails[reason] = append(planFails[reason], name)
			if _, ok := conformancePlanFailures[name]; !ok {
				t.Errorf("%s: does not plan: %v", name, err)
			}
			continue
		}
		if why, ok := conformancePlanFailures[name]; ok {
			t.Errorf("%s: plans, but conformancePlanFailures expects it not to (%s): remove it from the list", name, why)
		}
		planned = append(planned, name)
		problems := simulateCase(t, g, e, sets)
		why, listed := conformanceSimFailures[name]
		switch {
		case len(problems) > 0:
			simFails = append(simFails, name)
			if !listed {
				t.Errorf("%s: plans but computes wrongly: %s", name, strings.Join(problems, "; "))
			}
		case listed:
			t.Errorf("%s: computes right, but conformanceSimFailures expects it not to (%s): remove it from the list", name, why)
		default:
			simOK = append(simOK, name)
		}
	}
	for _, list := range []map[string]string{conformancePlanFailures, conformanceSimFailures} {
		for name := range list {
			if !seen[name] {
				t.Errorf("%s is listed as an expected failure but is not a node test of the suite", name)
			}
		}
	}

	eligible, notPlanned := len(planned), 0
	reasons := make([]string, 0, len(planFails))
	for r, names := range planFails {
		reasons = append(reasons, r)
		notPlanned += len(names)
	}
	eligible += notPlanned
	sort.Slice(reasons, func(i, j int) bool {
		if len(planFails[reasons[i]]) != len(planFails[reasons[j]]) {
			return len(planFails[reasons[i]]) > len(planFails[reasons[j]])
		}
		return reasons[i] < reasons[j]
	})
	t.Logf("ONNX node tests: %d; held to rule 1: %d: %d plan (%d simulate right, %d wrong), %d do not plan",
		len(models), eligible, len(planned), len(simOK), len(simFails), notPlanned)
	for _, r := range reasons {
		t.Logf("  does not plan (%d): %s: %s", len(planFails[r]), r, strings.Join(planFails[r], " "))
	}
	if len(simFails) > 0 {
		t.Logf("  plan but compute wrongly (%d): %s", len(simFails), strings.Join(simFails, " "))
	}
	whys := make([]string, 0, len(skipped))
	for w := range skipped {
		whys = append(whys, w)
	}
	sort.Strings(whys)
	for _, w := range whys {
		t.Logf("  not held to rule 1 (%d): %s", skipped[w], w)
	}
}
