package pack

import "fmt"

// Sparse is a 2:4 weight matrix W[N][K] (N output channels, K the
// reduction axis, along which the sparsity runs) packed for mma.sp
// m16n8k64. N is padded with zero channels to NPad, a multiple of the
// kernel's channel block, and K with zeros to KPad, a multiple of 64; a
// padded chunk has no kept value and gets the metadata of (0, 1).
//
// Tiles of 16 channels × 64 K are stored channel-tile major, K-tile minor
// (tile index nt·KPad/64 + kt), so the K loop of one channel tile walks
// contiguous memory.
type Sparse struct {
	N, K       int
	NPad, KPad int
	// Values holds the kept values: per tile, 32 lanes × 16 bytes, lane l's
	// bytes being its four A registers in order (SparseAPos).
	Values []int8
	// Meta holds per tile 32 lanes × one metadata register (MetaPos).
	Meta []uint32
}

// SparseTileBytes is the size of one tile's values.
const SparseTileBytes = WarpSize * 16

// Check24 verifies that w [n][k] is 2:4 sparse along k: at most two
// non-zeros in every aligned group of four (the last group of a row may be
// shorter). It names the first offending group.
func Check24(w []int8, n, k int) error {
	if len(w) != n*k {
		return fmt.Errorf("weight has %d values, want %d×%d", len(w), n, k)
	}
	for r := 0; r < n; r++ {
		row := w[r*k : (r+1)*k]
		for c0 := 0; c0 < k; c0 += 4 {
			nz := 0
			for c := c0; c < min(c0+4, k); c++ {
				if row[c] != 0 {
					nz++
				}
			}
			if nz > 2 {
				return fmt.Errorf("channel %d, k %d..%d has %d non-zeros, want at most 2 of every 4 for 2:4 sparsity", r, c0, min(c0+4, k)-1, nz)
			}
		}
	}
	return nil
}

// chunkIndices picks the two kept positions of a 4-wide chunk: its
// non-zeros, completed with the first zero positions when it has fewer
// than two, in increasing order (as ::ordered_metadata requires).
func chunkIndices(v [4]int8) (i0, i1 int) {
	var idx [2]int
	n := 0
	for i := 0; i < 4 && n < 2; i++ {
		if v[i] != 0 {
			idx[n] = i
			n++
		}
	}
	for i := 0; i < 4 && n < 2; i++ {
		if v[i] == 0 && (n == 0 || idx[0] != i) {
			idx[n] = i
			n++
		}
	}
	if idx[0] > idx[1] {
		idx[0], idx[1] = idx[1], idx[0]
	}
	return idx[0], idx[1]
}

// PackSparse packs w [n][k], which must be 2:4 sparse along k (Check24),
// padding the channels to a multiple of nAlign (a multiple of 16: the
// kernel's channel block, so that it never reads past the packed weights).
func PackSparse(w []int8, n, k, nAlign int) (*Sparse, error) {
	if err := checkShape(w, n, k, nAlign); err != nil {
		return nil, err
	}
	if err := Check24(w, n, k); err != nil {
		return nil, err
	}
	s := &Sparse{N: n, K: k, NPad: roundUp(n, nAlign), KPad: roundUp(k, TileK)}
	nt, kt := s.NPad/TileM, s.KPad/TileK
	s.Values = make([]int8, nt*kt*SparseTileBytes)
	s.Meta = make([]uint32, nt*kt*WarpSize)
	at := func(r, c int) int8 {
		if r < n && c < k {
			return w[r*k+c]
		}
		return 0
	}
	for ti := 0; ti < nt; ti++ {
		for tk := 0; tk < kt; tk++ {
			tile := ti*kt + tk
			vals := s.Values[tile*SparseTileBytes : (tile+1)*SparseTileBytes]
			meta := s.Meta[tile*WarpSize : (tile+1)*WarpSize]
			for row := 0; row < TileM; row++ {
				r := ti*TileM + row
				for q := 0; q < TileK/4; q++ {
					c0 := tk*TileK + 4*q
					chunk := [4]int8{at(r, c0), at(r, c0+1), at(r, c0+2), at(r, c0+3)}
					i0, i1 := chunkIndices(chunk)
					lane, shift := MetaPos(row, q)
					meta[lane] |= Nibble(i0, i1) << shift
					for j, i := range [2]int{i0, i1} {
						l, reg, b := SparseALane(row, 2*q+j)
						vals[l*16+reg*4+b] = chunk[i]
					}
				}
			}
		}
	}
	return s, nil
}

// Unpack rebuilds the dense N×K matrix from the packed form: the inverse
// of PackSparse, and an independent reading of the layout for tests.
func (s *Sparse) Unpack() ([]int8, error) {
	kt := s.KPad / TileK
	if s.NPad%TileM != 0 || s.KPad%TileK != 0 || len(s.Values) != s.NPad/TileM*kt*SparseTileBytes || len(s.Meta) != s.NPad/TileM*kt*WarpSize {
		return nil, fmt.Errorf("packed sparse weight %d×%d (padded %d×%d) has %d values and %d metadata words: inconsistent", s.N, s.K, s.NPad, s.KPad, len(s.Values), len(s.Meta))
	}
	w := make([]int8, s.N*s.K)
	for tile := 0; tile < len(s.Meta)/WarpSize; tile++ {
		ti, tk := tile/kt, tile%kt
		for lane := 0; lane < WarpSize; lane++ {
			m := s.Meta[tile*WarpSize+lane]
			for c := 0; c < 8; c++ {
				row, q := MetaChunk(lane, c)
				i0, i1, ok := NibbleIndices(m >> (4 * c) & 15)
				if !ok {
					return nil, fmt.Errorf("tile %d lane %d chunk %d: metadata nibble %#x is not an ordered pair of indices", tile, lane, c, m>>(4*c)&15)
				}
				r := ti*TileM + row
				for j, i := range [2]int{i0, i1} {
					l, reg, b := SparseALane(row, 2*q+j)
					v := s.Values[tile*SparseTileBytes+l*16+reg*4+b]
					col := tk*TileK + 4*q + i
					if r < s.N && col < s.K {
						w[r*s.K+col] = v
					} else if v != 0 {
						return nil, fmt.Errorf("tile %d: padding element (%d, %d) holds %d, want 0", tile, r, col, v)
					}
				}
			}
		}
	}
	return w, nil
}
