package kernels

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// allGemmConfigs lists every variant the tests generate.
func allGemmConfigs() []GemmConfig {
	var cs []GemmConfig
	for _, sp := range []bool{false, true} {
		for _, res := range []bool{false, true} {
			for _, pipe := range []GemmConfig{{}, {Stages: 4, SharedWeights: true}, {Stages: 3, SharedWeights: true, WideN: true},
				{Stages: 4, SharedWeights: true, WideN: true, WideBlock: true},
				{Stages: 3, SharedWeights: true, WideN: true, SplitM: true}, {Stages: 3, SharedWeights: true, WideN: true, LateCopy: true},
				{Stages: 3, SharedWeights: true, WideN: true, SplitM: true, LateCopy: true},
				{Stages: 3, SharedWeights: true, WideN: true, DoubleK: true}, {Stages: 3, SharedWeights: true, WideN: true, SplitM: true, LateCopy: true, DoubleK: true},
				{Stages: 3, SharedWeights: true, WideN: true, Interleave: true}, {Stages: 3, SharedWeights: true, WideN: true, SplitM: true, Interleave: true},
				{Stages: 3, SharedWeights: true, WideN: true, Interleave: true, Unroll: true}} {
				// Residual kernels come with byte loads and with the
				// residual tile (ResidualTile).
				rts := []bool{false}
				if res {
					rts = append(rts, true)
				}
				for _, rt := range rts {
					c := pipe
					c.Sparse, c.Residual, c.ResidualTile = sp, res, rt
					cs = append(cs, c)
					c.StoreVec = true
					cs = append(cs, c)
					for _, act := range []string{"none", "relu", "clip"} {
						c := pipe
						c.Sparse, c.Residual, c.ResidualTile, c.OutF32, c.Act = sp, res, rt, true, act
						cs = append(cs, c)
						c.StoreVec = true
						cs = append(cs, c)
					}
				}
			}
		}
	}
	// Each with split-K, where it is valid.
	for _, c := range cs {
		if c.SplitK = true; c.Validate() == nil {
			cs = append(cs, c)
		}
	}
	return cs
}

var (
	reDecl     = regexp.MustCompile(`^\.reg \.\w+ (%\w+)(?:<(\d+)>)?;$`)
	reReg      = regexp.MustCompile(`%[A-Za-z_][A-Za-z0-9_]*`)
	reLabelDef = regexp.MustCompile(`^(\$L_\w+):$`)
	reLabelUse = regexp.MustCompile(`\$L_\w+`)
	reParamDef = regexp.MustCompile(`\.param \.\w+ (p_\w+)`)
	reParamUse = regexp.MustCompile(`\[(p_\w+)\]`)
)

// specialRegs are PTX's predefined registers the kernels read.
var specialRegs = map[string]bool{"%tid": true, "%ctaid": true, "%nctaid": true}

// lintPTX checks the generated text the way a careful reader would before
// ptxas sees it: every register used is declared once (parameterized
// declarations such as %acc<64> cover %acc0…%acc63), every label used is
// defined, every parameter read is declared, braces balance, and every
// statement ends in a semicolon.
func lintPTX(t *testing.T, name, text string) {
	t.Helper()
	lintWith(t, name, text)
}

// errorer is what the linter reports to: a *testing.T, or a recorder in
// the linter's own test.
type errorer interface {
	Errorf(format string, args ...any)
	Helper()
}

func lintWith(t errorer, name, text string) {
	t.Helper()
	// Registers and labels are scoped to their function: lint each entry
	// on its own.
	chunks := strings.Split(text, "\n.visible .entry ")
	for i, c := range chunks {
		if i > 0 {
			c = ".visible .entry " + c
		}
		lintFunc(t, name, c)
	}
}

func lintFunc(t errorer, name, text string) {
	t.Helper()
	declared := map[string]bool{}
	labels := map[string]bool{}
	params := map[string]bool{}
	depth := 0
	lines := strings.Split(text, "\n")
	for _, line := range lines {
		s := strings.TrimSpace(line)
		if m := reDecl.FindStringSubmatch(s); m != nil {
			names := []string{m[1]}
			if m[2] != "" {
				// ptxas does not accept %ih00 for a declaration
				// %ih0<4>: a parameterized name must not end in a digit.
				if last := m[1][len(m[1])-1]; last >= '0' && last <= '9' {
					t.Errorf("%s: parameterized register %s<%s> ends in a digit (ptxas declares no %s0)", name, m[1], m[2], m[1])
				}
				n, _ := strconv.Atoi(m[2])
				names = names[:0]
				for i := 0; i < n; i++ {
					names = append(names, fmt.Sprintf("%s%d", m[1], i))
				}
			}
			for _, r := range names {
				if declared[r] {
					t.Errorf("%s: register %s declared twice", name, r)
				}
				declared[r] = true
			}
		}
		if m := reLabelDef.FindStringSubmatch(s); m != nil {
			if labels[m[1]] {
				t.Errorf("%s: label %s defined twice", name, m[1])
			}
			labels[m[1]] = true
		}
		for _, m := range reParamDef.FindAllStringSubmatch(s, -1) {
			params[m[1]] = true
		}
	}
	for i, line := range lines {
		s := strings.TrimSpace(line)
		if c := strings.Index(s, "//"); c >= 0 {
			s = strings.TrimSpace(s[:c])
		}
		if s == "" {
			continue
		}
		depth += strings.Count(s, "{") - strings.Count(s, "}")
		if strings.HasPrefix(s, ".reg") {
			continue
		}
		for _, r := range reReg.FindAllString(s, -1) {
			if !declared[r] && !specialRegs[r] {
				t.Errorf("%s line %d: register %s is not declared: %s", name, i+1, r, s)
			}
		}
		for _, l := range reLabelUse.FindAllString(s, -1) {
			if !labels[l] {
				t.Errorf("%s line %d: label %s is not defined", name, i+1, l)
			}
		}
		for _, m := range reParamUse.FindAllStringSubmatch(s, -1) {
			if !params[m[1]] {
				t.Errorf("%s line %d: parameter %s is not declared", name, i+1, m[1])
			}
		}
		statement := !strings.HasPrefix(s, ".") && !strings.HasSuffix(s, ":") && s != "{" && s != "}" && s != ")" &&
			!strings.HasSuffix(s, "(") && !strings.HasPrefix(s, ".param")
		if statement && !strings.HasSuffix(s, ";") {
			t.Errorf("%s line %d: statement does not end in ';': %s", name, i+1, s)
		}
	}
	if depth != 0 {
		t.Errorf("%s: braces do not balance (depth %d at the end)", name, depth)
	}
}

// TestGemmPTXLint lints every GEMM variant and checks what each must and
// must not contain.
func TestGemmPTXLint(t *testing.T) {
	names := map[string]bool{}
	for _, c := range allGemmConfigs() {
		text, err := c.PTX()
		if err != nil {
			t.Fatal(err)
		}
		name := c.Name()
		if names[name] {
			t.Errorf("two variants are named %s", name)
		}
		names[name] = true
		lintPTX(t, name, text)
		if !strings.Contains(text, ".visible .entry "+name+"(") {
			t.Errorf("%s: entry not found", name)
		}
		sp := strings.Count(text, "mma.sp::ordered_metadata.sync.aligned.m16n8k64.row.col.s32.s8.s8.s32")
		dn := strings.Count(text, "mma.sync.aligned.m16n8k32.row.col.s32.s8.s8.s32")
		mi, pt, kp := c.warpTiles(), c.pixelTiles(), c.stepsPerStage()
		if c.Unroll {
			kp = 3 // the loop's two steps and an odd KT's last one (the text's count, not a stage's)
		}
		if c.Sparse && (sp != kp*pt*mi || dn != 0) {
			t.Errorf("%s: %d mma.sp and %d mma.sync, want %d and 0 (%d channel tiles × %d pixel tiles × one k64, %d steps a stage)", name, sp, dn, kp*pt*mi, mi, pt, kp)
		}
		if !c.Sparse && (dn != 2*kp*pt*mi || sp != 0) {
			t.Errorf("%s: %d mma.sync and %d mma.sp, want %d and 0 (%d × %d × two k32, %d steps a stage)", name, dn, sp, 2*kp*pt*mi, mi, pt, kp)
		}
		x4, x2 := strings.Count(text, "ldmatrix.sync.aligned.m8n8.x4.shared.b16"), strings.Count(text, "ldmatrix.sync.aligned.m8n8.x2.shared.b16")
		if c.halvesApart() && (x4 != 0 || x2 != 2*kp*pt) || !c.halvesApart() && (x4 != kp*pt || x2 != 0) {
			t.Errorf("%s: %d ldmatrix.x4 and %d .x2 (pixel tiles %d, k32 halves apart %v)", name, x4, x2, pt, c.halvesApart())
		}
		// The epilogue's arithmetic must be exactly rounded, each step:
		// no fma, and every float multiply and add carries .rn.
		for _, bad := range []string{"fma.", "mad.f32", "mul.f32", "add.f32", ".ftz"} {
			if strings.Contains(text, bad) {
				t.Errorf("%s: contains %q, which could change the reference's rounding", name, bad)
			}
		}
		wantMul := 4 * pt * mi // one an accumulator
		if c.Residual {
			wantMul *= 2
		}
		if n := strings.Count(text, "mul.rn.f32"); n != wantMul {
			t.Errorf("%s: %d mul.rn.f32, want %d", name, n, wantMul)
		}
		if c.OutF32 == strings.Contains(text, "cvt.rni.s32.f32") {
			t.Errorf("%s: int8 rounding present = %v, want %v", name, !c.OutF32, !c.OutF32)
		}
		// StoreVec: every output byte staged in shared memory, then whole
		// 16-byte chunks to global memory (8·pt rows × 16·tiles bytes over
		// 32 lanes), no byte stores to global memory.
		// A float32 output staged (StoreVec): every element to shared
		// memory, then 16-byte chunks (8·pt rows × 64·tiles bytes over 32
		// lanes, whatever the passes), no element stores to global memory.
		if c.StoreVec && c.OutF32 {
			st32, st16, sh32 := strings.Count(text, "st.global.f32"), strings.Count(text, "st.global.v4.u32"), strings.Count(text, "st.shared.b32 [%sfe+")
			if st32 != 0 || st16 != pt*mi || sh32 != 4*pt*mi {
				t.Errorf("%s: %d global float stores, %d 16-byte stores, %d staged floats; want 0, %d, %d", name, st32, st16, sh32, pt*mi, 4*pt*mi)
			}
		}
		if c.OutF32 && !c.StoreVec && strings.Count(text, "st.global.f32") != 4*pt*mi {
			t.Errorf("%s: %d float stores, want %d", name, strings.Count(text, "st.global.f32"), 4*pt*mi)
		}
		if c.StoreVec && !c.OutF32 {
			st8, st16, sh8 := strings.Count(text, "st.global.s8"), strings.Count(text, "st.global.v4.u32"), strings.Count(text, "st.shared.u8")
			if st8 != 0 || st16 != pt*mi/4 || sh8 != 4*pt*mi {
				t.Errorf("%s: %d global byte stores, %d 16-byte stores, %d staged bytes; want 0, %d, %d", name, st8, st16, sh8, pt*mi/4, 4*pt*mi)
			}
		}
		// The residual: one byte load an accumulator, from global memory
		// or (ResidualTile) from the warp's tile in shared memory.
		ldg, lds := strings.Count(text, "ld.global.s8"), strings.Count(text, "ld.shared.s8")
		switch {
		case c.ResidualTile && (ldg != 0 || lds != 4*pt*mi):
			t.Errorf("%s: %d global and %d shared residual byte loads, want 0 and %d", name, ldg, lds, 4*pt*mi)
		case c.Residual && !c.ResidualTile && (ldg != 4*pt*mi || lds != 0):
			t.Errorf("%s: %d global and %d shared residual byte loads, want %d and 0", name, ldg, lds, 4*pt*mi)
		}
		again, _ := c.PTX()
		if again != text {
			t.Errorf("%s: generating twice gives different text", name)
		}
	}
}

// TestProbePTXLint lints the probe module.
func TestProbePTXLint(t *testing.T) {
	text := ProbePTX()
	lintPTX(t, "probe", text)
	for _, n := range []string{ProbeSparseOrdered, ProbeSparse, ProbeDense} {
		if !strings.Contains(text, ".visible .entry "+n+"(") {
			t.Errorf("probe module lacks %s", n)
		}
	}
}

// TestLintCatchesMistakes: the linter itself finds an undeclared register,
// an undefined label and a missing semicolon.
func TestLintCatchesMistakes(t *testing.T) {
	bad := ".visible .entry k(\n\t.param .u64 p_x\n)\n{\n\t.reg .b32 %a<2>;\n\tmov.b32 %a2, 0;\n\tbra.uni $L_nowhere_1;\n\tld.param.u64 %a0, [p_y];\n\tret\n}\n"
	rec := &recorder{}
	lintWith(rec, "bad", bad)
	for _, want := range []string{"register %a2 is not declared", "label $L_nowhere_1 is not defined", "parameter p_y is not declared", "does not end in ';'"} {
		if !rec.has(want) {
			t.Errorf("lint did not report %q; got %q", want, rec.msgs)
		}
	}
}

// recorder collects lint messages.
type recorder struct{ msgs []string }

func (r *recorder) Errorf(format string, args ...any) {
	r.msgs = append(r.msgs, fmt.Sprintf(format, args...))
}
func (r *recorder) Helper() {}
func (r *recorder) has(s string) bool {
	for _, m := range r.msgs {
		if strings.Contains(m, s) {
			return true
		}
	}
	return false
}

// TestGemmCheck: parameter validation names what is wrong.
func TestGemmCheck(t *testing.T) {
	c := GemmConfig{Sparse: true}
	ok := GemmParams{M: 100, N: 40, K: 70, NPad: 64, KPad: 128, LDA: 80, LDC: 40, QLo: -100, QHi: 100, ZY: 5}
	if err := c.Check(ok); err != nil {
		t.Fatalf("valid parameters refused: %v", err)
	}
	for _, tc := range []struct {
		mod  func(*GemmParams)
		want string
	}{
		{func(p *GemmParams) { p.LDA = 72 }, "multiple of 16"},
		{func(p *GemmParams) { p.NPad = 48 }, "multiple of 64"},
		{func(p *GemmParams) { p.KPad = 64 }, "≥ K = 70"},
		{func(p *GemmParams) { p.LDC = 39 }, "output row stride"},
		{func(p *GemmParams) { p.QHi = 123 }, "leaves int8"},
		{func(p *GemmParams) { p.M = 0 }, "want positive"},
	} {
		p := ok
		tc.mod(&p)
		if err := c.Check(p); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Check = %v, want an error containing %q", err, tc.want)
		}
	}
	if err := (GemmConfig{Act: "relu"}).Validate(); err == nil {
		t.Error("relu on an int8 output accepted (it belongs in the clamp range)")
	}
	if _, err := (GemmConfig{OutF32: true, Act: "gelu"}).PTX(); err == nil {
		t.Error("unknown activation accepted")
	}
	if err := (GemmConfig{Stages: 5, SharedWeights: true}).Validate(); err == nil || !strings.Contains(err.Error(), "shared memory") {
		t.Errorf("5 dense stages with shared weights (60 KiB): %v, want a shared memory error", err)
	}
	if err := (GemmConfig{Stages: 1}).Validate(); err == nil {
		t.Error("a one-stage pipeline accepted")
	}
}

// TestPTXIsASCII: ptxas refuses a module with any non-ASCII byte, even in
// a comment ("Unexpected non-ASCII character encountered").
func TestPTXIsASCII(t *testing.T) {
	texts := map[string]string{"probe": ProbePTX()}
	for _, c := range allGemmConfigs() {
		text, err := c.PTX()
		if err != nil {
			t.Fatal(err)
		}
		texts[c.Name()] = text
	}
	for name, text := range texts {
		for i, line := range strings.Split(text, "\n") {
			for _, r := range line {
				if r > 127 {
					t.Errorf("%s line %d: non-ASCII %q in %q", name, i+1, r, line)
					break
				}
			}
		}
	}
}

// TestSharedWeightsLayout: with SharedWeights the weights travel by
// cp.async in the activation pipeline (no global weight loads in the K
// loop) and are read from shared memory, and the stage holds what the
// copies write: activations, four weight tiles, four metadata tiles.
func TestSharedWeightsLayout(t *testing.T) {
	for _, sp := range []bool{false, true} {
		c := GemmConfig{Sparse: sp, Stages: 4, SharedWeights: true}
		text, err := c.PTX()
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(text, "ld.global.nc.v4") {
			t.Errorf("%s: global weight loads remain", c.Name())
		}
		wantCopies := 4 + 2 // activations, dense weights (two chunks a thread)
		wantShared := 4     // two tiles × two 16-byte halves
		if sp {
			wantCopies = 4 + 1 + 1 // activations, values, metadata
			wantShared = 2
		}
		// The copies are emitted in the prologue (stages-1 times) and once in the loop.
		if n := strings.Count(text, "cp.async.cg.shared.global"); n != wantCopies*c.Stages {
			t.Errorf("%s: %d cp.async, want %d", c.Name(), n, wantCopies*c.Stages)
		}
		if n := strings.Count(text, "ld.shared.v4.u32"); n != wantShared {
			t.Errorf("%s: %d ld.shared.v4, want %d", c.Name(), n, wantShared)
		}
		want := 4 * (GemmBM*GemmBK + 4*c.tileBytes() + c.eStageBytes())
		if c.SharedBytes() != want || !strings.Contains(text, fmt.Sprintf("smem_x[%d]", want)) {
			t.Errorf("%s: shared memory %d, want %d", c.Name(), c.SharedBytes(), want)
		}
	}
}

// TestLatencyVariants: the 8-warp wide tile (SplitM) asks for two blocks
// an SM and keeps 64 accumulators a thread; LateCopy puts the loop's first
// product before its next-stage copies, the default after them; both keep
// the wide tile's block geometry and have their own names.
func TestLatencyVariants(t *testing.T) {
	for _, sp := range []bool{false, true} {
		base := GemmConfig{Sparse: sp, Stages: 3, SharedWeights: true, WideN: true, StoreVec: true}
		names := map[string]bool{}
		for _, v := range []struct{ m, lc bool }{{false, false}, {true, false}, {false, true}, {true, true}} {
			c := base
			c.SplitM, c.LateCopy = v.m, v.lc
			text, err := c.PTX()
			if err != nil {
				t.Fatal(err)
			}
			name := c.Name()
			if names[name] {
				t.Errorf("%s: name shared with another variant", name)
			}
			names[name] = true
			if c.BN() != 128 || c.SharedBytes() != base.SharedBytes() {
				t.Errorf("%s: block of %d channels, %d bytes shared, want the wide tile's 128 and %d", name, c.BN(), c.SharedBytes(), base.SharedBytes())
			}
			wantThreads, wantAcc := 128, 128
			if v.m {
				wantThreads, wantAcc = 256, 64
			}
			if c.Threads() != wantThreads || !strings.Contains(text, fmt.Sprintf("%%acc<%d>", wantAcc)) {
				t.Errorf("%s: %d threads, want %d with %d accumulators each", name, c.Threads(), wantThreads, wantAcc)
			}
			if got := strings.Contains(text, ".minnctapersm 2"); got != v.m {
				t.Errorf("%s: .minnctapersm 2 present %v, want %v", name, got, v.m)
			}
			// Products per step: 16 channel rows a tile × 8 pixels × 64 K
			// over the warp's 4 channel tiles and its pixel tiles.
			mmas := strings.Count(text, "mma.sync.aligned") + strings.Count(text, "mma.sp::ordered_metadata")
			want := 4 * c.pixelTiles()
			if !sp {
				want *= 2
			}
			if mmas != want {
				t.Errorf("%s: %d products a step, want %d", name, mmas, want)
			}
			loop := text[strings.Index(text, "$L_kloop"):]
			firstMMA := strings.Index(loop, "mma.")
			firstCopy := strings.Index(loop, "cp.async.cg.shared.global")
			if (firstMMA < firstCopy) != v.lc {
				t.Errorf("%s: first product at %d, first copy at %d in the loop; LateCopy %v", name, firstMMA, firstCopy, v.lc)
			}
		}
	}
	// DoubleK: stages of two steps in dynamic shared memory, the loop
	// advancing two tiles a barrier, a second step's copies and products
	// each behind a test against KT.
	for _, sp := range []bool{false, true} {
		one := GemmConfig{Sparse: sp, Stages: 3, SharedWeights: true, WideN: true, SplitM: true, LateCopy: true, StoreVec: true}
		two := one
		two.DoubleK = true
		text, err := two.PTX()
		if err != nil {
			t.Fatal(err)
		}
		if two.SharedBytes() != 2*one.SharedBytes() || two.DynamicShared() != two.SharedBytes() || !strings.Contains(text, ".extern .shared") {
			t.Errorf("%s: %d bytes shared (dynamic %d), want twice the one-step kernel's %d, dynamic", two.Name(), two.SharedBytes(), two.DynamicShared(), one.SharedBytes())
		}
		if !strings.HasSuffix(strings.TrimSuffix(two.Name(), "_v16_s3w"), "_lc_k128") {
			t.Errorf("%s: name without _k128", two.Name())
		}
		for _, want := range []string{"add.u32 %kt, %kt, 2;", fmt.Sprintf("add.u32 %%ktn, %%kt, %d;", 2*(3-1)), fmt.Sprintf("add.u32 %%rsub, %%rst, %d;", one.stageBytes()),
			fmt.Sprintf("add.u32 %%wst, %%wst, %d;", one.stageBytes()), "$L_odd", "$L_noload2"} {
			if !strings.Contains(text, want) {
				t.Errorf("%s: no %q", two.Name(), want)
			}
		}
	}
	for _, c := range []GemmConfig{{SplitM: true, SharedWeights: true}, {SplitM: true, WideN: true, WideBlock: true, SharedWeights: true, Stages: 4},
		{LateCopy: true, SharedWeights: true, Stages: 4}, {DoubleK: true, SharedWeights: true, Stages: 2}} {
		if err := c.Validate(); err == nil {
			t.Errorf("%+v: accepted", c)
		}
	}
}

// noApproxNoF32FMA fails on an approximate instruction or a fused f32
// multiply-add in a kernel that must round as the reference does.
func noApproxNoF32FMA(t *testing.T, name, text string) {
	t.Helper()
	for _, w := range []string{".approx", ".full.", "fma.rn.f32", "mad.f32", "mad.rn.f32", ".ftz"} {
		if strings.Contains(text, w) {
			t.Errorf("%s: %s", name, w)
		}
	}
}
