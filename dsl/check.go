package dsl

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/sqc-project/sqc/passes"
	"github.com/sqc-project/sqc/recipes"
)

// Targets are the GPU architectures a recipe may name: the Ampere
// generation's INT8 Tensor Core instructions (mma.sync and the 2:4 sparse
// mma.sp) that sqc emits, and the later GPUs that run them.
var Targets = []string{"sm_80", "sm_86", "sm_87", "sm_89", "sm_90"}

// archRE matches the names of GPU architectures, supported or not.
var archRE = regexp.MustCompile(`^sm_[0-9]+[a-z]?$`)

// The statement keywords; every other statement is a step named after a pass.
const (
	kwTarget = "target"
	kwBase   = "base"
	kwPlugin = "plugin"
	kwLayers = "layers"
)

// builtinPrefix names the recipes embedded from package recipes in
// positions ("builtin:graph.sqr:3:1").
const builtinPrefix = "builtin:"

// resolved is a checked recipe with its bases applied.
type resolved struct {
	target string
	steps  []*rstep
	files  []string // the recipe files read, bases after the recipe (Files)
}

// rstep is a step of the resolved pipeline.
type rstep struct {
	pass      *passes.Pass
	pos       Pos // where the step was first written (the base's, after a merge)
	options   map[string]any
	overrides []passes.OverrideSpec
}

func (s *rstep) clone() *rstep {
	c := *s
	c.options = make(map[string]any, len(s.options))
	for k, v := range s.options {
		c.options[k] = v
	}
	c.overrides = append([]passes.OverrideSpec(nil), s.overrides...)
	return &c
}

// Check checks the recipe's meaning: statements and steps are known, each
// option exists and its value has the right type and range, per-layer
// blocks are well formed, the base recipe (resolved relative to the
// recipe's file, else among the built-in recipes) checks too, every step's
// required transformations come before it and every required option is
// set. It reports every problem it finds, as an ErrorList sorted by
// position.
//
// Building on a base: the base's steps come first, in its order. A step of
// the recipe whose pass the base already has is merged into every step of
// that pass in the base instead of being added: its options replace the
// base's key by key (an option it does not set keeps the base's value) and
// its layers blocks come after the base's, so they win where both match a
// node. Any other step is appended after the base's steps, in the recipe's
// order. The recipe's target, when it names one, replaces the base's.
func (r *Recipe) Check() error {
	res, errs := r.resolve(nil)
	if errs == nil {
		errs = r.checkPipeline(res)
	}
	if len(errs) > 0 {
		r.checked = nil
		return errs.sort()
	}
	r.checked = res
	return nil
}

// Target returns the GPU architecture the recipe (or its base) names, ""
// when none does. It is valid after a successful Check.
func (r *Recipe) Target() string {
	if r.checked == nil {
		return ""
	}
	return r.checked.target
}

// Pipeline returns the recipe's pipeline, bases applied, as the specs
// passes.Build takes: the options each step sets (typed values) and its
// per-layer overrides. It checks the recipe first if Check has not
// succeeded yet.
func (r *Recipe) Pipeline() ([]passes.StepSpec, error) {
	if r.checked == nil {
		if err := r.Check(); err != nil {
			return nil, err
		}
	}
	specs := make([]passes.StepSpec, len(r.checked.steps))
	for i, s := range r.checked.steps {
		c := s.clone()
		specs[i] = passes.StepSpec{Name: s.pass.Name, Options: c.options, Overrides: c.overrides}
	}
	return specs, nil
}

// checkPipeline checks what only the whole pipeline shows: the order of
// steps and required options. It then has the pass manager build it, which
// must agree.
func (r *Recipe) checkPipeline(res *resolved) ErrorList {
	var errs ErrorList
	firstAt := map[*passes.Pass]int{}
	for i, s := range res.steps {
		if _, ok := firstAt[s.pass]; !ok {
			firstAt[s.pass] = i
		}
	}
	for i, s := range res.steps {
		for _, req := range s.pass.Requires {
			if req.Analysis {
				continue // the manager runs analyses on demand
			}
			j, ok := firstAt[req]
			switch {
			case !ok:
				errs.errorf(s.pos, "step %s requires %s to run before it, but the recipe has no %s step", s.pass.Name, req.Name, req.Name)
			case j > i:
				errs.errorf(s.pos, "step %s requires %s to run before it, but %s comes later (at %s)", s.pass.Name, req.Name, req.Name, at(s.pos, res.steps[j].pos))
			}
		}
		for _, m := range passes.MissingOptions(s.pass, s.options) {
			errs.errorf(s.pos, "step %s needs option %s (it has no default): %s { %s = ... }", s.pass.Name, m, s.pass.Name, m)
		}
	}
	if len(errs) > 0 {
		return errs
	}
	specs := make([]passes.StepSpec, len(res.steps))
	for i, s := range res.steps {
		specs[i] = passes.StepSpec{Name: s.pass.Name, Options: s.options, Overrides: s.overrides}
	}
	if _, err := passes.Build(specs); err != nil {
		// Checked above piece by piece: what is left is the manager's own
		// view (a requirement cycle among passes), with no better place.
		pos := Pos{Filename: r.Filename, Line: 1, Col: 1}
		if len(res.steps) > 0 {
			pos = res.steps[0].pos
		}
		errs.errorf(pos, "%v", err)
	}
	return errs
}

// resolve checks the recipe's statements and applies its base. stack holds
// the files on the way down a chain of bases, to report a cycle.
func (r *Recipe) resolve(stack []string) (*resolved, ErrorList) {
	var errs ErrorList
	res := &resolved{}
	if !r.builtin {
		res.files = []string{r.Filename}
	}
	var own []*rstep
	var basePos *Pos
	var targetPos *Pos
	firstStep := -1
	for i, st := range r.Stmts {
		switch st.Name {
		case kwTarget:
			if targetPos != nil {
				errs.errorf(st.Pos, "target named twice (first at %s)", at(st.Pos, *targetPos))
				continue
			}
			p := st.Pos
			targetPos = &p
			if t, ok := r.checkTarget(st, &errs); ok {
				res.target = t
			}
		case kwBase:
			switch {
			case basePos != nil:
				errs.errorf(st.Pos, "a recipe has one base (first at %s)", at(st.Pos, *basePos))
				continue
			case firstStep >= 0:
				errs.errorf(st.Pos, "base must come before the steps (the first step is at %s): the base's steps run first", at(st.Pos, r.Stmts[firstStep].Pos))
			}
			p := st.Pos
			basePos = &p
			base, berrs := r.loadBase(st, stack)
			errs = append(errs, berrs...)
			if base != nil {
				res.steps = base.steps
				res.files = append(res.files, base.files...)
				if res.target == "" {
					res.target = base.target
				}
			}
		case kwPlugin:
			if firstStep < 0 {
				firstStep = i
			}
			if s := r.checkPlugin(st, &errs); s != nil {
				own = append(own, s)
			}
		default:
			if firstStep < 0 {
				firstStep = i
			}
			if s := r.checkStep(st, &errs); s != nil {
				own = append(own, s)
			}
		}
	}
	res.steps = merge(res.steps, own)
	return res, errs
}

// merge applies a recipe's steps to its base's (see Check for the rule).
func merge(base, own []*rstep) []*rstep {
	out := make([]*rstep, len(base))
	for i, s := range base {
		out[i] = s.clone()
	}
	n := len(out)
	for _, s := range own {
		merged := false
		for _, b := range out[:n] {
			if b.pass != s.pass {
				continue
			}
			for k, v := range s.options {
				b.options[k] = v
			}
			b.overrides = append(b.overrides, s.overrides...)
			merged = true
		}
		if !merged {
			out = append(out, s)
		}
	}
	return out
}

func (r *Recipe) checkTarget(st *Stmt, errs *ErrorList) (string, bool) {
	if st.Block != nil {
		errs.errorf(st.Block.Pos, "target takes no block")
	}
	if st.Arg == nil || (st.Arg.Kind != WordValue && st.Arg.Kind != StringValue) {
		at := st.Pos
		got := ""
		if st.Arg != nil {
			at, got = st.Arg.Pos, ", got "+r.describe(st.Arg)
		}
		errs.errorf(at, "target needs a GPU architecture, as in: target sm_80%s", got)
		return "", false
	}
	t := st.Arg.Text
	for _, k := range Targets {
		if k == t {
			return t, true
		}
	}
	if archRE.MatchString(t) {
		// A real architecture, not a slip: no "did you mean".
		errs.errorf(st.Arg.Pos, "target %s is not supported; want one of %s", t, strings.Join(Targets, ", "))
	} else {
		errs.errorf(st.Arg.Pos, "unknown target %q%s; want one of %s", t, passes.Suggest(t, Targets), strings.Join(Targets, ", "))
	}
	return "", false
}

// loadBase finds, parses and resolves the base a `base` statement names.
func (r *Recipe) loadBase(st *Stmt, stack []string) (*resolved, ErrorList) {
	var errs ErrorList
	if st.Block != nil {
		errs.errorf(st.Block.Pos, "base takes no block")
	}
	if st.Arg == nil || (st.Arg.Kind != StringValue && st.Arg.Kind != WordValue) {
		at := st.Pos
		if st.Arg != nil {
			at = st.Arg.Pos
		}
		errs.errorf(at, `base needs a recipe file, as in: base "graph.sqr"`)
		return nil, errs
	}
	name := st.Arg.Text
	key, src, err := r.findBase(name)
	if err != nil {
		errs.errorf(st.Arg.Pos, "base %q: %v", name, err)
		return nil, errs
	}
	self := r.key()
	for i, k := range append(stack, self) {
		if k == key {
			chain := append(append([]string(nil), stack[i:]...), self, key)
			for j := range chain {
				chain[j] = displayKey(chain[j])
			}
			errs.errorf(st.Arg.Pos, "base %q: recipes build on each other in a cycle: %s", name, strings.Join(chain, " -> "))
			return nil, errs
		}
	}
	base, err := Parse(displayKey(key), src)
	if err != nil {
		var el ErrorList
		if errors.As(err, &el) {
			return nil, append(errs, el...)
		}
		errs.errorf(st.Arg.Pos, "base %q: %v", name, err)
		return nil, errs
	}
	base.builtin = strings.HasPrefix(key, builtinPrefix)
	res, berrs := base.resolve(append(stack, self))
	return res, append(errs, berrs...)
}

// key identifies the recipe's file for cycle detection.
func (r *Recipe) key() string {
	if r.builtin {
		return r.Filename
	}
	if abs, err := filepath.Abs(r.Filename); err == nil {
		return abs
	}
	return r.Filename
}

// displayKey shortens an absolute path to one relative to the working
// directory when that is shorter.
func displayKey(key string) string {
	if strings.HasPrefix(key, builtinPrefix) {
		return key
	}
	if wd, err := os.Getwd(); err == nil {
		if rel, err := filepath.Rel(wd, key); err == nil && len(rel) < len(key) {
			return rel
		}
	}
	return key
}

// findBase locates a base recipe: relative to the recipe's directory first
// (built-in recipes look among themselves), then, for a bare file name,
// among the built-in recipes. It returns the file's key and contents.
func (r *Recipe) findBase(name string) (string, []byte, error) {
	if !r.builtin {
		p := name
		if !filepath.IsAbs(p) {
			p = filepath.Join(filepath.Dir(r.Filename), p)
		}
		src, err := readRecipe(p)
		if err == nil {
			abs, aerr := filepath.Abs(p)
			if aerr != nil {
				abs = p
			}
			return abs, src, nil
		}
		if !errors.Is(err, fs.ErrNotExist) || strings.ContainsAny(name, `/\`) {
			return "", nil, err
		}
	}
	if path.Base(name) == name && fs.ValidPath(name) {
		if src, err := fs.ReadFile(recipes.FS, name); err == nil {
			return builtinPrefix + name, src, nil
		}
	}
	msg := "no such file"
	if !r.builtin {
		msg += " in " + filepath.Dir(r.Filename)
	}
	return "", nil, fmt.Errorf("%s, and no built-in recipe of that name (built-in: %s)%s", msg, strings.Join(builtinNames(), ", "), passes.Suggest(name, builtinNames()))
}

// builtinNames lists the embedded recipes.
func builtinNames() []string {
	entries, _ := fs.ReadDir(recipes.FS, ".")
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// stepWords are the words a statement may start with, for suggestions.
func stepWords() []string {
	return append(passes.PassNames(), kwTarget, kwBase, kwPlugin)
}

// checkStep checks a step's options and overrides.
func (r *Recipe) checkStep(st *Stmt, errs *ErrorList) *rstep {
	p := passes.Lookup(st.Name)
	if p == nil {
		errs.errorf(st.Pos, "unknown step %q%s", st.Name, passes.Suggest(st.Name, stepWords()))
		return nil
	}
	if st.Arg != nil {
		errs.errorf(st.Arg.Pos, "step %s takes no argument, got %s; options go in braces: %s { key = value }", p.Name, r.describe(st.Arg), p.Name)
	}
	s := &rstep{pass: p, pos: st.Pos, options: map[string]any{}}
	r.checkBlock(s, st.Block, nil, errs)
	return s
}

// checkBlock checks the options and per-layer blocks of a step's block into
// s; the items skip picks (a plugin step's sha256) are the caller's.
func (r *Recipe) checkBlock(s *rstep, b *Block, skip func(*Item) bool, errs *ErrorList) {
	if b == nil {
		return
	}
	p := s.pass
	seen := map[string]Pos{}
	for _, it := range b.Items {
		if skip != nil && skip(it) {
			continue
		}
		if it.Key == kwLayers || it.IsOverride() {
			if o, ok := r.checkOverride(p, it, errs); ok {
				s.overrides = append(s.overrides, o)
			}
			continue
		}
		if v, ok := r.checkOption(p, it, seen, errs); ok {
			s.options[it.Key] = v
		}
	}
}

// checkOverride checks a `layers SELECTOR { options }` item.
func (r *Recipe) checkOverride(p *passes.Pass, it *Item, errs *ErrorList) (passes.OverrideSpec, bool) {
	o := passes.OverrideSpec{Options: map[string]any{}}
	switch {
	case it.Key != kwLayers:
		errs.errorf(it.Pos, "unknown block %q%s; a per-layer block is written: layers name(\"layer4.*\") { key = value }", it.Key, passes.Suggest(it.Key, []string{kwLayers}))
		return o, false
	case !it.IsOverride():
		errs.errorf(it.Pos, `layers takes a selector and a block, as in: layers name("layer4.*") { key = value }`)
		return o, false
	}
	ok := true
	sel, err := r.selector(it.Value)
	switch {
	case err != nil:
		errs.errorf(it.Value.Pos, "layers: %v", err)
		ok = false
	case len(sel.Patterns) == 0:
		errs.errorf(it.Value.Pos, "layers: an empty selector matches no layer")
		ok = false
	}
	o.Select = sel
	seen := map[string]Pos{}
	for _, in := range it.Block.Items {
		if in.Key == kwLayers || in.IsOverride() {
			errs.errorf(in.Pos, "layers blocks do not nest; write each selector's block at the step's level")
			ok = false
			continue
		}
		if v, vok := r.checkOption(p, in, seen, errs); vok {
			o.Options[in.Key] = v
		} else {
			ok = false
		}
	}
	return o, ok
}

// checkOption checks one key = value against the pass's schema and returns
// the typed value.
func (r *Recipe) checkOption(p *passes.Pass, it *Item, seen map[string]Pos, errs *ErrorList) (any, bool) {
	decl := passes.OptionOf(p, it.Key)
	if decl == nil {
		if len(p.Options) == 0 {
			errs.errorf(it.Pos, "unknown option %q: step %s has no options", it.Key, p.Name)
		} else {
			errs.errorf(it.Pos, "unknown option %q for step %s%s", it.Key, p.Name, passes.Suggest(it.Key, passes.OptionNames(p)))
		}
		return nil, false
	}
	if first, dup := seen[it.Key]; dup {
		errs.errorf(it.Pos, "option %s set twice in one block (first at %s)", it.Key, at(it.Pos, first))
		return nil, false
	}
	seen[it.Key] = it.Pos
	v, err := r.typed(decl, it.Value)
	if err == nil {
		v, err = passes.CheckOption(p, it.Key, v)
	}
	if err != nil {
		errs.errorf(it.Value.Pos, "option %s of %s: %v", it.Key, p.Name, err)
		return nil, false
	}
	return v, true
}

// typed converts a value as written to the Go type of the option's kind,
// or says what was wanted.
func (r *Recipe) typed(o *passes.Option, v *Value) (any, error) {
	wrong := func(want string) error { return fmt.Errorf("want %s, got %s", want, r.describe(v)) }
	switch o.Kind {
	case passes.Bool:
		if v.Kind == WordValue && (v.Text == "true" || v.Text == "false") {
			return v.Text == "true", nil
		}
		return nil, wrong("true or false")
	case passes.Int:
		if v.Kind != IntValue {
			return nil, wrong("an integer")
		}
		n, err := strconv.ParseInt(v.Text, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("integer %s does not fit in 64 bits", v.Text)
		}
		return n, nil
	case passes.Float:
		if v.Kind != IntValue && v.Kind != FloatValue {
			return nil, wrong("a number")
		}
		f, err := strconv.ParseFloat(v.Text, 64)
		if err != nil || math.IsInf(f, 0) {
			return nil, fmt.Errorf("number %s is out of the range of a float64", v.Text)
		}
		return f, nil
	case passes.String:
		if v.Kind != WordValue && v.Kind != StringValue {
			return nil, wrong("a word or a string")
		}
		return v.Text, nil
	case passes.Strings:
		if v.Kind != ListValue {
			return nil, wrong(`a list such as [a, "b c"]`)
		}
		// Numbers are taken as written: a pass declares a list of numbers
		// (mean = [0.485, 0.456, 0.406]) as a list of strings and parses it.
		out := []string{}
		for _, e := range v.Elems {
			switch e.Kind {
			case WordValue, StringValue, IntValue, FloatValue:
				out = append(out, e.Text)
			default:
				return nil, fmt.Errorf("list element %s: want a word, a string or a number", r.describe(e))
			}
		}
		return out, nil
	case passes.RatioKind:
		if v.Kind != RatioValue {
			return nil, wrong("a ratio such as 2:4")
		}
		return passes.ParseRatio(v.Text)
	case passes.SelectorKind:
		return r.selector(v)
	}
	return nil, fmt.Errorf("option kind %v is not supported by recipes", o.Kind)
}

// selector reads a layer selector: name("glob"), op("glob"), name(/re/),
// op(/re/), a bare /re/ (over node names), or a list of these (any of them
// picks a node; [] picks none).
func (r *Recipe) selector(v *Value) (passes.Selector, error) {
	var sel passes.Selector
	elems := []*Value{v}
	if v.Kind == ListValue {
		elems = v.Elems
	}
	for _, e := range elems {
		var (
			p   passes.Pattern
			err error
		)
		switch e.Kind {
		case RegexpValue:
			p, err = passes.NewPattern("name", "", e.Text)
		case CallValue:
			if e.Text != "name" && e.Text != "op" {
				return sel, fmt.Errorf("unknown selector %s(...)%s; want name(...) or op(...)", e.Text, passes.Suggest(e.Text, []string{"name", "op"}))
			}
			if len(e.Elems) != 1 || (e.Elems[0].Kind != StringValue && e.Elems[0].Kind != RegexpValue) {
				return sel, fmt.Errorf(`%s(...) takes one glob in quotes or one /regexp/, got %s`, e.Text, r.describe(e))
			}
			if a := e.Elems[0]; a.Kind == StringValue {
				p, err = passes.NewPattern(e.Text, a.Text, "")
			} else {
				p, err = passes.NewPattern(e.Text, "", a.Text)
			}
		default:
			return sel, fmt.Errorf(`want a layer selector such as name("layer4.*"), op("Conv") or /^conv\d+$/, got %s`, r.describe(e))
		}
		if err != nil {
			return sel, err
		}
		sel.Patterns = append(sel.Patterns, p)
	}
	return sel, nil
}

// describe names a value and quotes its text, for messages.
func (r *Recipe) describe(v *Value) string {
	text := valueText(v)
	if v.Pos.Offset < v.End.Offset && v.End.Offset <= len(r.src) {
		text = string(r.src[v.Pos.Offset:v.End.Offset])
	}
	if n := 40; len([]rune(text)) > n {
		text = string([]rune(text)[:n]) + "..."
	}
	return v.Kind.String() + " " + text
}

// at writes position p for a message placed at from: LINE:COL when both
// are in the same file, FILE:LINE:COL otherwise (a base's step).
func at(from, p Pos) string {
	if p.Filename == from.Filename {
		return fmt.Sprintf("%d:%d", p.Line, p.Col)
	}
	return p.String()
}
