package gputest

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/sqc-project/sqc/backend/ampere/cuda"
	"github.com/sqc-project/sqc/backend/ampere/kernels"
	"github.com/sqc-project/sqc/backend/ampere/pack"
)

// runProbe runs one probe kernel on lane-major registers and returns D.
func runProbe(t *testing.T, g *gpu, kernel string, a [32][4]uint32, b []uint32, c [32][4]int32, e [32]uint32) [32][4]int32 {
	t.Helper()
	f := g.function(t, "probe", kernels.ProbePTX(), kernel)
	flat := func(x [32][4]uint32) []uint32 {
		out := make([]uint32, 0, 128)
		for _, r := range x {
			out = append(out, r[:]...)
		}
		return out
	}
	cs := make([]int32, 0, 128)
	for _, r := range c {
		cs = append(cs, r[:]...)
	}
	da, db, dc, de := buf(t, g, flat(a)), buf(t, g, b), buf(t, g, cs), buf(t, g, e[:])
	dd := alloc(t, g, 4*128)
	if err := g.stream.Launch(f, cuda.D1(1), cuda.D1(32), 0, da.Ptr, db.Ptr, dc.Ptr, de.Ptr, dd.Ptr); err != nil {
		t.Fatal(err)
	}
	if err := g.stream.Synchronize(); err != nil {
		t.Fatal(err)
	}
	out := make([]int32, 128)
	if err := cuda.Download(dd, 0, out); err != nil {
		t.Fatal(err)
	}
	var d [32][4]int32
	for l := range d {
		copy(d[l][:], out[4*l:])
	}
	return d
}

func flatB(b [32][4]uint32, n int) []uint32 {
	out := make([]uint32, 0, 32*n)
	for _, r := range b {
		out = append(out, r[:n]...)
	}
	return out
}

func randInt8(r *rand.Rand, n int) []int8 {
	// Eight uniform bytes a draw: the perf tests' activations run to
	// hundreds of megabytes.
	v := make([]int8, n)
	for i := 0; i < n; i += 8 {
		u := r.Uint64()
		for j := i; j < min(i+8, n); j++ {
			v[j] = int8(u)
			u >>= 8
		}
	}
	return v
}

// rand24 returns a random n×k int8 matrix, 2:4 sparse along k, whose
// groups hold 0, 1 or 2 non-zeros at random places.
func rand24(r *rand.Rand, n, k int) []int8 {
	w := make([]int8, n*k)
	for i := 0; i < n; i++ {
		for c0 := 0; c0 < k; c0 += 4 {
			for _, p := range r.Perm(4)[:r.IntN(3)] {
				if c0+p < k {
					v := int8(r.IntN(255) - 127)
					if v == 0 {
						v = 1
					}
					w[i*k+c0+p] = v
				}
			}
		}
	}
	return w
}

// compareD reports the lanes and registers where two accumulator sets
// differ.
func compareD(t *testing.T, what string, got, want [32][4]int32) {
	t.Helper()
	var bad []string
	for l := 0; l < 32; l++ {
		for i := 0; i < 4; i++ {
			if got[l][i] != want[l][i] {
				row, col := pack.CPos(l, i)
				bad = append(bad, fmt.Sprintf("D[%d][%d] = %d, want %d", row, col, got[l][i], want[l][i]))
			}
		}
	}
	if len(bad) > 0 {
		t.Errorf("%s: %d of 128 accumulators differ from the model, first: %s", what, len(bad), strings.Join(bad[:min(len(bad), 6)], "; "))
	}
}

// TestSparseMMAMatchesModel: mma.sp m16n8k64 (ordered and plain metadata)
// on registers loaded from pack.PackSparse's output gives what
// pack.EmulateSparse says, on many random tiles: the packer's fragment and
// metadata layouts are the hardware's.
func TestSparseMMAMatchesModel(t *testing.T) {
	g := needGPU(t)
	r := rand.New(rand.NewPCG(21, 22))
	const tiles = 12
	w := rand24(r, 16, 64*tiles)
	s, err := pack.PackSparse(w, 16, 64*tiles, 16)
	if err != nil {
		t.Fatal(err)
	}
	for tile := 0; tile < tiles; tile++ {
		var regs pack.SparseRegs
		regs.A, regs.E = s.SparseTileRegs(tile)
		x := randInt8(r, 8*64)
		regs.B = pack.BRegs(x, 64, 8, 64, 0, 0, 4)
		for l := range regs.C {
			for i := range regs.C[l] {
				regs.C[l][i] = int32(r.IntN(1<<20) - 1<<19)
			}
		}
		want, err := pack.EmulateSparse(&regs)
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range []string{kernels.ProbeSparseOrdered, kernels.ProbeSparse} {
			got := runProbe(t, g, k, regs.A, flatB(regs.B, 4), regs.C, regs.E)
			compareD(t, fmt.Sprintf("%s tile %d", k, tile), got, want)
		}
		if t.Failed() {
			return
		}
	}
}

// TestDenseMMAMatchesModel: the same for mma.sync m16n8k32.
func TestDenseMMAMatchesModel(t *testing.T) {
	g := needGPU(t)
	r := rand.New(rand.NewPCG(23, 24))
	const tiles = 6
	w := randInt8(r, 16*64*tiles)
	d, err := pack.PackDense(w, 16, 64*tiles, 16)
	if err != nil {
		t.Fatal(err)
	}
	for tile := 0; tile < tiles; tile++ {
		for half := 0; half < 2; half++ {
			var regs pack.DenseRegs
			regs.A = d.DenseTileRegs(tile, half)
			x := randInt8(r, 8*32)
			b := pack.BRegs(x, 32, 8, 32, 0, 0, 2)
			for l := range regs.B {
				regs.B[l] = [2]uint32{b[l][0], b[l][1]}
			}
			for l := range regs.C {
				for i := range regs.C[l] {
					regs.C[l][i] = int32(r.IntN(1<<20) - 1<<19)
				}
			}
			want := pack.EmulateDense(&regs)
			got := runProbe(t, g, kernels.ProbeDense, regs.A, flatB(b, 2), regs.C, [32]uint32{})
			compareD(t, fmt.Sprintf("dense tile %d half %d", tile, half), got, want)
			if t.Failed() {
				return
			}
		}
	}
}

// TestSparseMetadataMap measures, one nibble at a time, which row and
// chunk of A each (lane, nibble) of the metadata governs and which kept
// value goes to the nibble's low index, and compares with pack.MetaChunk.
// It pins the metadata layout independently of the random test above and,
// if that one fails, says what the hardware does instead.
//
// Every compressed A value of chunk q is 1 at column 2q and 2 at 2q+1.
// Metadata is (0,1) everywhere except the nibble under test, set to (2,3).
// B[k][j] is 1 where k%4 ≥ 2 and, for j < 4, bit j of the chunk k/4 is
// set; j = 4: k%4 ≥ 2; j = 5: k%4 = 2. So only the row whose chunk moved
// sees non-zero columns 0…5: column 4 reads 3 (1+2), columns 0…3 read 3
// times the chunk's bits, and column 5 reads the value placed at index 2,
// 1 if the nibble's low bits hold the first kept value.
func TestSparseMetadataMap(t *testing.T) {
	g := needGPU(t)
	var a [32][4]uint32
	for l := 0; l < 32; l++ {
		for reg := 0; reg < 4; reg++ {
			for b := 0; b < 4; b++ {
				_, cc := pack.SparseAPos(l, reg, b)
				a[l][reg] |= uint32(1+cc%2) << (8 * b)
			}
		}
	}
	var bm [32][4]uint32
	for l := 0; l < 32; l++ {
		for reg := 0; reg < 4; reg++ {
			for i := 0; i < 4; i++ {
				k, j := pack.BPos(l, reg, i)
				q, pos := k/4, k%4
				var v uint32
				switch {
				case j < 4 && pos >= 2 && q>>j&1 == 1:
					v = 1
				case j == 4 && pos >= 2:
					v = 1
				case j == 5 && pos == 2:
					v = 1
				}
				bm[l][reg] |= v << (8 * i)
			}
		}
	}
	var mismatches []string
	for lane := 0; lane < 32; lane++ {
		for c := 0; c < 8; c++ {
			var e [32]uint32
			for l := range e {
				e[l] = 0x44444444
			}
			e[lane] = e[lane]&^(0xF<<(4*c)) | 0xE<<(4*c)
			d := runProbe(t, g, kernels.ProbeSparseOrdered, a, flatB(bm, 4), [32][4]int32{}, e)
			var dm [16][8]int32
			for l := 0; l < 32; l++ {
				for i := 0; i < 4; i++ {
					row, col := pack.CPos(l, i)
					dm[row][col] = d[l][i]
				}
			}
			row, q, low := -1, -1, int32(-1)
			for rr := 0; rr < 16; rr++ {
				if dm[rr][4] != 0 {
					row = rr
					q = 0
					for j := 0; j < 4; j++ {
						if dm[rr][j] != 0 {
							q |= 1 << j
						}
					}
					low = dm[rr][5]
				}
			}
			wantRow, wantQ := pack.MetaChunk(lane, c)
			if row != wantRow || q != wantQ || low != 1 {
				mismatches = append(mismatches, fmt.Sprintf("lane %d nibble %d: row %d chunk %d, value at the low index %d (model: row %d chunk %d, value 1)", lane, c, row, q, low, wantRow, wantQ))
			}
		}
	}
	if len(mismatches) > 0 {
		t.Errorf("metadata layout differs from the model in %d of 256 nibbles:\n%s", len(mismatches), strings.Join(mismatches, "\n"))
	}
}
