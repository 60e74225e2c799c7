package pack

import "fmt"

// Dense is a weight matrix W[N][K] packed for mma.sync m16n8k32, padded
// like Sparse (channels to NPad, K with zeros to KPad, a multiple of 64).
// A 16×64 tile feeds two instructions (K 0…31 and 32…63); per tile, lane
// l's 32 bytes are its four A registers for the first, then its four for
// the second (DenseAPos), so a lane reads a tile with two 16-byte loads.
type Dense struct {
	N, K       int
	NPad, KPad int
	Values     []int8
}

// DenseTileBytes is the size of one packed dense tile.
const DenseTileBytes = WarpSize * 32

// PackDense packs w [n][k], padding channels to a multiple of nAlign.
func PackDense(w []int8, n, k, nAlign int) (*Dense, error) {
	if err := checkShape(w, n, k, nAlign); err != nil {
		return nil, err
	}
	d := &Dense{N: n, K: k, NPad: roundUp(n, nAlign), KPad: roundUp(k, TileK)}
	nt, kt := d.NPad/TileM, d.KPad/TileK
	d.Values = make([]int8, nt*kt*DenseTileBytes)
	for tile := 0; tile < nt*kt; tile++ {
		ti, tk := tile/kt, tile%kt
		for lane := 0; lane < WarpSize; lane++ {
			for half := 0; half < 2; half++ {
				for reg := 0; reg < 4; reg++ {
					for b := 0; b < 4; b++ {
						row, col := DenseAPos(lane, reg, b)
						r, c := ti*TileM+row, tk*TileK+half*DenseK+col
						if r < n && c < k {
							d.Values[tile*DenseTileBytes+lane*32+half*16+reg*4+b] = w[r*k+c]
						}
					}
				}
			}
		}
	}
	return d, nil
}

// Unpack rebuilds the dense N×K matrix, checking that padding holds zeros.
func (d *Dense) Unpack() ([]int8, error) {
	kt := d.KPad / TileK
	if d.NPad%TileM != 0 || d.KPad%TileK != 0 || len(d.Values) != d.NPad/TileM*kt*DenseTileBytes {
		return nil, fmt.Errorf("packed dense weight %d×%d (padded %d×%d) has %d values: inconsistent", d.N, d.K, d.NPad, d.KPad, len(d.Values))
	}
	w := make([]int8, d.N*d.K)
	for i, v := range d.Values {
		tile, rest := i/DenseTileBytes, i%DenseTileBytes
		lane, half, reg, b := rest/32, rest%32/16, rest%16/4, rest%4
		row, col := DenseAPos(lane, reg, b)
		r, c := tile/kt*TileM+row, tile%kt*TileK+half*DenseK+col
		if r < d.N && c < d.K {
			w[r*d.K+c] = v
		} else if v != 0 {
			return nil, fmt.Errorf("tile %d: padding element (%d, %d) holds %d, want 0", tile, r, c, v)
		}
	}
	return w, nil
}

// FoldZeroPoint returns the bias the kernel adds to Σ x·w so that the sum
// equals the reference's Σ (x − zx)·w + B: B[n] − zx·Σk w[n][k], in
// wrapping int32 arithmetic like the reference's accumulator (the
// instruction takes signed int8 operands, and x − zx does not fit one).
// bias may be nil (no bias input); the result has NPad entries, zero past
// N, so the kernel reads it without a bound check.
func FoldZeroPoint(bias []int32, w []int8, n, k, nPad int, zx int32) ([]int32, error) {
	if bias != nil && len(bias) != n {
		return nil, fmt.Errorf("bias has %d values, want %d (one per output channel)", len(bias), n)
	}
	if len(w) != n*k || nPad < n {
		return nil, fmt.Errorf("weight has %d values for %d×%d, padded to %d channels: inconsistent", len(w), n, k, nPad)
	}
	out := make([]int32, nPad)
	for r := 0; r < n; r++ {
		var s int32
		for _, v := range w[r*k : (r+1)*k] {
			s += int32(v)
		}
		var b int32
		if bias != nil {
			b = bias[r]
		}
		out[r] = b - zx*s
	}
	return out, nil
}
