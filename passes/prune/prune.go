package prune

import (
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"

	"github.com/sqc-project/sqc/ir"
	"github.com/sqc-project/sqc/passes"
	"github.com/sqc-project/sqc/passes/dataopt"
	"github.com/sqc-project/sqc/passes/prune/layer"
	"github.com/sqc-project/sqc/passes/prune/permute"
)

// The methods that choose masks.
const (
	Magnitude = "magnitude"
	SparseGPT = "sparsegpt"
	// Existing keeps every weight as it is: layers whose weights already
	// follow the pattern are claimed, the others stay dense.
	Existing = "existing"
	// Auto is sparsegpt when calibration data is given (option data), else
	// magnitude: one-shot magnitude masks lose 1–2.5 points of top-1 where
	// SparseGPT loses under 0.5, but SparseGPT cannot run without data.
	Auto = "auto"
)

// methodOf resolves a layer's method option: auto becomes sparsegpt or
// magnitude according to whether there is calibration data.
func methodOf(o passes.Options) string {
	m := o.String("method")
	if m == Auto {
		if o.String("data") != "" {
			return SparseGPT
		}
		return Magnitude
	}
	return m
}

// The first-layer and last-layer policies.
const (
	PolicySkip  = "skip"
	PolicyPrune = "prune"
)

// NoteKey is the key of the note every candidate layer gets: "2:4 (...)"
// when it is sparse, "dense: <reason>" when it is not.
const NoteKey = "sparsity"

// PermuteNoteKey is the key of the note a pruned layer gets when
// permutation was asked for: what the search gained, or why it did not run.
const PermuteNoteKey = "permute"

// Pass is the prune pass.
var Pass = &passes.Pass{
	Name: "prune",
	Doc:  "make the weights of Conv, Gemm and MatMul layers N:M sparse (2:4) along their reduction dimension",
	Options: append([]passes.Option{
		{Name: "pattern", Kind: passes.RatioKind, Default: passes.Ratio{N: 2, M: 4},
			Doc: "N:M: at most N non-zeros in every M consecutive weights along the reduction (2:4 for sparse Tensor Cores)"},
		{Name: "method", Kind: passes.String, Default: Magnitude, Enum: []string{Magnitude, SparseGPT, Auto, Existing},
			Doc: "how masks are chosen: magnitude (keep the largest |w| of each group), sparsegpt (calibration data, with compensating updates), auto (sparsegpt when data is set, else magnitude) or existing (change no weight: claim the pattern where the weights already follow it, as a sparse fine-tuned QAT export's do)"},
		{Name: "permute", Kind: passes.Bool, Default: false,
			Doc: "permute input channels (and the producers' output channels) so that masks keep more magnitude"},
		{Name: "permute-effort", Kind: passes.Float, Default: permute.DefaultOptions.Effort, Min: 0, Max: 1e6,
			Doc: "work budget of the permutation search, in multiples of one pass over a domain's weights"},
		{Name: "require-existing", Kind: passes.Bool, Default: false,
			Doc: "only accept weights that already follow the pattern (a model pruned by ASP and fine-tuned): error on any other"},
		{Name: "min-out-channels", Kind: passes.Int, Default: int64(64), Min: 0, Max: 1 << 30,
			Doc: "layers with fewer output channels stay dense (sparse kernels pay off on wide layers)"},
		{Name: "out-channel-multiple", Kind: passes.Int, Default: int64(32), Min: 1, Max: 1 << 20,
			Doc: "layers whose output-channel count is not a multiple of this stay dense"},
		{Name: "skip", Kind: passes.SelectorKind, Default: passes.Selector{},
			Doc: "layers to leave dense"},
		{Name: "first-layer", Kind: passes.String, Default: PolicySkip, Enum: []string{PolicySkip, PolicyPrune},
			Doc: "whether the layers nearest the inputs (no weighted layer before them) are pruned"},
		{Name: "last-layer", Kind: passes.String, Default: PolicySkip, Enum: []string{PolicySkip, PolicyPrune},
			Doc: "whether the layers nearest the outputs (no weighted layer after them) are pruned"},
		{Name: "pad", Kind: passes.Bool, Default: true,
			Doc: "pad a reduction that is not a multiple of M with zero channels (a Pad on the input) instead of leaving the layer dense"},
		{Name: "sensitivity", Kind: passes.Bool, Default: false,
			Doc: "measure what pruning each layer alone costs the network's output on the data (if any), and note it (sqc compile --report sets it)"},
		{Name: "keep-dense", Kind: passes.Int, Default: int64(0), Min: 0, Max: 1 << 20,
			Doc: "keep this many pruned layers dense after all: those whose pruning alone costs the network's output most on the data (needs data)"},
		{Name: "max-output-error", Kind: passes.Float, Default: 0.0, Min: 0, Max: 1e9,
			Doc: "keep the worst pruned layers dense until the output errors of those left 2:4 sum to at most this (relative squared error, measured on the data; 0: no target)"},
	}, append(dataopt.Options("sparsegpt's calibration data", false, freeBatch), []passes.Option{
		{Name: "damp", Kind: passes.Float, Default: 0.01, Min: 0, Max: 10,
			Doc: "sparsegpt: Hessian damping relative to its mean diagonal"},
		{Name: "block-size", Kind: passes.Int, Default: int64(128), Min: 4, Max: 1 << 16,
			Doc: "sparsegpt: columns updated together (the paper's lazy batch)"},
		{Name: "hessian-block", Kind: passes.Int, Default: int64(4608), Min: 0, Max: 1 << 20,
			Doc: "sparsegpt: widest reduction whose Hessian is inverted whole; wider layers are split into independent blocks (0: no limit)"},
		{Name: "sequential", Kind: passes.Bool, Default: true,
			Doc: "sparsegpt: calibrate each layer on the outputs of the layers already pruned (as the paper does), not of the dense model"},
	}...)...),
	Run: run,
}

func init() { passes.Register(Pass) }

// cand is one candidate layer and what the pass decided for it.
type cand struct {
	l    *layer.Layer
	opts passes.Options
	n, m int
	// dense is the reason the layer stays dense, "" when it is pruned.
	dense string
	// padded records "C→C'" when the reduction was padded.
	padded string
	// existing is set when the weight already follows the pattern.
	existing bool
	// sharedWith names the layer whose pruning covered this one's weight.
	sharedWith string
	// before is the magnitude a mask keeps without permutation; after with.
	before, after float64
	permNote      string
	// gptNote says how SparseGPT's output error compares with magnitude's.
	gptNote string
	// orig is the weight before pruning (after any permutation).
	orig *ir.Tensor
	// outputError is the network's output error with this layer alone
	// pruned, when keep-dense or max-output-error measured it (else -1).
	outputError float64
}

type state struct {
	c         *passes.Context
	g         *ir.Graph
	producers map[*ir.Value]*ir.Node
	users     map[*ir.Value][]*ir.Node
	names     *ir.Namer
	cands     []*cand
	byNode    map[*ir.Node]*cand
	// padded memoises the Pads of activations: a value read by several
	// layers is padded once per size and axis.
	padded map[padKey]*ir.Value
	// inserted maps a node to the nodes to place before it.
	inserted map[*ir.Node][]*ir.Node
}

func run(c *passes.Context) (any, error) {
	s := &state{c: c, g: c.Graph, names: ir.NewNamer(c.Graph), byNode: map[*ir.Node]*cand{},
		padded: map[padKey]*ir.Value{}, inserted: map[*ir.Node][]*ir.Node{}}
	s.index()
	if err := s.collect(); err != nil {
		return nil, err
	}
	if len(s.cands) == 0 {
		return nil, nil
	}
	s.decide()
	if err := s.pad(); err != nil {
		return nil, err
	}
	if err := s.detectExisting(); err != nil {
		return nil, err
	}
	if err := s.permute(); err != nil {
		return nil, err
	}
	if err := s.prune(); err != nil {
		return nil, err
	}
	if err := s.keepDense(); err != nil {
		return nil, err
	}
	s.report()
	c.Changed()
	return nil, nil
}

func (s *state) index() {
	s.producers = s.g.Producers()
	s.users = s.g.Users()
}

// fresh returns an unused value name made from base, and reserves it.
func (s *state) fresh(base string) string { return s.names.Fresh(base) }

// collect finds the candidate layers; an op that could be one but whose
// weight is not usable gets its reason as a note.
func (s *state) collect() error {
	for _, n := range s.g.Nodes {
		l, why := layer.Of(n, s.producers)
		if l == nil {
			if why != "" {
				n.Note(NoteKey, "dense: "+why)
				s.c.Count("layers dense", 1)
			}
			continue
		}
		opts := s.c.OptionsFor(n)
		r := opts.Ratio("pattern")
		cd := &cand{l: l, opts: opts, n: r.N, m: r.M, outputError: -1}
		s.cands = append(s.cands, cd)
		s.byNode[n] = cd
	}
	return nil
}

// decide applies the eligibility rules, in the order a user reads them:
// an explicit exclusion first, then what the op can't do, then policy.
func (s *state) decide() {
	first, last := s.ends()
	for _, cd := range s.cands {
		cd.dense = s.eligible(cd, first, last)
	}
	// A weight shared by several layers is pruned once, for all of them:
	// only when every one of them may be pruned, with the same pattern.
	byConst := map[*ir.Value][]*cand{}
	var order []*ir.Value
	for _, cd := range s.cands {
		if _, ok := byConst[cd.l.Const]; !ok {
			order = append(order, cd.l.Const)
		}
		byConst[cd.l.Const] = append(byConst[cd.l.Const], cd)
	}
	for _, v := range order {
		group := byConst[v]
		if len(group) < 2 {
			continue
		}
		var why string
		for _, cd := range group {
			if cd.dense != "" {
				why = fmt.Sprintf("weight %q is shared with %s, which stays dense", v.Name, cd.l.Node.Name)
				break
			}
			if cd.n != group[0].n || cd.m != group[0].m || cd.l.Axis != group[0].l.Axis || cd.l.Kind != group[0].l.Kind {
				why = fmt.Sprintf("weight %q is shared by layers that want different patterns", v.Name)
				break
			}
		}
		if why == "" {
			continue
		}
		for _, cd := range group {
			if cd.dense == "" {
				cd.dense = why
			}
		}
	}
}

// eligible returns why a layer stays dense, or "".
func (s *state) eligible(cd *cand, first, last map[*ir.Node]bool) string {
	l, o := cd.l, cd.opts
	switch {
	case o.Selector("skip").Match(l.Node):
		return "excluded by skip"
	case l.Kind == layer.Conv && l.Group > 1:
		if l.In == 1 {
			return fmt.Sprintf("depthwise conv (group %d): no reduction over channels to prune", l.Group)
		}
		return fmt.Sprintf("grouped conv (group %d): sparse kernels take group 1", l.Group)
	case cd.n >= cd.m:
		return fmt.Sprintf("pattern %d:%d keeps every weight", cd.n, cd.m)
	case first[l.Node] && o.String("first-layer") == PolicySkip:
		return "first layer (first-layer = skip)"
	case last[l.Node] && o.String("last-layer") == PolicySkip:
		return "last layer (last-layer = skip)"
	case int64(l.Rows) < o.Int("min-out-channels"):
		return fmt.Sprintf("%d output channels, want at least %d (min-out-channels)", l.Rows, o.Int("min-out-channels"))
	case int64(l.Rows)%o.Int("out-channel-multiple") != 0:
		return fmt.Sprintf("%d output channels, want a multiple of %d (out-channel-multiple)", l.Rows, o.Int("out-channel-multiple"))
	case l.In%cd.m != 0:
		if why := s.padBlocker(cd); why != "" {
			return fmt.Sprintf("%d %s, want a multiple of %d (%s)", l.In, reductionWord(l), cd.m, why)
		}
	}
	return ""
}

func reductionWord(l *layer.Layer) string {
	if l.Kind == layer.Conv {
		return "input channels"
	}
	return "inputs"
}

// ends finds the first and last layers: those with no other candidate
// layer before them (between them and the graph inputs) and after them.
func (s *state) ends() (first, last map[*ir.Node]bool) {
	isLayer := map[*ir.Node]bool{}
	for _, cd := range s.cands {
		isLayer[cd.l.Node] = true
	}
	// up[v]: a layer computes something v depends on.
	up := map[*ir.Value]bool{}
	first = map[*ir.Node]bool{}
	for _, n := range s.g.Nodes {
		dep := false
		for _, v := range n.Inputs {
			dep = dep || up[v]
		}
		if isLayer[n] && !dep {
			first[n] = true
		}
		for _, v := range n.Outputs {
			up[v] = dep || isLayer[n]
		}
	}
	// down[v]: a layer reads something computed from v.
	down := map[*ir.Value]bool{}
	last = map[*ir.Node]bool{}
	for i := len(s.g.Nodes) - 1; i >= 0; i-- {
		n := s.g.Nodes[i]
		dep := false
		for _, v := range n.Outputs {
			dep = dep || down[v]
		}
		if isLayer[n] && !dep {
			last[n] = true
		}
		for _, v := range n.Inputs {
			if v != nil {
				down[v] = down[v] || dep || isLayer[n]
			}
		}
	}
	return first, last
}

// live returns the candidates that will be pruned (not dense).
func (s *state) live() []*cand {
	var out []*cand
	for _, cd := range s.cands {
		if cd.dense == "" {
			out = append(out, cd)
		}
	}
	return out
}

// refresh re-reads a candidate's layer after its node's inputs changed.
func (s *state) refresh(cd *cand) error {
	l, why := layer.Of(cd.l.Node, s.producers)
	if l == nil {
		return fmt.Errorf("node %s: after rewriting, %s", cd.l.Node.Name, why)
	}
	cd.l = l
	return nil
}

// detectExisting finds the weights that already follow the pattern and
// keeps their masks; with require-existing, any other weight is an error.
func (s *state) detectExisting() error {
	var errs []error
	for _, cd := range s.live() {
		v := cd.l.CheckNM(cd.n, cd.m)
		if v == nil {
			cd.existing = true
			continue
		}
		if cd.opts.String("method") == Existing {
			cd.dense = fmt.Sprintf("weights do not follow %d:%d and method existing changes none", cd.n, cd.m)
			continue
		}
		if cd.opts.Bool("require-existing") {
			what := "has more"
			if v.NonZeros > 0 {
				what = fmt.Sprintf("has %d non-zeros at %s", v.NonZeros, cd.l.Where(v.Row, v.Col, cd.m))
			}
			errs = append(errs, fmt.Errorf("layer %s (%s): weight %q is not %d:%d along %s: the group %s; require-existing wants weights already pruned (by ASP, say) before export",
				cd.l.Node.Name, cd.l.Node.Op, cd.l.Const.Name, cd.n, cd.m, reductionWord(cd.l), what))
		}
	}
	return errors.Join(errs...)
}

// permute searches and applies channel permutations for the domains of
// the layers that asked for one.
func (s *state) permute() error {
	type job struct {
		d     *permute.Domain
		cols  [][]float32
		n, m  int
		eff   float64
		res   permute.Result
		cands []*cand
	}
	idx := permute.NewIndex(s.g)
	done := map[*ir.Value]bool{}
	var jobs []*job
	for _, cd := range s.live() {
		if !cd.opts.Bool("permute") || cd.existing || done[cd.l.Data] {
			continue
		}
		d, err := permute.Find(idx, cd.l.Data, cd.l.DataAxis)
		if err != nil {
			cd.permNote = "not permuted: " + err.Error()
			s.c.Count("layers not permuted", 1)
			continue
		}
		for _, v := range d.Values {
			done[v] = true
		}
		j := &job{d: d, n: cd.n, m: cd.m, eff: cd.opts.Float("permute-effort")}
		var ls []*layer.Layer
		why := ""
		for _, l := range d.Consumers {
			o := s.byNode[l.Node]
			switch {
			case o == nil || o.dense != "":
				continue // permuted along, but its weights don't count
			case o.existing:
				why = fmt.Sprintf("layer %s's weight is already %d:%d", l.Node.Name, o.n, o.m)
			case !o.opts.Bool("permute"):
				why = fmt.Sprintf("layer %s, which reads the same channels, has permute = false", l.Node.Name)
			case o.n != cd.n || o.m != cd.m:
				why = fmt.Sprintf("layers reading the same channels want different patterns (%s: %d:%d)", l.Node.Name, o.n, o.m)
			}
			if why != "" {
				break
			}
			ls = append(ls, l)
			j.cands = append(j.cands, o)
		}
		if why == "" && d.Channels%cd.m != 0 {
			why = fmt.Sprintf("%d channels, not a multiple of %d", d.Channels, cd.m)
		}
		if why != "" {
			for _, o := range j.cands {
				o.permNote = "not permuted: " + why
			}
			cd.permNote = "not permuted: " + why
			continue
		}
		cols, err := permute.Columns(ls, d.Channels)
		if err != nil {
			return err
		}
		j.cols = cols
		jobs = append(jobs, j)
	}
	// The searches are independent: run them on every core.
	task := s.c.Progress().Start("prune (permutation search)", "channel domains", len(jobs))
	var wg sync.WaitGroup
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	for _, j := range jobs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			o := permute.DefaultOptions
			o.Effort = j.eff
			j.res = permute.Search(j.cols, j.n, j.m, o)
			task.Add(1)
		}()
	}
	wg.Wait()
	task.End(true)
	for _, j := range jobs {
		j.cols = nil
		changed := false
		for i, p := range j.res.Perm {
			changed = changed || i != p
		}
		note := fmt.Sprintf("%d channels, %s: kept %.1f%% → %.1f%% of |w| (%d swaps)",
			j.d.Channels, plural(len(j.cands), "layer"), 100*j.res.Before, 100*j.res.After, j.res.Swaps)
		if !changed {
			note = fmt.Sprintf("%d channels, %s: no better order found (kept %.1f%% of |w|)", j.d.Channels, plural(len(j.cands), "layer"), 100*j.res.Before)
		} else {
			// Each layer's share before the permutation, for its note.
			for _, cd := range j.cands {
				abs := cd.l.Abs32()
				cd.before = layer.Retained(abs, layer.MagnitudeMask(abs, cd.l.Rows, cd.l.Cols(), cd.n, cd.m))
			}
			if err := j.d.Apply(j.res.Perm); err != nil {
				return fmt.Errorf("permuting the channels read by %s: %w", j.cands[0].l.Node.Name, err)
			}
			s.c.Count("channel domains permuted", 1)
		}
		for _, cd := range j.cands {
			cd.permNote = note
		}
	}
	if len(jobs) > 0 {
		// Permuting may have given layers new weight values (with names
		// the permute package chose).
		s.index()
		s.names = ir.NewNamer(s.g)
		for _, cd := range s.cands {
			if err := s.refresh(cd); err != nil {
				return err
			}
		}
	}
	return nil
}

// prune computes and applies the masks.
func (s *state) prune() error {
	byConst := map[*ir.Value][]*cand{}
	var order []*ir.Value
	for _, cd := range s.live() {
		if _, ok := byConst[cd.l.Const]; !ok {
			order = append(order, cd.l.Const)
		}
		byConst[cd.l.Const] = append(byConst[cd.l.Const], cd)
	}
	var gpt []*cand
	for _, v := range order {
		group := byConst[v]
		cd := group[0]
		for _, o := range group[1:] {
			o.sharedWith = cd.l.Node.Name
			o.existing = cd.existing
		}
		if cd.existing {
			s.claim(cd)
			continue
		}
		cd.orig = cd.l.Const.Const
		if methodOf(cd.opts) == SparseGPT {
			gpt = append(gpt, cd)
			continue
		}
		abs := cd.l.Abs32()
		keep := layer.MagnitudeMask(abs, cd.l.Rows, cd.l.Cols(), cd.n, cd.m)
		cd.after = layer.Retained(abs, keep)
		t, err := cd.l.Masked(keep)
		if err != nil {
			return err
		}
		s.setWeight(cd, group, t)
		s.c.Count("weights zeroed", zeros(keep))
	}
	if len(gpt) > 0 {
		return s.sparseGPT(gpt, byConst)
	}
	return nil
}

// plural writes "1 layer", "3 layers".
func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

func zeros(keep []bool) int {
	n := 0
	for _, k := range keep {
		if !k {
			n++
		}
	}
	return n
}

// setWeight stores the pruned data t of cd's constant and claims the
// pattern on it. The constant is changed in place when the layers of group
// are its only readers; otherwise they get a new constant.
func (s *state) setWeight(cd *cand, group []*cand, t *ir.Tensor) {
	v := cd.l.Const
	readers := map[*ir.Node]bool{}
	for _, o := range group {
		if o.l.Quant != nil {
			readers[o.l.Quant.Dequant] = true
			if o.l.Quant.Quantize != nil {
				readers[o.l.Quant.Quantize] = true
				delete(readers, o.l.Quant.Dequant)
			}
		} else {
			readers[o.l.Node] = true
		}
	}
	private := !s.g.IsOutput(v)
	for _, u := range s.users[v] {
		private = private && readers[u]
	}
	if private {
		v.Const = t
		s.claim(cd)
		return
	}
	nv := ir.NewConst(s.fresh(v.Name+".sparse"), t)
	nv.Type.Layout = v.Type.Layout
	nv.Quant = v.Quant
	for r := range readers {
		for i, in := range r.Inputs {
			if in == v {
				r.Inputs[i] = nv
			}
		}
	}
	for _, o := range group {
		o.l.Const = nv
	}
	s.claim(cd)
}

// claim records the pattern on the weight's constant.
func (s *state) claim(cd *cand) {
	cd.l.Const.Sparsity = &ir.Sparsity{N: cd.n, M: cd.m, Axis: cd.l.Axis}
}

// report writes every candidate's note and the statistics.
func (s *state) report() {
	for _, cd := range s.cands {
		n := cd.l.Node
		if cd.dense != "" {
			n.Note(NoteKey, "dense: "+cd.dense)
			s.c.Count("layers dense", 1)
			continue
		}
		var parts []string
		switch {
		case cd.sharedWith != "":
			parts = append(parts, "shared weight, pruned with "+cd.sharedWith)
		case cd.existing:
			parts = append(parts, "existing mask")
			s.c.Count("layers already sparse", 1)
		default:
			method := methodOf(cd.opts)
			if cd.opts.String("method") == Auto {
				if method == SparseGPT {
					method += ", chosen by auto as calibration data was given"
				} else {
					method += ", chosen by auto without calibration data"
				}
			}
			p := fmt.Sprintf("%s, kept %.1f%% of |w|", method, 100*cd.after)
			if cd.before > 0 && methodOf(cd.opts) == Magnitude {
				// The same mask rule on the unpermuted weight; SparseGPT's
				// masks are chosen differently, so the permute note's
				// magnitude figures are the comparison there.
				p += fmt.Sprintf(", %.1f%% without permutation", 100*cd.before)
			}
			parts = append(parts, p)
			s.c.Count("layers pruned", 1)
		}
		if cd.padded != "" {
			parts = append(parts, cd.padded)
		}
		if cd.gptNote != "" {
			parts = append(parts, cd.gptNote)
		}
		if cd.outputError >= 0 {
			parts = append(parts, fmt.Sprintf("network output error %.2g with it alone pruned", cd.outputError))
		}
		n.Note(NoteKey, fmt.Sprintf("%d:%d (%s)", cd.n, cd.m, strings.Join(parts, "; ")))
		if cd.permNote != "" {
			n.Note(PermuteNoteKey, cd.permNote)
		}
	}
}

// Summary returns one line per candidate layer of g, "name: note", in node
// order: what sqc inspect and the compile report print. Layers without a
// sparsity note (the pass has not run) are left out.
func Summary(g *ir.Graph) []string {
	var out []string
	for _, n := range g.Nodes {
		if note, ok := n.Notes[NoteKey]; ok {
			line := n.Name + ": " + note
			if p, ok := n.Notes[PermuteNoteKey]; ok {
				line += " [permute: " + p + "]"
			}
			out = append(out, line)
		}
	}
	return out
}

// Detected is what Detect found on one layer.
type Detected struct {
	Node, Op string
	// Sparse is set when the weight follows the pattern along its reduction.
	Sparse bool
	// Text says so in the words of the pass's notes: "2:4 (weights follow
	// the pattern)" or "dense: <why>".
	Text string
}

// Detect reports, for every layer of g (a Conv, Gemm or MatMul that could
// be pruned), whether its weight is n:m sparse along its reduction,
// exactly, from the data alone. It is what inspect shows for a model that
// carries no notes, such as an ONNX file exported after prune (ONNX has no
// place for sparsity claims, but the zeros are in the weights).
func Detect(g *ir.Graph, n, m int) []Detected {
	producers := g.Producers()
	var out []Detected
	for _, node := range g.Nodes {
		l, why := layer.Of(node, producers)
		if l == nil {
			if why != "" {
				out = append(out, Detected{Node: node.Name, Op: node.Op, Text: "dense: " + why})
			}
			continue
		}
		d := Detected{Node: node.Name, Op: node.Op}
		switch v := l.CheckNM(n, m); {
		case l.Kind == layer.Conv && l.Group > 1:
			d.Text = fmt.Sprintf("dense: grouped conv (group %d)", l.Group)
		case v == nil:
			d.Sparse = true
			d.Text = fmt.Sprintf("%d:%d (weights follow the pattern)", n, m)
		case v.NonZeros < 0:
			d.Text = fmt.Sprintf("dense: %d %s, not a multiple of %d", l.In, reductionWord(l), m)
		default:
			d.Text = fmt.Sprintf("dense: %d non-zeros at %s", v.NonZeros, l.Where(v.Row, v.Col, m))
		}
		out = append(out, d)
	}
	return out
}
