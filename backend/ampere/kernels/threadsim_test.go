package kernels

import (
	"encoding/binary"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// A second CPU interpreter of PTX, for the float op kernels (softmax, the
// unary math, elementwise, reduction and normalization kernels): those
// give each thread its own row or element and branch per thread (a loop
// over a row, an early exit, a band of a polynomial), which the lockstep
// interpreter of ptxsim_test.go, made for the GEMM's block-uniform
// branches, does not model. Threads share no memory but their outputs, so
// running them one after another is what the GPU computes. Every float
// instruction is modelled by the Go operation with the same IEEE rounding
// (add.rn.f64 as +, fma.rn.f64 as math.FMA, cvt.rn.f32.f64 as float32(),
// ...) and the PTX ISA's rules for NaN and signed zeros (min/max return
// the number when one operand is NaN, max.NaN the NaN; cvt.rzi of NaN is
// 0; ordered and unordered compares), so a kernel that agrees with ir/ref
// here agrees on the GPU. An instruction it does not know is an error, not
// a skip.
//
// Kernels that share a block's work (a warp a row: the normalization and
// softmax kernels) run in phases: each thread of a block runs until its
// next barrier (bar.sync, bar.warp.sync) or its end, then the next thread;
// a phase ends when every thread has stopped, and the threads of a warp
// must stop at the same barrier. Shared memory is one buffer a block, and
// the phases make its hazards visible: a byte read in the phase another
// thread wrote it, or written in the phase another thread read it, is an
// error, as it would be a race on the GPU.

type tInst struct {
	text   string
	opc    string
	args   []string
	guard  string
	negate bool
	target int
}

type tKernel struct {
	params []string
	insts  []tInst
	smem   int // bytes of shared memory (.shared smem_x[n])
}

// tSmemBase is the address the interpreter gives smem_x.
const tSmemBase = 0x400

// tThread is one thread's state between phases.
type tThread struct {
	regs       map[string]uint64
	pc, steps  int
	ctaid, tid uint64
	done       bool
}

// tShared is a block's shared memory with, per byte, the phase and the
// thread of the last write and read (reader -2: several threads).
type tShared struct {
	mem                      []byte
	phase                    int32
	wPhase, wBy, rPhase, rBy []int32
}

func newTShared(n int) *tShared {
	s := &tShared{mem: make([]byte, n), wPhase: make([]int32, n), wBy: make([]int32, n), rPhase: make([]int32, n), rBy: make([]int32, n)}
	for i := range s.wPhase {
		s.wPhase[i], s.rPhase[i] = -1, -1
		s.mem[i] = 0xCD
	}
	return s
}

// access returns n bytes at addr for thread tid, checking the range and
// the phase hazards.
func (s *tShared) access(addr uint64, n int, tid uint64, write bool) ([]byte, error) {
	o := int64(addr) - tSmemBase
	if s == nil || o < 0 || o+int64(n) > int64(len(s.mem)) || addr%uint64(n) != 0 {
		return nil, fmt.Errorf("shared access of %d bytes at %#x outside the block's shared memory or misaligned", n, addr)
	}
	t := int32(tid)
	for i := int(o); i < int(o)+n; i++ {
		if write {
			if s.rPhase[i] == s.phase && s.rBy[i] != t {
				return nil, fmt.Errorf("thread %d writes shared byte %d that another thread read in the same phase", t, i)
			}
			s.wPhase[i], s.wBy[i] = s.phase, t
			continue
		}
		if s.wPhase[i] == s.phase && s.wBy[i] != t {
			return nil, fmt.Errorf("thread %d reads shared byte %d that thread %d wrote in the same phase", t, i, s.wBy[i])
		}
		if s.rPhase[i] == s.phase && s.rBy[i] != t {
			s.rBy[i] = -2
		} else if s.rPhase[i] != s.phase {
			s.rPhase[i], s.rBy[i] = s.phase, t
		}
	}
	return s.mem[o : o+int64(n)], nil
}

// parseThreads decodes a one-kernel module.
func parseThreads(text string) (*tKernel, error) {
	k := &tKernel{}
	labels := map[string]int{}
	inBody := false
	for _, raw := range strings.Split(text, "\n") {
		line := strings.TrimSpace(raw)
		if i := strings.Index(line, "//"); i >= 0 {
			line = strings.TrimSpace(line[:i])
		}
		switch {
		case line == "":
			continue
		case strings.HasPrefix(line, ".param "):
			f := strings.Fields(strings.TrimSuffix(line, ","))
			k.params = append(k.params, f[len(f)-1])
			continue
		case line == "{":
			inBody = true
			continue
		case strings.HasPrefix(line, ".shared ") && strings.Contains(line, "smem_x["):
			n, err := strconv.Atoi(line[strings.Index(line, "[")+1 : strings.Index(line, "]")])
			if err != nil {
				return nil, fmt.Errorf("shared declaration %q", line)
			}
			k.smem = n
			continue
		case line == "}" || !inBody || strings.HasPrefix(line, ".reg") || strings.HasPrefix(line, "."):
			continue
		case strings.HasSuffix(line, ":"):
			labels[strings.TrimSuffix(line, ":")] = len(k.insts)
			continue
		}
		line = strings.TrimSuffix(line, ";")
		in := tInst{text: line}
		if strings.HasPrefix(line, "@") {
			sp := strings.IndexByte(line, ' ')
			in.guard, line = line[1:sp], strings.TrimSpace(line[sp+1:])
			if strings.HasPrefix(in.guard, "!") {
				in.negate, in.guard = true, in.guard[1:]
			}
		}
		in.opc, line, _ = strings.Cut(line, " ")
		for _, a := range splitOperands(line) { // vector operands {…} whole
			if a = strings.TrimSpace(a); a != "" {
				in.args = append(in.args, a)
			}
		}
		k.insts = append(k.insts, in)
	}
	for i := range k.insts {
		if k.insts[i].opc == "bra" || k.insts[i].opc == "bra.uni" {
			t, ok := labels[k.insts[i].args[0]]
			if !ok {
				return nil, fmt.Errorf("branch to unknown label %s", k.insts[i].args[0])
			}
			k.insts[i].target = t
		}
	}
	return k, nil
}

// tMachine holds global memory: buffers at distinct addresses.
type tMachine struct {
	bufs map[uint64][]byte
	next uint64
	// trace, when set, sees the index of every instruction a thread
	// issues, predicated off or not (warpcount_test.go counts with it).
	trace func(pc int)
}

func newTMachine() *tMachine { return &tMachine{bufs: map[uint64][]byte{}, next: 1 << 20} }

func (m *tMachine) buffer(data []byte) uint64 {
	a := m.next
	m.bufs[a] = data
	m.next += uint64(len(data)+255) &^ 255
	m.next += 256
	return a
}

func (m *tMachine) mem(addr uint64, n int) ([]byte, error) {
	for base, b := range m.bufs {
		if addr >= base && addr+uint64(n) <= base+uint64(len(b)) {
			return b[addr-base : addr-base+uint64(n)], nil
		}
	}
	return nil, fmt.Errorf("global access of %d bytes at %#x outside every buffer", n, addr)
}

// f32Buffer and f32s convert between float32 slices and buffer bytes.
func f32Buffer(v []float32) []byte {
	b := make([]byte, 4*len(v))
	for i, f := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(f))
	}
	return b
}

func f32sFrom(b []byte) []float32 {
	v := make([]float32, len(b)/4)
	for i := range v {
		v[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return v
}

// runThreads runs threads 0..threads-1 of k (block size OpThreads) with
// the given parameter values (pointers as addresses, floats as bits),
// block by block, each block in phases (see above).
func (m *tMachine) runThreads(k *tKernel, args []uint64, threads int) error {
	if len(args) != len(k.params) {
		return fmt.Errorf("%d arguments for %d parameters", len(args), len(k.params))
	}
	for first := 0; first < threads; first += OpThreads {
		if err := m.runBlock(k, args, uint64(first/OpThreads), min(OpThreads, threads-first)); err != nil {
			return fmt.Errorf("block %d: %w", first/OpThreads, err)
		}
	}
	return nil
}

// runBlock runs threads 0..n-1 of block ctaid phase by phase.
func (m *tMachine) runBlock(k *tKernel, args []uint64, ctaid uint64, n int) error {
	var sh *tShared
	if k.smem > 0 {
		sh = newTShared(k.smem)
	}
	ths := make([]*tThread, n)
	for t := range ths {
		ths[t] = &tThread{regs: map[string]uint64{}, ctaid: ctaid, tid: uint64(t)}
	}
	for {
		live := false
		for t, th := range ths {
			if th.done {
				continue
			}
			if err := m.resume(k, args, th, sh); err != nil {
				return fmt.Errorf("thread %d: %w", t, err)
			}
			live = live || !th.done
		}
		if !live {
			return nil
		}
		for w := 0; w < n; w += 32 {
			for t := w + 1; t < min(w+32, n); t++ {
				if ths[t].done != ths[w].done || ths[t].pc != ths[w].pc {
					return fmt.Errorf("threads %d and %d of a warp stop at different barriers (instructions %d and %d, ended %v and %v)",
						w, t, ths[w].pc, ths[t].pc, ths[w].done, ths[t].done)
				}
			}
		}
		if sh != nil {
			sh.phase++
		}
	}
}

// resume runs th from where it stopped to its next barrier (past it) or
// its end (th.done).
func (m *tMachine) resume(k *tKernel, args []uint64, th *tThread, sh *tShared) error {
	regs := th.regs
	ctaid, tid := th.ctaid, th.tid
	param := map[string]uint64{}
	for i, p := range k.params {
		param[p] = args[i]
	}
	val := func(s string) (uint64, error) {
		switch {
		case s == "smem_x":
			return tSmemBase, nil
		case s == "%tid.x":
			return tid, nil
		case s == "%ctaid.x":
			return ctaid, nil
		case strings.HasPrefix(s, "%"):
			v, ok := regs[s]
			if !ok {
				return 0, fmt.Errorf("register %s read before written", s)
			}
			return v, nil
		case strings.HasPrefix(s, "0d"), strings.HasPrefix(s, "0f"):
			return strconv.ParseUint(s[2:], 16, 64)
		case strings.HasPrefix(s, "0x"):
			return strconv.ParseUint(s[2:], 16, 64)
		}
		v, err := strconv.ParseInt(s, 10, 64)
		return uint64(v), err
	}
	pc, steps := th.pc, th.steps
	defer func() { th.pc, th.steps = pc, steps }()
	for ; pc < len(k.insts); steps++ {
		if steps > 1<<24 {
			return fmt.Errorf("more than %d instructions: a loop that does not end", 1<<24)
		}
		in := k.insts[pc]
		if m.trace != nil {
			m.trace(pc)
		}
		pc++
		if in.guard != "" {
			g, err := val("%" + strings.TrimPrefix(in.guard, "%"))
			if err != nil {
				return err
			}
			if (g != 0) == in.negate {
				continue
			}
		}
		a := make([]uint64, len(in.args))
		for i := 1; i < len(in.args); i++ {
			if strings.HasPrefix(in.args[i], "[") || strings.HasPrefix(in.args[i], "{") {
				continue
			}
			v, err := val(in.args[i])
			if err != nil {
				return fmt.Errorf("%s: %w", in.text, err)
			}
			a[i] = v
		}
		dst := ""
		if len(in.args) > 0 {
			dst = in.args[0]
		}
		var out uint64
		write := true
		f32 := func(i int) float32 { return math.Float32frombits(uint32(a[i])) }
		f64 := func(i int) float64 { return math.Float64frombits(a[i]) }
		pf32 := func(v float32) uint64 { return uint64(math.Float32bits(v)) }
		pf64 := math.Float64bits
		b2u := func(b bool) uint64 {
			if b {
				return 1
			}
			return 0
		}
		switch in.opc {
		case "bra", "bra.uni":
			pc, write = in.target, false
		case "ret":
			th.done = true
			return nil
		case "bar.sync", "bar.warp.sync":
			return nil
		case "ld.shared.f32", "ld.shared.f64", "ld.shared.u32":
			addr, err := m.address(in.args[1], regs)
			if err != nil {
				return err
			}
			n := 4
			if in.opc == "ld.shared.f64" {
				n = 8
			}
			b, err := sh.access(addr, n, tid, false)
			if err != nil {
				return fmt.Errorf("%s: %w", in.text, err)
			}
			out = binary.LittleEndian.Uint64(append(b[:n:n], make([]byte, 8-n)...))
		case "st.shared.f32", "st.shared.f64", "st.shared.u32":
			addr, err := m.address(in.args[0], regs)
			if err != nil {
				return err
			}
			n := 4
			if in.opc == "st.shared.f64" {
				n = 8
			}
			b, err := sh.access(addr, n, tid, true)
			if err != nil {
				return fmt.Errorf("%s: %w", in.text, err)
			}
			v, err := val(in.args[1])
			if err != nil {
				return err
			}
			var w [8]byte
			binary.LittleEndian.PutUint64(w[:], v)
			copy(b, w[:n])
			write = false
		case "and.b32":
			out = uint64(uint32(a[1]) & uint32(a[2]))
		case "shr.u32":
			out = uint64(uint32(a[1]) >> a[2])
		case "shl.b32":
			out = uint64(uint32(a[1]) << a[2])
		case "min.u32":
			out = uint64(min(uint32(a[1]), uint32(a[2])))
		case "and.pred":
			out = a[1] & a[2]
		case "not.pred":
			out = a[1] ^ 1
		case "ld.param.u64", "ld.param.u32", "ld.param.s32", "ld.param.f32":
			out = param[strings.Trim(in.args[1], "[]")]
		case "cvta.to.global.u64", "mov.u64", "mov.b64", "mov.f64", "mov.u32", "mov.b32", "mov.f32", "mov.s32":
			out = a[1]
		case "add.u32", "add.s32":
			out = uint64(uint32(a[1]) + uint32(a[2]))
		case "sub.u32", "sub.s32":
			out = uint64(uint32(a[1]) - uint32(a[2]))
		case "mul.lo.u32":
			out = uint64(uint32(a[1]) * uint32(a[2]))
		case "mad.lo.u32":
			out = uint64(uint32(a[1])*uint32(a[2]) + uint32(a[3]))
		case "div.u32", "rem.u32":
			if uint32(a[2]) == 0 {
				return fmt.Errorf("%s: division by zero", in.text)
			}
			out = uint64(uint32(a[1]) / uint32(a[2]))
			if in.opc == "rem.u32" {
				out = uint64(uint32(a[1]) % uint32(a[2]))
			}
		case "mul.wide.u32":
			out = uint64(uint32(a[1])) * uint64(uint32(a[2]))
		case "add.s64", "add.u64":
			out = a[1] + a[2]
		case "shl.b64":
			out = a[1] << a[2]
		case "shr.u64":
			out = a[1] >> a[2]
		case "shr.s32":
			out = uint64(uint32(int32(uint32(a[1])) >> a[2]))
		case "and.b64":
			out = a[1] & a[2]
		case "or.b64":
			out = a[1] | a[2]
		case "or.pred":
			out = a[1] | a[2]
		case "cvt.u64.u32":
			out = uint64(uint32(a[1]))
		case "cvt.u32.u64":
			out = uint64(uint32(a[1]))
		case "cvt.rn.f64.u32":
			out = pf64(float64(uint32(a[1])))
		case "cvt.rn.f32.u32":
			out = pf32(float32(uint32(a[1])))
		case "cvt.rn.f64.s32":
			out = pf64(float64(int32(uint32(a[1]))))
		case "cvt.f64.f32":
			out = pf64(float64(f32(1)))
		case "cvt.rn.f32.f64":
			out = pf32(float32(f64(1)))
		case "cvt.rni.f64.f64":
			out = pf64(math.RoundToEven(f64(1)))
		case "cvt.rzi.s32.f64":
			v := math.Trunc(f64(1))
			switch {
			case v != v:
				v = 0
			case v > math.MaxInt32:
				v = math.MaxInt32
			case v < math.MinInt32:
				v = math.MinInt32
			}
			out = uint64(uint32(int32(v)))
		case "cvt.rmi.f32.f32":
			out = pf32(float32(math.Floor(float64(f32(1)))))
		case "cvt.rpi.f32.f32":
			out = pf32(float32(math.Ceil(float64(f32(1)))))
		case "cvt.rni.f32.f32":
			out = pf32(float32(math.RoundToEven(float64(f32(1)))))
		case "add.rn.f32":
			out = pf32(f32(1) + f32(2))
		case "sub.rn.f32":
			out = pf32(f32(1) - f32(2))
		case "mul.rn.f32":
			out = pf32(f32(1) * f32(2))
		case "div.rn.f32":
			out = pf32(f32(1) / f32(2))
		case "rcp.rn.f32":
			out = pf32(1 / f32(1))
		case "sqrt.rn.f32":
			out = pf32(float32(math.Sqrt(float64(f32(1)))))
		case "neg.f32":
			out = a[1] ^ 1<<31
		case "abs.f32":
			out = a[1] &^ (1 << 31)
		case "add.rn.f64":
			out = pf64(f64(1) + f64(2))
		case "sub.rn.f64":
			out = pf64(f64(1) - f64(2))
		case "mul.rn.f64":
			out = pf64(f64(1) * f64(2))
		case "div.rn.f64":
			out = pf64(f64(1) / f64(2))
		case "fma.rn.f64":
			out = pf64(math.FMA(f64(1), f64(2), f64(3)))
		case "sqrt.rn.f64":
			out = pf64(math.Sqrt(f64(1)))
		case "neg.f64":
			out = a[1] ^ 1<<63
		case "abs.f64":
			out = a[1] &^ (1 << 63)
		case "copysign.f64":
			out = pf64(math.Copysign(f64(2), f64(1)))
		case "copysign.f32":
			out = pf32(float32(math.Copysign(float64(f32(2)), float64(f32(1)))))
		case "max.f32", "min.f32":
			x, y := f32(1), f32(2)
			switch {
			case x != x:
				out = a[2]
			case y != y:
				out = a[1]
			case (in.opc == "max.f32") == (x > y || (x == y && !math.Signbit(float64(x)))):
				out = a[1]
			default:
				out = a[2]
			}
		case "max.NaN.f32", "min.NaN.f32":
			x, y := f32(1), f32(2)
			switch {
			case x != x || y != y:
				out = pf32(float32(math.NaN()))
			case (in.opc == "max.NaN.f32") == (x > y || (x == y && !math.Signbit(float64(x)))):
				out = a[1]
			default:
				out = a[2]
			}
		case "selp.f32", "selp.f64", "selp.b32", "selp.u32":
			out = a[2]
			if a[3] != 0 {
				out = a[1]
			}
		case "ld.global.v4.f32", "st.global.v4.f32":
			// Four f32 registers from or to 16 aligned bytes.
			mi, vi := 1, 0
			if in.opc == "st.global.v4.f32" {
				mi, vi = 0, 1
			}
			addr, err := m.address(in.args[mi], regs)
			if err != nil {
				return err
			}
			if addr%16 != 0 {
				return fmt.Errorf("%s: 16-byte access at %#x is misaligned", in.text, addr)
			}
			b, err := m.mem(addr, 16)
			if err != nil {
				return fmt.Errorf("%s: %w", in.text, err)
			}
			vec := strings.Split(strings.Trim(in.args[vi], "{}"), ",")
			if len(vec) != 4 {
				return fmt.Errorf("%s: want four registers", in.text)
			}
			for j, r := range vec {
				r = strings.TrimSpace(r)
				if mi == 1 {
					regs[r] = uint64(binary.LittleEndian.Uint32(b[4*j:]))
					continue
				}
				v, ok := regs[r]
				if !ok {
					return fmt.Errorf("%s: register %s read before written", in.text, r)
				}
				binary.LittleEndian.PutUint32(b[4*j:], uint32(v))
			}
			write = false
		case "ld.global.nc.u16", "ld.global.u16", "st.global.u16":
			// Two bytes, zero-extended into a 32-bit register or its
			// low half stored.
			ai := 1
			if in.opc == "st.global.u16" {
				ai = 0
			}
			addr, err := m.address(in.args[ai], regs)
			if err != nil {
				return err
			}
			if addr%2 != 0 {
				return fmt.Errorf("%s: 2-byte access at %#x is misaligned", in.text, addr)
			}
			b, err := m.mem(addr, 2)
			if err != nil {
				return fmt.Errorf("%s: %w", in.text, err)
			}
			if ai == 1 {
				out = uint64(binary.LittleEndian.Uint16(b))
				break
			}
			v, err := val(in.args[1])
			if err != nil {
				return err
			}
			binary.LittleEndian.PutUint16(b, uint16(v))
			write = false
		case "ld.global.nc.u32", "ld.global.nc.v2.u32", "ld.global.nc.v4.u32", "ld.global.nc.v2.f32", "ld.global.nc.v4.f32",
			"ld.global.u32", "ld.global.v2.u32", "ld.global.v4.u32", "st.global.u32", "st.global.v2.u32", "st.global.v4.u32", "st.global.v2.f32":
			// One to four 32-bit registers from or to 4·n aligned bytes.
			if err := m.vector32(in, regs); err != nil {
				return err
			}
			write = false
		case "dp4a.s32.s32":
			// The four signed byte products of a and b added to c, wrapping.
			sum := uint32(a[3])
			for k := 0; k < 32; k += 8 {
				sum += uint32(int32(int8(a[1]>>k)) * int32(int8(a[2]>>k)))
			}
			out = uint64(sum)
		case "bfe.s32":
			// The field of len bits at pos, sign-extended (pos + len ≤ 32 here).
			pos, n := uint32(a[2]), uint32(a[3])
			if pos+n > 32 || n == 0 {
				return fmt.Errorf("%s: field %d+%d not modelled", in.text, pos, n)
			}
			out = uint64(uint32(int32(uint32(a[1])<<(32-pos-n)) >> (32 - n)))
		case "bfi.b32":
			// Insert a's low len bits into b at pos.
			pos, n := uint32(a[3]), uint32(a[4])
			if pos+n > 32 || n == 0 {
				return fmt.Errorf("%s: field %d+%d not modelled", in.text, pos, n)
			}
			mask := (uint32(1)<<n - 1) << pos
			out = uint64(uint32(a[2])&^mask | uint32(a[1])<<pos&mask)
		case "cvt.rn.f32.s32":
			out = pf32(float32(int32(uint32(a[1]))))
		case "ld.global.f32":
			addr, err := m.address(in.args[1], regs)
			if err != nil {
				return err
			}
			b, err := m.mem(addr, 4)
			if err != nil {
				return fmt.Errorf("%s: %w", in.text, err)
			}
			out = uint64(binary.LittleEndian.Uint32(b))
		case "st.global.f32":
			addr, err := m.address(in.args[0], regs)
			if err != nil {
				return err
			}
			b, err := m.mem(addr, 4)
			if err != nil {
				return fmt.Errorf("%s: %w", in.text, err)
			}
			v, err := val(in.args[1])
			if err != nil {
				return err
			}
			binary.LittleEndian.PutUint32(b, uint32(v))
			write = false
		case "st.global.s8":
			addr, err := m.address(in.args[0], regs)
			if err != nil {
				return err
			}
			b, err := m.mem(addr, 1)
			if err != nil {
				return fmt.Errorf("%s: %w", in.text, err)
			}
			v, err := val(in.args[1])
			if err != nil {
				return err
			}
			b[0] = byte(v)
			write = false
		case "cvt.rni.s32.f32": // half to even, saturating, NaN to 0
			x := math.RoundToEven(float64(f32(1)))
			switch {
			case x != x:
				x = 0
			case x > math.MaxInt32:
				x = math.MaxInt32
			case x < math.MinInt32:
				x = math.MinInt32
			}
			out = uint64(uint32(int32(x)))
		case "add.sat.s32":
			x := int64(int32(uint32(a[1]))) + int64(int32(uint32(a[2])))
			out = uint64(uint32(int32(min(max(x, math.MinInt32), math.MaxInt32))))
		case "max.s32":
			out = uint64(uint32(max(int32(uint32(a[1])), int32(uint32(a[2])))))
		case "min.s32":
			out = uint64(uint32(min(int32(uint32(a[1])), int32(uint32(a[2])))))
		default:
			if strings.HasPrefix(in.opc, "setp.") {
				f := strings.Split(in.opc, ".")
				var lt, eq, nan bool
				switch f[2] {
				case "u32":
					lt, eq = uint32(a[1]) < uint32(a[2]), uint32(a[1]) == uint32(a[2])
				case "s32":
					lt, eq = int32(uint32(a[1])) < int32(uint32(a[2])), uint32(a[1]) == uint32(a[2])
				case "f32":
					x, y := f32(1), f32(2)
					lt, eq, nan = x < y, x == y, x != x || y != y
				case "f64":
					x, y := f64(1), f64(2)
					lt, eq, nan = x < y, x == y, x != x || y != y
				default:
					return fmt.Errorf("%s: setp type %s", in.text, f[2])
				}
				cmp := f[1]
				unordered := strings.HasSuffix(cmp, "u") && cmp != "nu"
				if unordered {
					cmp = strings.TrimSuffix(cmp, "u")
				}
				var r bool
				switch cmp {
				case "eq":
					r = eq
				case "ne":
					r = !eq
				case "lt":
					r = lt
				case "le":
					r = lt || eq
				case "gt":
					r = !lt && !eq
				case "ge":
					r = !lt
				case "nan":
					r = nan
				case "num":
					r = !nan
				default:
					return fmt.Errorf("%s: compare %s", in.text, f[1])
				}
				if cmp != "nan" && cmp != "num" && nan {
					r = unordered
				}
				out = b2u(r)
				break
			}
			return fmt.Errorf("instruction %q not modelled", in.text)
		}
		if write && dst != "" {
			regs[dst] = out
		}
	}
	th.done = true
	return nil
}

// vector32 runs a 32-bit load or store of one register or a .v2/.v4
// vector: the registers from or to consecutive aligned bytes.
func (m *tMachine) vector32(in tInst, regs map[string]uint64) error {
	store := strings.HasPrefix(in.opc, "st.")
	mi, vi := 1, 0
	if store {
		mi, vi = 0, 1
	}
	addr, err := m.address(in.args[mi], regs)
	if err != nil {
		return err
	}
	vec := strings.Split(strings.Trim(in.args[vi], "{}"), ",")
	n := 4 * len(vec)
	if addr%uint64(n) != 0 {
		return fmt.Errorf("%s: %d-byte access at %#x is misaligned", in.text, n, addr)
	}
	b, err := m.mem(addr, n)
	if err != nil {
		return fmt.Errorf("%s: %w", in.text, err)
	}
	for j, r := range vec {
		r = strings.TrimSpace(r)
		if !store {
			regs[r] = uint64(binary.LittleEndian.Uint32(b[4*j:]))
			continue
		}
		v, ok := regs[r]
		if !ok {
			return fmt.Errorf("%s: register %s read before written", in.text, r)
		}
		binary.LittleEndian.PutUint32(b[4*j:], uint32(v))
	}
	return nil
}

// address evaluates [reg] or [reg+off].
func (m *tMachine) address(s string, regs map[string]uint64) (uint64, error) {
	s = strings.Trim(s, "[]")
	r, off, _ := strings.Cut(s, "+")
	base, ok := regs[strings.TrimSpace(r)]
	if !ok {
		return 0, fmt.Errorf("address register %s unset", r)
	}
	if off != "" {
		o, err := strconv.ParseInt(strings.TrimSpace(off), 10, 64)
		if err != nil {
			return 0, err
		}
		base += uint64(o)
	}
	return base, nil
}
