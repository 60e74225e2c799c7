package kernels

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/sqc-project/sqc/backend/ampere/pack"
	"github.com/sqc-project/sqc/ir/ref"
)

// A CPU interpreter for the PTX the GEMM emitters write: enough of the
// language (the instructions they use, one kernel a module) to run a
// kernel's blocks on the CPU, so that a kernel's address arithmetic,
// pipeline and epilogue can be checked bit for bit on a machine without a
// GPU. The threads of a block run in lockstep, one instruction for all of
// them at a time; branches must be uniform (the kernels branch with
// bra.uni on block-uniform predicates only). The warp-collective
// instructions (ldmatrix, mma) gather their lanes' registers; the Tensor
// Core products use package pack's instruction models.
//
// cp.async copies are applied when a cp.async.wait_group retires them
// (the latest the hardware may land them), and shared memory is watched
// for races a lockstep run would hide: a byte read while a copy to it is
// in flight, a copy or store to a byte another thread read since the last
// barrier, and a byte another thread wrote (or a retired copy landed)
// read without a barrier between (a warp barrier suffices inside a warp).
// Global accesses outside the buffers are errors, as compute-sanitizer's
// memcheck would report them.

type simOp int

const (
	opMov simOp = iota
	opAdd32
	opAdd64
	opSub32
	opSub64
	opMulLo32
	opMulWide
	opMadWide
	opMad32
	opShl32
	opShr32
	opShl64
	opAnd32
	opXor32
	opDiv32
	opRem32
	opMin32s
	opMin32u
	opMax32s
	opMinF
	opMaxF
	opSetp
	opSelp
	opAndPred
	opNotPred
	opCvtU64U32
	opCvtU32U64
	opCvtF32S32
	opCvtRniS32F32
	opMulF
	opAddF
	opLdParam
	opLdGlobal
	opStGlobal
	opLdShared
	opStShared
	opCpAsync
	opCommit
	opWait
	opBar
	opBarWarp
	opFence
	opAtomAdd
	opRedAdd
	opLdmatrix
	opMmaDense
	opMmaSparse
	opBra
	opRet
	opBfeU32
	opBfeS32
	// The op kernels' (the stem's input quantize).
	opDivF
	opAddSat
	opBfi
	// The float product kernels' (the float convolution, the batched
	// MatMul, the transposed convolution).
	opFmaF
	opOrPred
)

// simArg is a decoded operand.
type simArg struct {
	kind int // 0 register, 1 immediate, 2 memory [reg+off], 3 memory [param], 4 vector, 5 special
	reg  int
	imm  uint64
	off  int64
	name string
	vec  []int
}

type simInst struct {
	op      simOp
	text    string
	guard   int // register index, -1 none
	negate  bool
	args    []simArg
	width   int    // access width in bytes (loads, stores, copies)
	signed  bool   // ld.global.s8, ld.shared.s8
	cmp     string // setp
	target  int    // branch target
	vecN    int    // vector length of v2/v4 accesses
	is64    bool   // selp.b64, mov.u64
	paramTy string // ld.param type
	nan     bool   // min/max.NaN: a NaN operand gives NaN
}

type simKernel struct {
	name   string
	regs   map[string]int
	params []string
	smem   int
	insts  []simInst
}

var simSpecial = map[string]bool{"%tid.x": true, "%ctaid.x": true, "%ctaid.y": true, "%ctaid.z": true, "%nctaid.x": true, "%nctaid.z": true}

// parseSim decodes the module text of one kernel.
func parseSim(text string, dynShared int) (*simKernel, error) {
	k := &simKernel{regs: map[string]int{}, smem: dynShared}
	labels := map[string]int{}
	var pending []struct {
		inst  int
		label string
	}
	for ln, line := range strings.Split(text, "\n") {
		s := strings.TrimSpace(line)
		if c := strings.Index(s, "//"); c >= 0 {
			s = strings.TrimSpace(s[:c])
		}
		switch {
		case s == "" || s == "{" || s == "}" || s == ")" || strings.HasPrefix(s, ".version") || strings.HasPrefix(s, ".target") ||
			strings.HasPrefix(s, ".address_size") || strings.HasPrefix(s, ".maxntid") || strings.HasPrefix(s, ".minnctapersm") ||
			strings.HasPrefix(s, ".extern"):
			continue
		case strings.HasPrefix(s, ".visible .entry "):
			k.name = strings.TrimSuffix(strings.TrimPrefix(s, ".visible .entry "), "(")
			continue
		case strings.HasPrefix(s, ".param "):
			f := strings.Fields(strings.TrimSuffix(s, ","))
			k.params = append(k.params, f[2])
			continue
		case strings.HasPrefix(s, ".shared "):
			i, j := strings.Index(s, "["), strings.Index(s, "]")
			n, err := strconv.Atoi(s[i+1 : j])
			if err != nil {
				return nil, fmt.Errorf("line %d: %s", ln+1, s)
			}
			k.smem = n
			continue
		case strings.HasPrefix(s, ".reg "):
			f := strings.Fields(strings.TrimSuffix(s, ";"))
			name := f[2]
			if i := strings.Index(name, "<"); i >= 0 {
				n, _ := strconv.Atoi(name[i+1 : len(name)-1])
				for j := 0; j < n; j++ {
					k.regs[fmt.Sprintf("%s%d", name[:i], j)] = len(k.regs)
				}
			} else {
				k.regs[name] = len(k.regs)
			}
			continue
		case strings.HasSuffix(s, ":"):
			labels[strings.TrimSuffix(s, ":")] = len(k.insts)
			continue
		}
		in, label, err := k.decode(strings.TrimSuffix(s, ";"))
		if err != nil {
			return nil, fmt.Errorf("line %d %q: %v", ln+1, s, err)
		}
		if label != "" {
			pending = append(pending, struct {
				inst  int
				label string
			}{len(k.insts), label})
		}
		k.insts = append(k.insts, in)
	}
	for _, p := range pending {
		t, ok := labels[p.label]
		if !ok {
			return nil, fmt.Errorf("label %s undefined", p.label)
		}
		k.insts[p.inst].target = t
	}
	return k, nil
}

// splitOperands splits at top-level commas.
func splitOperands(s string) []string {
	var out []string
	depth, start := 0, 0
	for i, c := range s {
		switch c {
		case '{', '[':
			depth++
		case '}', ']':
			depth--
		case ',':
			if depth == 0 {
				out = append(out, strings.TrimSpace(s[start:i]))
				start = i + 1
			}
		}
	}
	if t := strings.TrimSpace(s[start:]); t != "" {
		out = append(out, t)
	}
	return out
}

func (k *simKernel) operand(s string) (simArg, error) {
	switch {
	case strings.HasPrefix(s, "{"):
		var a simArg
		a.kind = 4
		for _, r := range strings.Split(strings.Trim(s, "{}"), ",") {
			i, ok := k.regs[strings.TrimSpace(r)]
			if !ok {
				return a, fmt.Errorf("register %s", r)
			}
			a.vec = append(a.vec, i)
		}
		return a, nil
	case strings.HasPrefix(s, "["):
		in := strings.Trim(s, "[]")
		if strings.HasPrefix(in, "p_") || len(in) > 1 && in[0] == 'p' && in[1] >= '0' && in[1] <= '9' { // a GEMM's or an op kernel's parameter
			return simArg{kind: 3, name: in}, nil
		}
		reg, off := in, int64(0)
		if i := strings.Index(in, "+"); i >= 0 {
			reg = in[:i]
			v, err := strconv.ParseInt(in[i+1:], 10, 64)
			if err != nil {
				return simArg{}, err
			}
			off = v
		}
		i, ok := k.regs[reg]
		if !ok {
			return simArg{}, fmt.Errorf("register %s", reg)
		}
		return simArg{kind: 2, reg: i, off: off}, nil
	case simSpecial[s]:
		return simArg{kind: 5, name: s}, nil
	case s == "smem_x":
		return simArg{kind: 5, name: s}, nil
	case strings.HasPrefix(s, "%"):
		i, ok := k.regs[s]
		if !ok {
			return simArg{}, fmt.Errorf("register %s", s)
		}
		return simArg{kind: 0, reg: i}, nil
	case strings.HasPrefix(s, "0f"):
		v, err := strconv.ParseUint(s[2:], 16, 32)
		return simArg{kind: 1, imm: v}, err
	case strings.HasPrefix(s, "0x"):
		v, err := strconv.ParseUint(s[2:], 16, 64)
		return simArg{kind: 1, imm: v}, err
	default:
		v, err := strconv.ParseInt(s, 10, 64)
		return simArg{kind: 1, imm: uint64(v)}, err
	}
}

func (k *simKernel) decode(s string) (simInst, string, error) {
	in := simInst{guard: -1}
	if strings.HasPrefix(s, "@") {
		sp := strings.IndexByte(s, ' ')
		g := s[1:sp]
		if strings.HasPrefix(g, "!") {
			in.negate, g = true, g[1:]
		}
		i, ok := k.regs[g]
		if !ok {
			return in, "", fmt.Errorf("guard %s", g)
		}
		in.guard = i
		s = strings.TrimSpace(s[sp+1:])
	}
	in.text = s
	opc, rest := s, ""
	if sp := strings.IndexByte(s, ' '); sp >= 0 {
		opc, rest = s[:sp], s[sp+1:]
	}
	var label string
	switch {
	case opc == "bra.uni", opc == "bra": // an op kernel's exit: uniform where the test keeps whole blocks
		in.op, label = opBra, strings.TrimSpace(rest)
		return in, label, nil
	case opc == "ret":
		in.op = opRet
	case opc == "bfe.u32":
		in.op = opBfeU32
	case opc == "bfe.s32":
		in.op = opBfeS32
	case opc == "cp.async.commit_group":
		in.op = opCommit
	case opc == "cp.async.wait_group":
		in.op = opWait
	case opc == "bar.sync":
		in.op = opBar
	case opc == "bar.warp.sync":
		in.op = opBarWarp
	case opc == "mov.u32" || opc == "mov.b32" || opc == "mov.f32":
		in.op = opMov
	case opc == "mov.u64":
		in.op, in.is64 = opMov, true
	case opc == "add.u32" || opc == "add.s32":
		in.op = opAdd32
	case opc == "add.u64" || opc == "add.s64":
		in.op = opAdd64
	case opc == "sub.u32" || opc == "sub.s32":
		in.op = opSub32
	case opc == "sub.u64":
		in.op = opSub64
	case opc == "mul.lo.u32" || opc == "mul.lo.s32":
		in.op = opMulLo32
	case opc == "mul.wide.u32":
		in.op = opMulWide
	case opc == "mad.wide.u32":
		in.op = opMadWide
	case opc == "mad.lo.u32":
		in.op = opMad32
	case opc == "shl.b32":
		in.op = opShl32
	case opc == "shr.u32":
		in.op = opShr32
	case opc == "shl.b64":
		in.op = opShl64
	case opc == "and.b32":
		in.op = opAnd32
	case opc == "xor.b32":
		in.op = opXor32
	case opc == "div.u32":
		in.op = opDiv32
	case opc == "rem.u32":
		in.op = opRem32
	case opc == "min.s32":
		in.op = opMin32s
	case opc == "min.u32":
		in.op = opMin32u
	case opc == "fence.acq_rel.gpu":
		// Blocks run one after another: every store is visible to the
		// blocks after it.
		in.op = opFence
	case opc == "atom.global.add.u32" || opc == "atom.acq_rel.gpu.global.add.u32":
		in.op, in.width = opAtomAdd, 4
	case opc == "red.relaxed.gpu.global.add.s32":
		in.op, in.width = opRedAdd, 4
	case opc == "max.s32":
		in.op = opMax32s
	case opc == "min.f32":
		in.op = opMinF
	case opc == "max.f32":
		in.op = opMaxF
	case opc == "min.NaN.f32":
		in.op, in.nan = opMinF, true
	case opc == "max.NaN.f32":
		in.op, in.nan = opMaxF, true
	case strings.HasPrefix(opc, "setp."):
		f := strings.Split(opc, ".")
		if f[2] != "u32" && f[2] != "s32" {
			return in, "", fmt.Errorf("setp type %s", f[2])
		}
		in.op, in.cmp, in.signed = opSetp, f[1], f[2] == "s32"
	case opc == "selp.b32":
		in.op = opSelp
	case opc == "selp.b64":
		in.op, in.is64 = opSelp, true
	case opc == "and.pred":
		in.op = opAndPred
	case opc == "or.pred":
		in.op = opOrPred
	case opc == "fma.rn.f32":
		in.op = opFmaF
	case opc == "not.pred":
		in.op = opNotPred
	case opc == "cvt.u64.u32":
		in.op = opCvtU64U32
	case opc == "cvt.u32.u64":
		in.op = opCvtU32U64
	case opc == "cvt.rn.f32.s32":
		in.op = opCvtF32S32
	case opc == "cvt.rni.s32.f32":
		in.op = opCvtRniS32F32
	case opc == "mul.rn.f32":
		in.op = opMulF
	case opc == "add.rn.f32":
		in.op = opAddF
	case opc == "div.rn.f32":
		in.op = opDivF
	case opc == "add.sat.s32":
		in.op = opAddSat
	case opc == "bfi.b32":
		in.op = opBfi
	case opc == "cvta.to.global.u64":
		in.op, in.is64 = opMov, true
	case strings.HasPrefix(opc, "ld.param."):
		in.op, in.paramTy = opLdParam, strings.TrimPrefix(opc, "ld.param.")
	case strings.HasPrefix(opc, "ld.global."):
		in.op = opLdGlobal
		ty := strings.TrimPrefix(opc, "ld.global.")
		ty = strings.TrimPrefix(strings.TrimPrefix(ty, "nc."), "cg.")
		switch ty {
		case "u32", "f32", "b32":
			in.width = 4
		case "s8":
			in.width, in.signed = 1, true
		case "u8": // the byte gather
			in.width = 1
		case "v4.u32", "v4.f32", "v4.b32":
			in.width, in.vecN = 4, 4
		case "v2.f32", "v2.u32":
			in.width, in.vecN = 4, 2
		default:
			return in, "", fmt.Errorf("load %s", opc)
		}
	case strings.HasPrefix(opc, "st.global."):
		in.op = opStGlobal
		switch strings.TrimPrefix(strings.TrimPrefix(opc, "st.global."), "cg.") {
		case "s8", "u8":
			in.width = 1
		case "f32", "u32", "b32":
			in.width = 4
		case "v4.u32", "v4.f32", "v4.b32":
			in.width, in.vecN = 4, 4
		case "v2.u32":
			in.width, in.vecN = 4, 2
		default:
			return in, "", fmt.Errorf("store %s", opc)
		}
	case strings.HasPrefix(opc, "ld.shared."):
		in.op = opLdShared
		switch strings.TrimPrefix(opc, "ld.shared.") {
		case "u32", "f32":
			in.width = 4
		case "s8": // the residual tile (ResidualTile)
			in.width, in.signed = 1, true
		case "v4.u32", "v4.f32": // the batched float MatMul's tiles
			in.width, in.vecN = 4, 4
		default:
			return in, "", fmt.Errorf("load %s", opc)
		}
	case strings.HasPrefix(opc, "st.shared."):
		in.op = opStShared
		switch strings.TrimPrefix(opc, "st.shared.") {
		case "u8":
			in.width = 1
		case "b32", "f32":
			in.width = 4
		case "v2.b32":
			in.width, in.vecN = 4, 2
		case "v4.b32":
			in.width, in.vecN = 4, 4
		default:
			return in, "", fmt.Errorf("store %s", opc)
		}
	case strings.HasPrefix(opc, "cp.async."):
		in.op = opCpAsync
	case opc == "ldmatrix.sync.aligned.m8n8.x4.shared.b16", opc == "ldmatrix.sync.aligned.m8n8.x2.shared.b16":
		in.op = opLdmatrix
	case opc == "mma.sync.aligned.m16n8k32.row.col.s32.s8.s8.s32":
		in.op = opMmaDense
	case opc == "mma.sp::ordered_metadata.sync.aligned.m16n8k64.row.col.s32.s8.s8.s32":
		in.op = opMmaSparse
	default:
		return in, "", fmt.Errorf("opcode %s not simulated", opc)
	}
	for _, o := range splitOperands(rest) {
		a, err := k.operand(o)
		if err != nil {
			return in, "", err
		}
		in.args = append(in.args, a)
	}
	return in, "", nil
}

// simBuffer is a global buffer at a fake device address.
type simBuffer struct {
	base uint64
	data []byte
}

// simMachine runs a kernel's grid, one block after another.
type simMachine struct {
	k       *simKernel
	params  map[string]uint64
	bufs    []*simBuffer
	threads int
	// gridX and gridZ are %nctaid.x and %nctaid.z (0 reads as 1).
	gridX, gridZ uint32
}

const simSmemBase = 0x400

// newBuffer registers a buffer and returns its device address.
func (m *simMachine) newBuffer(data []byte) uint64 {
	b := &simBuffer{base: uint64(len(m.bufs)+1) << 36, data: data}
	m.bufs = append(m.bufs, b)
	return b.base
}

// naturallyAligned says whether an access of n bytes at addr is aligned
// as the hardware requires (a vector access to its whole size); other
// sizes (a cp.async's partial source) are not checked here.
func naturallyAligned(addr uint64, n int) bool {
	switch n {
	case 2, 4, 8, 16:
		return addr%uint64(n) == 0
	}
	return true
}

func (m *simMachine) global(addr uint64, n int) ([]byte, error) {
	if !naturallyAligned(addr, n) {
		return nil, fmt.Errorf("global access of %d bytes at %#x is misaligned (the GPU faults)", n, addr)
	}
	for _, b := range m.bufs {
		if addr >= b.base && addr+uint64(n) <= b.base+uint64(len(b.data)) {
			return b.data[addr-b.base : addr-b.base+uint64(n)], nil
		}
	}
	return nil, fmt.Errorf("global access of %d bytes at %#x outside every buffer", n, addr)
}

// simBlock is one block's state.
type simBlock struct {
	m          *simMachine
	regs       [][]uint64
	smem       []byte
	epoch      int32
	warpEpoch  []int32
	readEpoch  []int32
	reader     []int32 // thread, or -2 for several
	writeEpoch []int32
	writer     []int32
	writeWarpE []int32
	inflight   []bool
	groups     [][][]simCopy // per thread: committed groups, then the open one
	cx, cy, cz uint32

	// readWarp is the warp of a byte's readers since the last block
	// barrier (-2 for several warps) and readWarpE its warp epoch at the
	// latest read: a warp barrier after the reads lets the warp's other
	// threads overwrite the byte (a float32 tile staged in passes).
	readWarp, readWarpE []int32
}

type simCopy struct {
	dst  int
	src  []byte
	size int
}

func (b *simBlock) val(t int, a simArg) uint64 {
	switch a.kind {
	case 0, 2: // a register, or a memory operand's base register
		return b.regs[t][a.reg]
	case 1:
		return a.imm
	case 5:
		switch a.name {
		case "%tid.x":
			return uint64(t)
		case "%ctaid.x":
			return uint64(b.cx)
		case "%ctaid.y":
			return uint64(b.cy)
		case "%ctaid.z":
			return uint64(b.cz)
		case "%nctaid.x":
			return uint64(max(b.m.gridX, 1))
		case "%nctaid.z":
			return uint64(max(b.m.gridZ, 1))
		case "smem_x":
			return simSmemBase
		}
	}
	panic("operand " + fmt.Sprint(a))
}

func (b *simBlock) smemRange(addr uint64, n int) (int, error) {
	if !naturallyAligned(addr, n) {
		return 0, fmt.Errorf("shared access of %d bytes at %d is misaligned (the GPU faults)", n, int64(addr)-simSmemBase)
	}
	o := int64(addr) - simSmemBase
	if o < 0 || o+int64(n) > int64(len(b.smem)) {
		return 0, fmt.Errorf("shared access of %d bytes at %d outside the %d bytes", n, o, len(b.smem))
	}
	return int(o), nil
}

func (b *simBlock) noteRead(t, o, n int) error {
	for i := o; i < o+n; i++ {
		if b.inflight[i] {
			return fmt.Errorf("thread %d reads shared byte %d while a cp.async to it is in flight", t, i)
		}
		if b.writeEpoch[i] == b.epoch && int(b.writer[i]) != t {
			w := int(b.writer[i])
			if w/32 != t/32 || b.writeWarpE[i] == b.warpEpoch[t/32] {
				return fmt.Errorf("thread %d reads shared byte %d written by thread %d without a barrier between", t, i, w)
			}
		}
		if b.readEpoch[i] != b.epoch {
			b.readEpoch[i], b.reader[i], b.readWarp[i] = b.epoch, int32(t), int32(t/32)
		} else {
			if int(b.reader[i]) != t {
				b.reader[i] = -2
			}
			if int(b.readWarp[i]) != t/32 {
				b.readWarp[i] = -2
			}
		}
		b.readWarpE[i] = b.warpEpoch[t/32]
	}
	return nil
}

func (b *simBlock) noteWrite(t, o, n int, async bool) error {
	for i := o; i < o+n; i++ {
		if b.inflight[i] {
			return fmt.Errorf("thread %d writes shared byte %d while a cp.async to it is in flight", t, i)
		}
		if b.readEpoch[i] == b.epoch && int(b.reader[i]) != t && (int(b.readWarp[i]) != t/32 || b.readWarpE[i] == b.warpEpoch[t/32]) {
			return fmt.Errorf("thread %d writes shared byte %d that thread %d read since the last barrier", t, i, b.reader[i])
		}
		if async {
			b.inflight[i] = true
		} else {
			b.writeEpoch[i], b.writer[i], b.writeWarpE[i] = b.epoch, int32(t), b.warpEpoch[t/32]
		}
	}
	return nil
}

// land applies thread t's copy (a retired cp.async).
func (b *simBlock) land(t int, c simCopy) {
	clear(b.smem[c.dst : c.dst+c.size]) // bytes past the source size are zero-filled
	copy(b.smem[c.dst:], c.src)
	for i := c.dst; i < c.dst+c.size; i++ {
		b.inflight[i] = false
		b.writeEpoch[i], b.writer[i], b.writeWarpE[i] = b.epoch, int32(t), b.warpEpoch[t/32]
	}
}

// runThreadwise executes block (cx, cy, cz) one thread after another,
// each following its own branches: for the one-thread-an-element op
// kernels, whose loops and bounds tests diverge and which share nothing
// between threads (no shared memory, no barriers, no warp instructions).
func (m *simMachine) runThreadwise(cx, cy, cz uint32) error {
	k := m.k
	b := &simBlock{m: m, cx: cx, cy: cy, cz: cz}
	for t := 0; t < m.threads; t++ {
		b.regs = append(b.regs, make([]uint64, len(k.regs)))
	}
	for t := 0; t < m.threads; t++ {
	thread:
		for pc := 0; pc < len(k.insts); {
			in := &k.insts[pc]
			pc++
			if in.guard >= 0 && (b.regs[t][in.guard] != 0) == in.negate {
				continue
			}
			switch in.op {
			case opRet:
				break thread
			case opBra:
				pc = in.target
				continue
			case opBar, opBarWarp, opLdmatrix, opMmaDense, opMmaSparse, opLdShared, opStShared, opCpAsync, opCommit, opWait:
				return fmt.Errorf("%q in a kernel run thread by thread", in.text)
			}
			if err := b.exec(t, in); err != nil {
				return fmt.Errorf("block (%d, %d, %d) thread %d %q: %v", cx, cy, cz, t, in.text, err)
			}
		}
	}
	return nil
}

// run executes block (cx, cy, cz).
func (m *simMachine) run(cx, cy, cz uint32) error {
	k := m.k
	b := &simBlock{m: m, cx: cx, cy: cy, cz: cz, smem: make([]byte, k.smem), warpEpoch: make([]int32, m.threads/32)}
	for i := range b.smem {
		b.smem[i] = 0xCD
	}
	n := k.smem
	b.readEpoch, b.reader, b.writeEpoch, b.writer, b.writeWarpE = make([]int32, n), make([]int32, n), make([]int32, n), make([]int32, n), make([]int32, n)
	b.readWarp, b.readWarpE = make([]int32, n), make([]int32, n)
	for i := range b.readEpoch {
		b.readEpoch[i], b.writeEpoch[i] = -1, -1
	}
	b.inflight = make([]bool, n)
	b.regs = make([][]uint64, m.threads)
	b.groups = make([][][]simCopy, m.threads)
	for t := range b.regs {
		b.regs[t] = make([]uint64, len(k.regs))
		b.groups[t] = [][]simCopy{nil}
	}
	for pc := 0; pc < len(k.insts); {
		in := &k.insts[pc]
		pc++
		active := func(t int) bool {
			if in.guard < 0 {
				return true
			}
			return (b.regs[t][in.guard] != 0) != in.negate
		}
		switch in.op {
		case opRet:
			return nil
		case opBra:
			take := active(0)
			for t := 1; t < m.threads; t++ {
				if active(t) != take {
					return fmt.Errorf("divergent branch at %q", in.text)
				}
			}
			if take {
				pc = in.target
			}
			continue
		case opBar:
			b.epoch++
			for w := range b.warpEpoch {
				b.warpEpoch[w]++
			}
			continue
		case opBarWarp:
			for w := range b.warpEpoch {
				b.warpEpoch[w]++
			}
			continue
		case opLdmatrix:
			if err := b.ldmatrix(in); err != nil {
				return fmt.Errorf("%q: %v", in.text, err)
			}
			continue
		case opMmaDense, opMmaSparse:
			if err := b.mma(in); err != nil {
				return fmt.Errorf("%q: %v", in.text, err)
			}
			continue
		}
		for t := 0; t < m.threads; t++ {
			if !active(t) {
				continue
			}
			if err := b.exec(t, in); err != nil {
				return fmt.Errorf("block (%d, %d, %d) thread %d %q: %v", cx, cy, cz, t, in.text, err)
			}
		}
	}
	return nil
}

func (b *simBlock) exec(t int, in *simInst) error {
	r := b.regs[t]
	a := in.args
	v := func(i int) uint64 { return b.val(t, a[i]) }
	v32 := func(i int) uint32 { return uint32(b.val(t, a[i])) }
	f32 := func(i int) float32 { return math.Float32frombits(uint32(b.val(t, a[i]))) }
	set := func(x uint64) { r[a[0].reg] = x }
	set32 := func(x uint32) { r[a[0].reg] = uint64(x) }
	setF := func(x float32) { r[a[0].reg] = uint64(math.Float32bits(x)) }
	switch in.op {
	case opMov:
		if in.is64 {
			set(v(1))
		} else {
			set32(v32(1))
		}
	case opAdd32:
		set32(v32(1) + v32(2))
	case opAdd64:
		set(v(1) + v(2))
	case opSub32:
		set32(v32(1) - v32(2))
	case opSub64:
		set(v(1) - v(2))
	case opMulLo32:
		set32(v32(1) * v32(2))
	case opMulWide:
		set(uint64(v32(1)) * uint64(v32(2)))
	case opMadWide:
		set(uint64(v32(1))*uint64(v32(2)) + v(3))
	case opMad32:
		set32(v32(1)*v32(2) + v32(3))
	case opShl32:
		set32(v32(1) << v32(2))
	case opShr32:
		set32(v32(1) >> v32(2))
	case opShl64:
		set(v(1) << v(2))
	case opAnd32:
		set32(v32(1) & v32(2))
	case opXor32:
		set32(v32(1) ^ v32(2))
	case opDiv32, opRem32:
		if v32(2) == 0 {
			return fmt.Errorf("division by zero")
		}
		if in.op == opDiv32 {
			set32(v32(1) / v32(2))
		} else {
			set32(v32(1) % v32(2))
		}
	case opMin32s:
		set32(uint32(min(int32(v32(1)), int32(v32(2)))))
	case opMin32u:
		set32(min(v32(1), v32(2)))
	case opFence:
	case opAtomAdd:
		mem, err := b.m.global(v(1)+uint64(a[1].off), 4)
		if err != nil {
			return err
		}
		old := le32(mem)
		put32(mem, old+v32(2))
		set32(old)
	case opRedAdd: // red [addr], v: the sum wraps
		mem, err := b.m.global(v(0)+uint64(a[0].off), 4)
		if err != nil {
			return err
		}
		put32(mem, le32(mem)+v32(1))
	case opMax32s:
		set32(uint32(max(int32(v32(1)), int32(v32(2)))))
	case opMinF, opMaxF:
		x, y := f32(1), f32(2)
		switch {
		case in.nan && (x != x || y != y):
			setF(float32(math.NaN()))
		case x != x:
			setF(y)
		case y != y:
			setF(x)
		case in.op == opMinF:
			setF(min(x, y))
		default:
			setF(max(x, y))
		}
	case opSetp:
		x, y := v32(1), v32(2)
		if in.signed {
			// Compare as signed: flip the sign bits.
			x, y = x^1<<31, y^1<<31
		}
		var p bool
		switch in.cmp {
		case "lt":
			p = x < y
		case "le":
			p = x <= y
		case "ge":
			p = x >= y
		case "eq":
			p = x == y
		case "ne":
			p = x != y
		default:
			return fmt.Errorf("setp.%s", in.cmp)
		}
		set(b2u(p))
	case opSelp:
		x := v(2)
		if v(3) != 0 {
			x = v(1)
		}
		if !in.is64 {
			x &= math.MaxUint32
		}
		set(x)
	case opAndPred:
		set(b2u(v(1) != 0 && v(2) != 0))
	case opOrPred:
		set(b2u(v(1) != 0 || v(2) != 0))
	case opFmaF:
		setF(ref.FMA32(f32(1), f32(2), f32(3))) // one rounding, as fma.rn.f32 (ref's tests check FMA32 against math/big and the CPU's FMA)
	case opNotPred:
		set(b2u(v(1) == 0))
	case opBfeU32: // the positions and lengths the kernels use: within the word
		pos, n := v32(2)&255, v32(3)&255
		if pos+n > 32 || n == 0 {
			return fmt.Errorf("bfe.u32 of %d bits at %d", n, pos)
		}
		set32(v32(1) >> pos & (1<<n - 1))
	case opBfeS32: // the positions and lengths the kernels use: within the word
		pos, n := v32(2)&255, v32(3)&255
		if pos+n > 32 || n == 0 {
			return fmt.Errorf("bfe.s32 of %d bits at %d", n, pos)
		}
		set32(uint32(int32(v32(1)<<(32-pos-n)) >> (32 - n)))
	case opDivF:
		setF(f32(1) / f32(2)) // Go's float32 division rounds to nearest even, as .rn
	case opAddSat:
		x := int64(int32(v32(1))) + int64(int32(v32(2)))
		set32(uint32(int32(min(max(x, math.MinInt32), math.MaxInt32))))
	case opBfi:
		pos, n := v32(3)&0xff, v32(4)&0xff
		mask := uint32((uint64(1)<<n)-1) << pos
		set32(v32(2)&^mask | v32(1)<<pos&mask)
	case opCvtU64U32:
		set(uint64(v32(1)))
	case opCvtU32U64:
		set32(uint32(v(1)))
	case opCvtF32S32:
		setF(float32(int32(v32(1))))
	case opCvtRniS32F32:
		x := math.RoundToEven(float64(f32(1)))
		switch {
		case x != x:
			x = 0
		case x > math.MaxInt32:
			x = math.MaxInt32
		case x < math.MinInt32:
			x = math.MinInt32
		}
		set32(uint32(int32(x)))
	case opMulF:
		setF(f32(1) * f32(2))
	case opAddF:
		setF(f32(1) + f32(2))
	case opLdParam:
		p, ok := b.m.params[a[1].name]
		if !ok {
			return fmt.Errorf("parameter %s not given", a[1].name)
		}
		set(p)
	case opLdGlobal:
		n := in.width * max(in.vecN, 1)
		mem, err := b.m.global(v(1)+uint64(a[1].off), n)
		if err != nil {
			return err
		}
		if in.vecN > 0 {
			for i, reg := range a[0].vec {
				r[reg] = uint64(le32(mem[4*i:]))
			}
		} else if in.signed {
			set32(uint32(int32(int8(mem[0]))))
		} else if in.width == 1 {
			set32(uint32(mem[0]))
		} else {
			set32(le32(mem))
		}
	case opStGlobal:
		n := in.width * max(in.vecN, 1)
		mem, err := b.m.global(v(0)+uint64(a[0].off), n)
		if err != nil {
			return err
		}
		if in.vecN > 0 {
			for i, reg := range a[1].vec {
				put32(mem[4*i:], uint32(r[reg]))
			}
		} else if in.width == 1 {
			mem[0] = byte(v32(1))
		} else {
			put32(mem, v32(1))
		}
	case opLdShared:
		n := in.width * max(in.vecN, 1)
		o, err := b.smemRange(v(1)+uint64(a[1].off), n)
		if err != nil {
			return err
		}
		if err := b.noteRead(t, o, n); err != nil {
			return err
		}
		if in.vecN > 0 {
			for i, reg := range a[0].vec {
				r[reg] = uint64(le32(b.smem[o+4*i:]))
			}
		} else if in.signed {
			set32(uint32(int32(int8(b.smem[o]))))
		} else {
			set32(le32(b.smem[o:]))
		}
	case opStShared:
		n := in.width * max(in.vecN, 1)
		o, err := b.smemRange(v(0)+uint64(a[0].off), n)
		if err != nil {
			return err
		}
		if err := b.noteWrite(t, o, n, false); err != nil {
			return err
		}
		if in.vecN > 0 {
			for i, reg := range a[1].vec {
				put32(b.smem[o+4*i:], uint32(r[reg]))
			}
		} else if in.width == 1 {
			b.smem[o] = byte(v32(1))
		} else {
			put32(b.smem[o:], v32(1))
		}
	case opCpAsync:
		size := int(v(2))
		srcSize := size
		if len(a) > 3 {
			srcSize = int(v(3))
		}
		o, err := b.smemRange(v(0)+uint64(a[0].off), size)
		if err != nil {
			return err
		}
		if src := v(1) + uint64(a[1].off); !naturallyAligned(src, size) {
			return fmt.Errorf("cp.async of %d bytes from %#x is misaligned (the GPU faults)", size, src)
		}
		var src []byte
		if srcSize > 0 {
			mem, err := b.m.global(v(1)+uint64(a[1].off), srcSize)
			if err != nil {
				return err
			}
			src = append([]byte(nil), mem...)
		}
		if err := b.noteWrite(t, o, size, true); err != nil {
			return err
		}
		g := b.groups[t]
		g[len(g)-1] = append(g[len(g)-1], simCopy{dst: o, src: src, size: size})
	case opCommit:
		b.groups[t] = append(b.groups[t], nil)
	case opWait:
		keep := int(v(0))
		g := b.groups[t]
		closed := len(g) - 1 // the last is open
		for len(g)-1 > keep && closed > 0 {
			for _, c := range g[0] {
				b.land(t, c)
			}
			g = g[1:]
			closed--
		}
		b.groups[t] = g
	default:
		return fmt.Errorf("not simulated")
	}
	return nil
}

func b2u(p bool) uint64 {
	if p {
		return 1
	}
	return 0
}

func le32(b []byte) uint32 {
	return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24
}

func put32(b []byte, v uint32) {
	b[0], b[1], b[2], b[3] = byte(v), byte(v>>8), byte(v>>16), byte(v>>24)
}

// ldmatrix: lane l gives the address of row l&7 of matrix l>>3; lane l
// receives in register i the four bytes 4·(l&3) of row l>>2 of matrix i.
// With .x2 (two destination registers) only lanes 0..15 give addresses;
// the others' are not read.
func (b *simBlock) ldmatrix(in *simInst) error {
	lanes := 8 * len(in.args[0].vec)
	for w := 0; w < b.m.threads/32; w++ {
		var rows [32]int
		for l := 0; l < lanes; l++ {
			t := 32*w + l
			o, err := b.smemRange(b.val(t, in.args[1])+uint64(in.args[1].off), 16)
			if err != nil {
				return err
			}
			if o%16 != 0 {
				return fmt.Errorf("lane %d: row address %d not 16-byte aligned", l, o)
			}
			if err := b.noteRead(t, o, 16); err != nil {
				return err
			}
			rows[l] = o
		}
		for l := 0; l < 32; l++ {
			for i, reg := range in.args[0].vec {
				o := rows[8*i+l>>2] + 4*(l&3)
				b.regs[32*w+l][reg] = uint64(le32(b.smem[o:]))
			}
		}
	}
	return nil
}

func (b *simBlock) mma(in *simInst) error {
	a := in.args
	for w := 0; w < b.m.threads/32; w++ {
		var d [pack.WarpSize][4]int32
		if in.op == opMmaDense {
			var r pack.DenseRegs
			for l := 0; l < 32; l++ {
				x := b.regs[32*w+l]
				for i := 0; i < 4; i++ {
					r.A[l][i] = uint32(x[a[1].vec[i]])
					r.C[l][i] = int32(uint32(x[a[3].vec[i]]))
				}
				r.B[l][0], r.B[l][1] = uint32(x[a[2].vec[0]]), uint32(x[a[2].vec[1]])
			}
			d = pack.EmulateDense(&r)
		} else {
			if b.val(32*w, a[5]) != 0 {
				return fmt.Errorf("sparsity selector %d", b.val(32*w, a[5]))
			}
			var r pack.SparseRegs
			for l := 0; l < 32; l++ {
				x := b.regs[32*w+l]
				for i := 0; i < 4; i++ {
					r.A[l][i] = uint32(x[a[1].vec[i]])
					r.B[l][i] = uint32(x[a[2].vec[i]])
					r.C[l][i] = int32(uint32(x[a[3].vec[i]]))
				}
				r.E[l] = uint32(b.val(32*w+l, a[4]))
			}
			var err error
			if d, err = pack.EmulateSparse(&r); err != nil {
				return err
			}
		}
		for l := 0; l < 32; l++ {
			for i := 0; i < 4; i++ {
				b.regs[32*w+l][a[0].vec[i]] = uint64(uint32(d[l][i]))
			}
		}
	}
	return nil
}
