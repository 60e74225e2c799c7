package pack

import (
	"math/rand/v2"
	"strings"
	"testing"
)

// TestInverseMaps: the inverse maps the packers use cover every element of
// a tile exactly once and undo the forward maps the emulator uses.
func TestInverseMaps(t *testing.T) {
	seen := map[[2]int]bool{}
	for lane := 0; lane < WarpSize; lane++ {
		for reg := 0; reg < 4; reg++ {
			for b := 0; b < 4; b++ {
				row, cc := SparseAPos(lane, reg, b)
				if row < 0 || row >= TileM || cc < 0 || cc >= SparseK/2 {
					t.Fatalf("SparseAPos(%d,%d,%d) = (%d,%d) outside the 16×32 tile", lane, reg, b, row, cc)
				}
				if seen[[2]int{row, cc}] {
					t.Fatalf("SparseAPos: (%d,%d) held twice", row, cc)
				}
				seen[[2]int{row, cc}] = true
				if l, r, bb := SparseALane(row, cc); l != lane || r != reg || bb != b {
					t.Fatalf("SparseALane(%d,%d) = %d,%d,%d, want %d,%d,%d", row, cc, l, r, bb, lane, reg, b)
				}
			}
		}
	}
	seenMeta := map[[2]int]bool{}
	for lane := 0; lane < WarpSize; lane++ {
		for c := 0; c < 8; c++ {
			row, q := MetaChunk(lane, c)
			if seenMeta[[2]int{row, q}] || row >= TileM || q >= SparseK/4 {
				t.Fatalf("MetaChunk(%d,%d) = (%d,%d): repeated or outside", lane, c, row, q)
			}
			seenMeta[[2]int{row, q}] = true
			if l, s := MetaPos(row, q); l != lane || s != 4*c {
				t.Fatalf("MetaPos(%d,%d) = %d,%d, want %d,%d", row, q, l, s, lane, 4*c)
			}
		}
	}
	if len(seenMeta) != TileM*SparseK/4 {
		t.Fatalf("metadata covers %d chunks, want %d", len(seenMeta), TileM*SparseK/4)
	}
}

// TestMetadataHandExample checks metadata words and value registers worked
// out by hand from the PTX ISA's statements: lane 0 (groupID 0,
// threadID_in_group 0) holds row 0, logical columns 0…31; lane 1 row 8,
// columns 0…31; lane 2 row 0, columns 32…63; lane 5 (groupID 1, thread 1)
// row 9, columns 0…31; nibble c at bits 4c, first index low; register 0
// of lane 0 the kept values of row 0, columns 0…7.
func TestMetadataHandExample(t *testing.T) {
	const n, k = 16, 64
	w := make([]int8, n*k)
	set := func(r, c int, v int8) { w[r*k+c] = v }
	// Row 0, chunks 0…7 keep (0,1) (0,2) (0,3) (1,2) (1,3) (2,3) (0,1) (2,3):
	// nibbles 4 8 C 9 D E 4 E, so lane 0's word is 0xE4ED9C84.
	pairs := [8][2]int{{0, 1}, {0, 2}, {0, 3}, {1, 2}, {1, 3}, {2, 3}, {0, 1}, {2, 3}}
	for q, p := range pairs {
		set(0, 4*q+p[0], int8(10+2*q))
		set(0, 4*q+p[1], int8(11+2*q))
	}
	// Row 0, chunks 8…15 keep (1,3): lane 2's word is 0xDDDDDDDD.
	for q := 8; q < 16; q++ {
		set(0, 4*q+1, -1)
		set(0, 4*q+3, -2)
	}
	// Row 8 stays zero: every chunk is (0,1), lane 1's word is 0x44444444.
	// Row 9, chunk 0 keeps (2,3), the rest zero: lane 5's word is 0x4444444E.
	set(9, 2, 7)
	set(9, 3, -7)
	s, err := PackSparse(w, n, k, 16)
	if err != nil {
		t.Fatal(err)
	}
	for lane, want := range map[int]uint32{0: 0xE4ED9C84, 1: 0x44444444, 2: 0xDDDDDDDD, 5: 0x4444444E} {
		if got := s.Meta[lane]; got != want {
			t.Errorf("lane %d metadata %#08x, want %#08x", lane, got, want)
		}
	}
	a, _ := s.SparseTileRegs(0)
	// Lane 0 register 0: row 0 compressed columns 0…3 = chunk 0's (10, 11)
	// and chunk 1's (12, 13).
	if got, want := a[0][0], uint32(0x0D0C0B0A); got != want {
		t.Errorf("lane 0 register 0 = %#08x, want %#08x", got, want)
	}
	// Lane 0 register 2: row 0 compressed columns 16…19 = chunks 8 and 9,
	// (-1, -2) each.
	if got, want := a[0][2], uint32(0xFEFFFEFF); got != want {
		t.Errorf("lane 0 register 2 = %#08x, want %#08x", got, want)
	}
	// Lane 4 (groupID 1, thread 0) register 1: row 9, compressed columns
	// 0…3 = chunk 0's (7, -7) then chunk 1's two zeros.
	if got, want := a[4][1], uint32(0x0000F907); got != want {
		t.Errorf("lane 4 register 1 = %#08x, want %#08x", got, want)
	}
}

// rand24 returns a random n×k matrix that is 2:4 sparse along k, with
// groups of every population (0, 1 or 2 non-zeros) and both signs.
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

func randInt8(r *rand.Rand, n int) []int8 {
	v := make([]int8, n)
	for i := range v {
		v[i] = int8(r.IntN(256) - 128)
	}
	return v
}

// TestSparseRoundTrip: pack then unpack gives the original for ragged
// shapes, the padding is zero, and every metadata nibble is an ordered
// pair.
func TestSparseRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, sh := range [][3]int{{16, 64, 16}, {37, 150, 16}, {5, 7, 64}, {64, 576, 64}, {130, 2304, 64}} {
		n, k, align := sh[0], sh[1], sh[2]
		w := rand24(r, n, k)
		s, err := PackSparse(w, n, k, align)
		if err != nil {
			t.Fatal(err)
		}
		if s.NPad%align != 0 || s.NPad < n || s.NPad-n >= align || s.KPad%64 != 0 || s.KPad < k || s.KPad-k >= 64 {
			t.Errorf("%d×%d: padded to %d×%d", n, k, s.NPad, s.KPad)
		}
		for i, m := range s.Meta {
			for c := 0; c < 8; c++ {
				if _, _, ok := NibbleIndices(m >> (4 * c) & 15); !ok {
					t.Fatalf("%d×%d: metadata word %d nibble %d is %#x, not an ordered pair", n, k, i, c, m>>(4*c)&15)
				}
			}
		}
		got, err := s.Unpack()
		if err != nil {
			t.Fatal(err)
		}
		for i := range w {
			if got[i] != w[i] {
				t.Fatalf("%d×%d: element (%d, %d) unpacks to %d, want %d", n, k, i/k, i%k, got[i], w[i])
			}
		}
	}
}

// TestDenseRoundTrip: the same for the dense layout.
func TestDenseRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for _, sh := range [][3]int{{16, 64, 16}, {37, 150, 16}, {3, 5, 64}, {256, 2304, 64}} {
		n, k, align := sh[0], sh[1], sh[2]
		w := randInt8(r, n*k)
		d, err := PackDense(w, n, k, align)
		if err != nil {
			t.Fatal(err)
		}
		got, err := d.Unpack()
		if err != nil {
			t.Fatal(err)
		}
		for i := range w {
			if got[i] != w[i] {
				t.Fatalf("%d×%d: element (%d, %d) unpacks to %d, want %d", n, k, i/k, i%k, got[i], w[i])
			}
		}
	}
	// Hand check: lane 5 (groupID 1, thread 1) register 2 holds row 1,
	// columns 16+4…16+7 of the first K half, bytes 8…11 of its 32.
	w := make([]int8, 16*64)
	for c := 20; c < 24; c++ {
		w[1*64+c] = int8(c)
	}
	d, _ := PackDense(w, 16, 64, 16)
	if got := d.Values[5*32+8 : 5*32+12]; got[0] != 20 || got[1] != 21 || got[2] != 22 || got[3] != 23 {
		t.Errorf("lane 5 register 2 bytes = %v, want [20 21 22 23]", got)
	}
}

// reference computes D[row][j] = Σk W[n0+row][k0+k]·X[j0+j][k0+k] over one
// tile: the product the instruction must give for those fragments.
func reference(w []int8, n, kdim int, x []int8, m int, n0, k0, j0, kw int) [TileM][TileN]int32 {
	var d [TileM][TileN]int32
	for row := 0; row < TileM; row++ {
		for j := 0; j < TileN; j++ {
			var s int32
			for k := k0; k < k0+kw && k < kdim; k++ {
				if n0+row < n && j0+j < m {
					s += int32(w[(n0+row)*kdim+k]) * int32(x[(j0+j)*kdim+k])
				}
			}
			d[row][j] = s
		}
	}
	return d
}

// TestEmulateSparse: packed weights, emulated through mma.sp's fragment
// formulas, give the plain integer product, tile by tile, with the
// accumulator added.
func TestEmulateSparse(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	const n, k, m = 40, 200, 21
	w := rand24(r, n, k)
	x := randInt8(r, m*k)
	s, err := PackSparse(w, n, k, 16)
	if err != nil {
		t.Fatal(err)
	}
	kt := s.KPad / TileK
	for tile := 0; tile < len(s.Meta)/WarpSize; tile++ {
		n0, k0 := tile/kt*TileM, tile%kt*TileK
		for j0 := 0; j0 < m; j0 += TileN {
			var regs SparseRegs
			regs.A, regs.E = s.SparseTileRegs(tile)
			regs.B = BRegs(x, k, m, k, j0, k0, 4)
			for lane := range regs.C {
				for i := range regs.C[lane] {
					regs.C[lane][i] = int32(lane*4 + i)
				}
			}
			got, err := EmulateSparse(&regs)
			if err != nil {
				t.Fatal(err)
			}
			want := reference(w, n, k, x, m, n0, k0, j0, TileK)
			for lane := 0; lane < WarpSize; lane++ {
				for i := 0; i < 4; i++ {
					row, col := CPos(lane, i)
					if got[lane][i] != want[row][col]+int32(lane*4+i) {
						t.Fatalf("tile %d, pixels %d: D[%d][%d] = %d, want %d", tile, j0, row, col, got[lane][i], want[row][col]+int32(lane*4+i))
					}
				}
			}
		}
	}
}

// TestEmulateDense: the same for mma.sync m16n8k32, both K halves.
func TestEmulateDense(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	const n, k, m = 33, 100, 13
	w := randInt8(r, n*k)
	x := randInt8(r, m*k)
	d, err := PackDense(w, n, k, 16)
	if err != nil {
		t.Fatal(err)
	}
	kt := d.KPad / TileK
	for tile := 0; tile < d.NPad/TileM*kt; tile++ {
		n0, k0 := tile/kt*TileM, tile%kt*TileK
		for j0 := 0; j0 < m; j0 += TileN {
			var acc [WarpSize][4]int32
			for half := 0; half < 2; half++ {
				var regs DenseRegs
				regs.A = d.DenseTileRegs(tile, half)
				b := BRegs(x, k, m, k, j0, k0+half*DenseK, 2)
				for lane := range b {
					regs.B[lane] = [2]uint32{b[lane][0], b[lane][1]}
				}
				regs.C = acc
				acc = EmulateDense(&regs)
			}
			want := reference(w, n, k, x, m, n0, k0, j0, TileK)
			for lane := 0; lane < WarpSize; lane++ {
				for i := 0; i < 4; i++ {
					row, col := CPos(lane, i)
					if acc[lane][i] != want[row][col] {
						t.Fatalf("tile %d, pixels %d: D[%d][%d] = %d, want %d", tile, j0, row, col, acc[lane][i], want[row][col])
					}
				}
			}
		}
	}
}

// TestEmulateRejectsUnorderedMetadata: index pairs that are not strictly
// increasing are undefined for ::ordered_metadata; the model refuses them.
func TestEmulateRejectsUnorderedMetadata(t *testing.T) {
	var regs SparseRegs
	for lane := range regs.E {
		regs.E[lane] = 0x44444444
	}
	if _, err := EmulateSparse(&regs); err != nil {
		t.Fatalf("valid metadata refused: %v", err)
	}
	regs.E[7] = 0x44444414 // nibble 1 is 0x1: first index 1, second 0
	if _, err := EmulateSparse(&regs); err == nil || !strings.Contains(err.Error(), "lane 7 nibble 1") {
		t.Errorf("unordered nibble: err = %v, want it named", err)
	}
}

// TestCheck24: a group with three non-zeros is named; 2:4 weights pass.
func TestCheck24(t *testing.T) {
	w := make([]int8, 3*10)
	w[2*10+8], w[2*10+9] = 1, 1
	if err := Check24(w, 3, 10); err != nil {
		t.Fatalf("2:4 weight refused: %v", err)
	}
	w[1*10+4], w[1*10+5], w[1*10+7] = 1, -1, 3
	err := Check24(w, 3, 10)
	if err == nil || !strings.Contains(err.Error(), "channel 1, k 4..7 has 3 non-zeros") {
		t.Errorf("Check24 = %v, want channel 1, k 4..7 named", err)
	}
	if _, err := PackSparse(w, 3, 10, 16); err == nil {
		t.Error("PackSparse accepted a weight that is not 2:4")
	}
	if _, err := PackSparse(w[:29], 3, 10, 16); err == nil || !strings.Contains(err.Error(), "want 3×10 = 30") {
		t.Errorf("short weight: %v", err)
	}
	if _, err := PackDense(w, 3, 10, 24); err == nil || !strings.Contains(err.Error(), "multiple of 16") {
		t.Errorf("alignment 24: %v", err)
	}
}

// TestChunkIndices: kept positions are the non-zeros, completed with the
// first zeros, in increasing order.
func TestChunkIndices(t *testing.T) {
	for _, c := range []struct {
		v      [4]int8
		i0, i1 int
	}{
		{[4]int8{0, 0, 0, 0}, 0, 1},
		{[4]int8{0, 0, 0, 5}, 0, 3},
		{[4]int8{0, 5, 0, 0}, 0, 1},
		{[4]int8{5, 0, 0, 0}, 0, 1},
		{[4]int8{0, 0, 5, 0}, 0, 2},
		{[4]int8{0, 5, 0, 6}, 1, 3},
		{[4]int8{0, 0, 5, 6}, 2, 3},
	} {
		if i0, i1 := chunkIndices(c.v); i0 != c.i0 || i1 != c.i1 {
			t.Errorf("chunkIndices(%v) = %d,%d, want %d,%d", c.v, i0, i1, c.i0, c.i1)
		}
	}
}

// TestFoldZeroPoint: Σ x·w + folded bias equals Σ (x − zx)·w + B.
func TestFoldZeroPoint(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	const n, k = 7, 300
	w := randInt8(r, n*k)
	x := randInt8(r, k)
	bias := make([]int32, n)
	for i := range bias {
		bias[i] = int32(r.IntN(200001) - 100000)
	}
	for _, zx := range []int32{-128, -3, 0, 77, 127} {
		f, err := FoldZeroPoint(bias, w, n, k, 16, zx)
		if err != nil {
			t.Fatal(err)
		}
		if len(f) != 16 || f[n] != 0 || f[15] != 0 {
			t.Fatalf("folded bias %v, want 16 entries, zero past %d", f, n)
		}
		for i := 0; i < n; i++ {
			var direct, plain int32
			for c := 0; c < k; c++ {
				direct += (int32(x[c]) - zx) * int32(w[i*k+c])
				plain += int32(x[c]) * int32(w[i*k+c])
			}
			if plain+f[i] != direct+bias[i] {
				t.Fatalf("zx %d channel %d: Σx·w + folded = %d, want %d", zx, i, plain+f[i], direct+bias[i])
			}
		}
	}
	f, err := FoldZeroPoint(nil, w, n, k, n, 5)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i++ {
		var s int32
		for c := 0; c < k; c++ {
			s += int32(w[i*k+c])
		}
		if f[i] != -5*s {
			t.Fatalf("no bias, zx 5, channel %d: folded %d, want %d", i, f[i], -5*s)
		}
	}
	if _, err := FoldZeroPoint(bias[:3], w, n, k, n, 0); err == nil {
		t.Error("short bias accepted")
	}
}
