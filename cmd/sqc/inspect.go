package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/sqc-project/sqc/frontend/onnx"
	"github.com/sqc-project/sqc/ir"
	"github.com/sqc-project/sqc/ir/sqir"
	"github.com/sqc-project/sqc/passes/prune"
)

func newInspectCmd() *cobra.Command {
	var (
		asJSON bool
		batch  int
		dims   = dimFlag{}
	)
	cmd := &cobra.Command{
		Use:   "inspect MODEL.onnx|MODEL.sqir|ENGINE.sqe",
		Short: "Print a model's nodes, types, parameters and MACs",
		Long: `Inspect loads a model, lowers it to sqc's IR and prints one row per node: its
name, op, input and output types, parameters (elements of its constant
inputs: weights, biases, statistics) and multiply-accumulates, then the
model's totals.

For an ONNX model the rows are the ONNX graph's nodes, in graph order
(Constant nodes included); an ONNX node that lowered to several IR nodes
shows their sum. A .sqir file (sqc's textual IR) shows its IR nodes.

MACs need concrete shapes. A symbolic dim, such as a batch "N", is counted
as 1 unless --dim gives its size; --dim also shows the shapes at that size.`,
		Example: `  sqc inspect examples/resnet-mini.onnx
  sqc inspect --dim N=64 --json model.onnx
  sqc inspect --batch 1 resnet34.sqe`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return fmt.Errorf("inspect: want one model file, got %d arguments (usage: %s)", len(args), cmd.UseLine())
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if strings.EqualFold(filepath.Ext(args[0]), ".sqe") {
				return inspectEngine(cmd.OutOrStdout(), args[0], asJSON, batch)
			}
			if batch != 0 {
				return fmt.Errorf("inspect: --batch picks an engine's plan, and %s is not an engine (.sqe)", args[0])
			}
			r, err := inspect(args[0], dims)
			if err != nil {
				return err
			}
			if asJSON {
				return r.writeJSON(cmd.OutOrStdout())
			}
			return r.writeText(cmd.OutOrStdout())
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON object instead of a table")
	cmd.Flags().Var(dims, "dim", "size of a symbolic input dim, as `NAME=SIZE` (repeatable)")
	cmd.Flags().IntVar(&batch, "batch", 0, "for an engine: list the launches a run of `N` samples makes (the plan for small batches where N is small enough; default: the plan for large batches)")
	return cmd
}

// report is what inspect prints; its JSON form is the --json output, so the
// field names are a public interface.
type report struct {
	Model     string `json:"model"`
	Format    string `json:"format"` // "onnx" or "sqir"
	IRVersion int64  `json:"ir_version,omitempty"`
	Opset     int64  `json:"opset,omitempty"`
	Producer  string `json:"producer,omitempty"`
	Graph     string `json:"graph"`
	// Dims are the sizes the symbolic dims took to count MACs: those given
	// with --dim and 1 for the rest.
	Dims    map[string]int64 `json:"dims,omitempty"`
	Inputs  []valueInfo      `json:"inputs"`
	Outputs []valueInfo      `json:"outputs"`
	Nodes   []nodeInfo       `json:"nodes"`
	Totals  totals           `json:"totals"`

	// implicit lists the symbolic dims counted as 1 without the user asking,
	// for the note under the table.
	implicit []string
}

// valueInfo describes one input or output of a node or of the model.
type valueInfo struct {
	Name string `json:"name"`
	// DType and Shape are empty when the value is absent (an omitted
	// optional input) or the IR does not have it (an unused output).
	DType string `json:"dtype,omitempty"`
	// Shape has a number per known dim and a string per symbolic ("N") or
	// unknown ("?") one, as ONNX's dim_value and dim_param do.
	Shape []any `json:"shape"`
	Const bool  `json:"const,omitempty"`

	typ   string // the type as the IR writes it, for the table
	known bool
}

type nodeInfo struct {
	Name    string      `json:"name"`
	Op      string      `json:"op"`
	Inputs  []valueInfo `json:"inputs"`
	Outputs []valueInfo `json:"outputs"`
	Params  int64       `json:"params"`
	// MACs is -1 when it cannot be counted (a dim stays unknown).
	MACs int64 `json:"macs"`
	// LoweredTo names the IR nodes an ONNX node became.
	LoweredTo []string `json:"lowered_to,omitempty"`
	// Sparsity says, for a layer that could be 2:4 sparse (Conv, Gemm,
	// MatMul and their fused and quantized forms), whether it is and why:
	// the prune pass's note when the model carries one (.sqir), else what
	// the weights themselves show ("2:4 (weights follow the pattern)",
	// "dense: ...").
	Sparsity string `json:"sparsity,omitempty"`
}

type totals struct {
	Nodes   int   `json:"nodes"`
	IRNodes int   `json:"ir_nodes"`
	Params  int64 `json:"params"`
	MACs    int64 `json:"macs"`
}

// inspect builds the report of the model at path: a .sqir file is parsed as
// the IR's textual form, anything else loaded as ONNX.
func inspect(path string, dims map[string]int64) (*report, error) {
	for name, size := range dims {
		if size < 1 {
			return nil, fmt.Errorf("--dim %s=%d: want a size of at least 1", name, size)
		}
	}
	if strings.EqualFold(filepath.Ext(path), ".sqir") {
		return inspectSQIR(path, dims)
	}
	return inspectONNX(path, dims)
}

func inspectONNX(path string, dims map[string]int64) (*report, error) {
	m, err := onnx.Load(path)
	if err != nil {
		return nil, err
	}
	r := &report{Model: path, Format: "onnx", IRVersion: m.IRVersion, Opset: m.Opset, Producer: m.Producer}
	g, costG, err := loadBound(m.Lower, dims, r)
	if err != nil {
		return nil, err
	}
	values := valuesByName(g)
	nodes := m.Nodes()
	owners := ownIRNodes(nodes, g)
	groups := make([][]*ir.Node, len(nodes))
	names := make([][]string, len(nodes))
	for j, i := range owners {
		if i >= 0 {
			groups[i] = append(groups[i], costG.Nodes[j])
			names[i] = append(names[i], g.Nodes[j].Name)
		}
	}
	for i, n := range nodes {
		op := n.OpType
		if n.Domain != "" && n.Domain != "ai.onnx" {
			op = n.Domain + "." + op
		}
		info := nodeInfo{Name: n.Name, Op: op, LoweredTo: names[i],
			Inputs: make([]valueInfo, len(n.Inputs)), Outputs: make([]valueInfo, len(n.Outputs))}
		for k, name := range n.Inputs {
			info.Inputs[k] = describeName(name, values)
		}
		for k, name := range n.Outputs {
			info.Outputs[k] = describeName(name, values)
		}
		info.MACs, info.Params = ir.Cost(groups[i])
		r.Nodes = append(r.Nodes, info)
	}
	r.finish(g, costG)
	return r, nil
}

func inspectSQIR(path string, dims map[string]int64) (*report, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	parse := func() (*ir.Graph, error) { return sqir.ParseAndVerify(path, src) }
	r := &report{Model: path, Format: "sqir"}
	g, costG, err := loadBound(parse, dims, r)
	if err != nil {
		return nil, err
	}
	for j, n := range g.Nodes {
		info := nodeInfo{Name: n.Name, Op: n.Op, Inputs: make([]valueInfo, len(n.Inputs)), Outputs: make([]valueInfo, len(n.Outputs))}
		for k, v := range n.Inputs {
			info.Inputs[k] = describe(v)
		}
		for k, v := range n.Outputs {
			info.Outputs[k] = describe(v)
		}
		info.MACs, info.Params = ir.Cost(costG.Nodes[j : j+1])
		r.Nodes = append(r.Nodes, info)
	}
	r.finish(g, costG)
	return r, nil
}

// finish fills in the model's inputs, outputs and totals.
func (r *report) finish(g, costG *ir.Graph) {
	r.Graph = g.Name
	for _, v := range g.Inputs {
		r.Inputs = append(r.Inputs, describe(v))
	}
	for _, v := range g.Outputs {
		r.Outputs = append(r.Outputs, describe(v))
	}
	r.sparsity(g)
	r.Totals.Nodes = len(r.Nodes)
	r.Totals.IRNodes = len(g.Nodes)
	// Totals come from all the IR nodes, so a node the ONNX table could not
	// attribute still counts, and a weight shared by two nodes counts once.
	r.Totals.MACs, r.Totals.Params = ir.Cost(costG.Nodes)
}

// sparsity fills in each row's Sparsity from the IR nodes it stands for.
func (r *report) sparsity(g *ir.Graph) {
	texts := map[string]string{}
	for _, n := range g.Nodes {
		if note, ok := n.Notes[prune.NoteKey]; ok {
			texts[n.Name] = note
		}
	}
	for _, d := range prune.Detect(g, 2, 4) {
		if _, ok := texts[d.Node]; !ok {
			texts[d.Node] = d.Text
		}
	}
	for i := range r.Nodes {
		names := r.Nodes[i].LoweredTo
		if len(names) == 0 {
			names = []string{r.Nodes[i].Name}
		}
		for _, name := range names {
			if t, ok := texts[name]; ok {
				r.Nodes[i].Sparsity = t
				break
			}
		}
	}
}

// loadBound loads the graph to show, with the dims given by --dim bound, and
// the graph to count MACs on, where every symbolic input dim is bound (to 1
// when --dim does not name it). The two are separate loads, so the table
// keeps the model's symbolic shapes; they are the same graph when nothing
// stays symbolic.
func loadBound(load func() (*ir.Graph, error), dims map[string]int64, r *report) (g, costG *ir.Graph, err error) {
	g, err = load()
	if err != nil {
		return nil, nil, err
	}
	syms := symbolicDims(g)
	for name, size := range dims {
		if !syms[name] {
			return nil, nil, fmt.Errorf("--dim %s=%d: the model has no symbolic input dim %s (%s)", name, size, name, describeSyms(syms))
		}
	}
	if len(dims) > 0 {
		if err := bindDims(g, dims); err != nil {
			return nil, nil, err
		}
	}
	r.Dims = map[string]int64{}
	for name := range syms {
		if size, ok := dims[name]; ok {
			r.Dims[name] = size
		} else {
			r.Dims[name] = 1
			r.implicit = append(r.implicit, name)
		}
	}
	sort.Strings(r.implicit)
	if len(r.implicit) == 0 {
		return g, g, nil
	}
	costG, err = load()
	if err != nil {
		return nil, nil, err
	}
	if err := bindDims(costG, r.Dims); err != nil {
		// The model cannot take size 1 where it did not ask for one (a
		// reshape to a fixed batch, say): count what can be counted.
		costG = g
		r.implicit = nil
		for name := range r.Dims {
			if _, ok := dims[name]; !ok {
				delete(r.Dims, name)
			}
		}
	}
	if len(costG.Nodes) != len(g.Nodes) {
		return nil, nil, fmt.Errorf("internal error: loading %s twice gave %d and %d IR nodes", r.Model, len(g.Nodes), len(costG.Nodes))
	}
	return g, costG, nil
}

// symbolicDims returns the names of the symbolic dims of g's inputs.
func symbolicDims(g *ir.Graph) map[string]bool {
	syms := map[string]bool{}
	for _, v := range g.Inputs {
		for _, d := range v.Type.Shape {
			if !d.Known() && d.Sym != "" {
				syms[d.Sym] = true
			}
		}
	}
	return syms
}

func describeSyms(syms map[string]bool) string {
	if len(syms) == 0 {
		return "it has none"
	}
	names := make([]string, 0, len(syms))
	for s := range syms {
		names = append(names, s)
	}
	sort.Strings(names)
	return "it has " + strings.Join(names, ", ")
}

// bindDims gives the named symbolic dims of g's inputs their sizes and
// infers every node's types again.
func bindDims(g *ir.Graph, dims map[string]int64) error {
	for _, v := range g.Inputs {
		shape := v.Type.Shape.Clone()
		for i, d := range shape {
			if size, ok := dims[d.Sym]; ok && !d.Known() && d.Sym != "" {
				shape[i] = ir.D(size)
			}
		}
		v.Type.Shape = shape
	}
	if err := ir.InferShapes(g); err != nil {
		return fmt.Errorf("with --dim %s: %w", formatDims(dims), err)
	}
	return nil
}

// formatDims writes dims as N=1, T=8 in name order.
func formatDims(dims map[string]int64) string {
	names := make([]string, 0, len(dims))
	for n := range dims {
		names = append(names, n)
	}
	sort.Strings(names)
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = fmt.Sprintf("%s=%d", n, dims[n])
	}
	return strings.Join(parts, ", ")
}

// valuesByName indexes every value of g by name: the frontend keeps ONNX's
// tensor names, so an ONNX node's inputs and outputs are found this way.
func valuesByName(g *ir.Graph) map[string]*ir.Value {
	m := map[string]*ir.Value{}
	add := func(v *ir.Value) {
		if v != nil {
			if _, dup := m[v.Name]; !dup {
				m[v.Name] = v
			}
		}
	}
	for _, v := range g.Inputs {
		add(v)
	}
	for _, n := range g.Nodes {
		for _, v := range n.Inputs {
			add(v)
		}
		for _, v := range n.Outputs {
			add(v)
		}
	}
	for _, v := range g.Outputs {
		add(v)
	}
	return m
}

// ownIRNodes attributes every IR node to the ONNX node it came from: the
// index into nodes, or -1. An IR node that produces an ONNX node's output
// belongs to it; any other IR node belongs to the ONNX node (or already
// attributed IR node) whose name is the longest "/"-separated prefix of its
// own, since the frontend names the auxiliary nodes of a lowering
// "<name>/<suffix>". The longest prefix wins because exporters put "/" in
// names too (PyTorch's "/layer1/layer1.0/conv1/Conv").
func ownIRNodes(nodes []onnx.NodeInfo, g *ir.Graph) []int {
	owner := make([]int, len(g.Nodes))
	producer := map[string]int{}
	for j, n := range g.Nodes {
		owner[j] = -1
		for _, v := range n.Outputs {
			if v != nil {
				producer[v.Name] = j
			}
		}
	}
	byName := map[string]int{}
	for i, n := range nodes {
		if _, dup := byName[n.Name]; n.Name != "" && !dup {
			byName[n.Name] = i
		}
		for _, out := range n.Outputs {
			if j, ok := producer[out]; ok && out != "" && owner[j] < 0 {
				owner[j] = i
			}
		}
	}
	for j, n := range g.Nodes {
		if owner[j] >= 0 {
			if _, taken := byName[n.Name]; !taken {
				byName[n.Name] = owner[j]
			}
		}
	}
	for j, n := range g.Nodes {
		for name := n.Name; owner[j] < 0 && name != ""; {
			if i, ok := byName[name]; ok {
				owner[j] = i
				break
			}
			k := strings.LastIndexByte(name, '/')
			if k < 0 {
				break
			}
			name = name[:k]
		}
	}
	return owner
}

// describeName describes an ONNX value by name; "" is an omitted optional
// input, and a name the IR lacks keeps its name with no type.
func describeName(name string, values map[string]*ir.Value) valueInfo {
	if v, ok := values[name]; ok && name != "" {
		return describe(v)
	}
	return valueInfo{Name: name}
}

func describe(v *ir.Value) valueInfo {
	if v == nil {
		return valueInfo{}
	}
	info := valueInfo{Name: v.Name, Const: v.IsConst()}
	if v.Type.DType == ir.InvalidDType {
		return info
	}
	info.DType = v.Type.DType.String()
	info.Shape = make([]any, len(v.Type.Shape))
	for i, d := range v.Type.Shape {
		if d.Known() {
			info.Shape[i] = d.Size
		} else {
			info.Shape[i] = d.String()
		}
	}
	info.typ = v.Type.String()
	info.known = true
	return info
}

func (r *report) writeJSON(w io.Writer) error {
	// An empty list, not null, so consumers can range without a check.
	if r.Nodes == nil {
		r.Nodes = []nodeInfo{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

func (r *report) writeText(w io.Writer) error {
	var b strings.Builder
	header := [][2]string{{"model", r.Model}}
	if r.Format == "onnx" {
		header = append(header, [2]string{"format", fmt.Sprintf("ONNX (ir_version %d, opset %d, producer %q)", r.IRVersion, r.Opset, r.Producer)})
	} else {
		header = append(header, [2]string{"format", "sqc IR text"})
	}
	header = append(header, [2]string{"graph", r.Graph})
	for _, v := range r.Inputs {
		header = append(header, [2]string{"input", v.Name + " " + v.text()})
	}
	for _, v := range r.Outputs {
		header = append(header, [2]string{"output", v.Name + " " + v.text()})
	}
	for _, h := range header {
		fmt.Fprintf(&b, "%-8s %s\n", h[0], h[1])
	}
	b.WriteByte('\n')

	t := table{right: []bool{true, false, false, false, false, true, true}}
	t.add("#", "NAME", "OP", "INPUTS", "OUTPUTS", "PARAMS", "MACS")
	for i, n := range r.Nodes {
		t.add(fmt.Sprint(i), orDash(n.Name), n.Op, typeList(n.Inputs), typeList(n.Outputs), count(n.Params), count(n.MACs))
	}
	t.write(&b)

	fmt.Fprintf(&b, "\nnodes %d (%d in the IR), params %s, MACs %s", r.Totals.Nodes, r.Totals.IRNodes, count(r.Totals.Params), count(r.Totals.MACs))
	if len(r.Dims) > 0 {
		fmt.Fprintf(&b, " at %s", formatDims(r.Dims))
	}
	b.WriteByte('\n')
	if len(r.implicit) > 0 {
		fmt.Fprintf(&b, "(MACs take %s as 1; set sizes with --dim %s=SIZE)\n", strings.Join(r.implicit, ", "), r.implicit[0])
	}
	sp := table{right: []bool{false, false, false}}
	for _, n := range r.Nodes {
		if n.Sparsity != "" {
			sp.add(orDash(n.Name), n.Op, n.Sparsity)
		}
	}
	if len(sp.rows) > 0 {
		b.WriteString("\n2:4 sparsity of the layers that could have it (along the reduction dim):\n")
		sp.write(&b)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// text writes a value's type for the table: f32[N,3,32,32], "?" when the
// IR has no type for it, "-" for an omitted input.
func (v valueInfo) text() string {
	switch {
	case v.known:
		return v.typ
	case v.Name == "":
		return "-"
	}
	return "?"
}

func typeList(vs []valueInfo) string {
	parts := make([]string, len(vs))
	for i, v := range vs {
		parts[i] = v.text()
	}
	return strings.Join(parts, " ")
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// count writes n with thousands separators, "?" when unknown (negative).
func count(n int64) string {
	if n < 0 {
		return "?"
	}
	s := fmt.Sprint(n)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// table lays out rows in columns two spaces apart, numbers right-aligned
// (text/tabwriter aligns every column the same way).
type table struct {
	right []bool
	rows  [][]string
}

func (t *table) add(cells ...string) { t.rows = append(t.rows, cells) }

func (t *table) write(b *strings.Builder) {
	width := make([]int, len(t.right))
	for _, row := range t.rows {
		for i, c := range row {
			width[i] = max(width[i], len([]rune(c)))
		}
	}
	for _, row := range t.rows {
		var line strings.Builder
		for i, c := range row {
			pad := strings.Repeat(" ", width[i]-len([]rune(c)))
			if i > 0 {
				line.WriteString("  ")
			}
			if t.right[i] {
				line.WriteString(pad + c)
			} else {
				line.WriteString(c + pad)
			}
		}
		b.WriteString(strings.TrimRight(line.String(), " "))
		b.WriteByte('\n')
	}
}
