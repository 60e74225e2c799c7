package pack

import "fmt"

// CPU models of the two instructions, written from the PTX ISA's fragment
// formulas in the forward direction (register → matrix position), while
// the packers use the inverse maps: a test that packs, then emulates,
// checks the two readings of the layout against each other, and the GPU
// test checks this model against the hardware with the same registers.

// SparseRegs are one warp's operands of mma.sp m16n8k64 s8.
type SparseRegs struct {
	A [WarpSize][4]uint32 // compressed 16×32 weights
	B [WarpSize][4]uint32 // 64×8 activations
	C [WarpSize][4]int32
	E [WarpSize]uint32 // metadata, sparsity selector 0
}

// DenseRegs are one warp's operands of mma.sync m16n8k32 s8.
type DenseRegs struct {
	A [WarpSize][4]uint32 // 16×32
	B [WarpSize][2]uint32 // 32×8
	C [WarpSize][4]int32
}

// EmulateSparse computes D = A·B + C as mma.sp::ordered_metadata m16n8k64
// .s32.s8.s8.s32 with sparsity selector 0 does, with wrapping int32
// accumulation. Metadata that is not an ordered pair of indices (undefined
// behaviour on the hardware) is an error.
func EmulateSparse(r *SparseRegs) ([WarpSize][4]int32, error) {
	var comp [TileM][SparseK / 2]int8
	for lane := 0; lane < WarpSize; lane++ {
		for reg := 0; reg < 4; reg++ {
			for b := 0; b < 4; b++ {
				row, cc := SparseAPos(lane, reg, b)
				comp[row][cc] = int8(r.A[lane][reg] >> (8 * b))
			}
		}
	}
	var a [TileM][SparseK]int32
	for lane := 0; lane < WarpSize; lane++ {
		for c := 0; c < 8; c++ {
			row, q := MetaChunk(lane, c)
			nib := r.E[lane] >> (4 * c) & 15
			i0, i1, ok := NibbleIndices(nib)
			if !ok {
				return [WarpSize][4]int32{}, fmt.Errorf("lane %d nibble %d: metadata %#x is not an ordered pair of indices", lane, c, nib)
			}
			a[row][4*q+i0] = int32(comp[row][2*q])
			a[row][4*q+i1] = int32(comp[row][2*q+1])
		}
	}
	var b [SparseK][TileN]int32
	for lane := 0; lane < WarpSize; lane++ {
		for reg := 0; reg < 4; reg++ {
			for i := 0; i < 4; i++ {
				k, col := BPos(lane, reg, i)
				b[k][col] = int32(int8(r.B[lane][reg] >> (8 * i)))
			}
		}
	}
	return emulateProduct(a[:], b[:], &r.C), nil
}

// EmulateDense computes D = A·B + C as mma.sync m16n8k32 .s32.s8.s8.s32
// does.
func EmulateDense(r *DenseRegs) [WarpSize][4]int32 {
	a := make([][SparseK]int32, TileM) // only the first 32 columns used
	for lane := 0; lane < WarpSize; lane++ {
		for reg := 0; reg < 4; reg++ {
			for i := 0; i < 4; i++ {
				row, col := DenseAPos(lane, reg, i)
				a[row][col] = int32(int8(r.A[lane][reg] >> (8 * i)))
			}
		}
	}
	var b [SparseK][TileN]int32
	for lane := 0; lane < WarpSize; lane++ {
		for reg := 0; reg < 2; reg++ {
			for i := 0; i < 4; i++ {
				k, col := BPos(lane, reg, i)
				b[k][col] = int32(int8(r.B[lane][reg] >> (8 * i)))
			}
		}
	}
	return emulateProduct(a, b[:], &r.C)
}

// emulateProduct returns the accumulator registers of A·B + C.
func emulateProduct(a [][SparseK]int32, b [][TileN]int32, c *[WarpSize][4]int32) [WarpSize][4]int32 {
	var d [WarpSize][4]int32
	for lane := 0; lane < WarpSize; lane++ {
		for reg := 0; reg < 4; reg++ {
			row, col := CPos(lane, reg)
			s := c[lane][reg]
			for k := range b {
				s += a[row][k] * b[k][col]
			}
			d[lane][reg] = s
		}
	}
	return d
}

// word packs four int8 (low byte first) into a register.
func word(v0, v1, v2, v3 int8) uint32 {
	return uint32(uint8(v0)) | uint32(uint8(v1))<<8 | uint32(uint8(v2))<<16 | uint32(uint8(v3))<<24
}

// SparseTileRegs loads the A and metadata registers of packed tile number
// tile (nt·KPad/64 + kt), as each lane's 16-byte and 4-byte loads would.
func (s *Sparse) SparseTileRegs(tile int) (a [WarpSize][4]uint32, e [WarpSize]uint32) {
	v := s.Values[tile*SparseTileBytes:]
	for lane := 0; lane < WarpSize; lane++ {
		for reg := 0; reg < 4; reg++ {
			o := lane*16 + reg*4
			a[lane][reg] = word(v[o], v[o+1], v[o+2], v[o+3])
		}
		e[lane] = s.Meta[tile*WarpSize+lane]
	}
	return a, e
}

// DenseTileRegs loads the A registers of K half (0 or 1) of packed tile
// number tile.
func (d *Dense) DenseTileRegs(tile, half int) (a [WarpSize][4]uint32) {
	v := d.Values[tile*DenseTileBytes:]
	for lane := 0; lane < WarpSize; lane++ {
		for reg := 0; reg < 4; reg++ {
			o := lane*32 + half*16 + reg*4
			a[lane][reg] = word(v[o], v[o+1], v[o+2], v[o+3])
		}
	}
	return a
}

// BRegs loads B registers (nregs of them: 4 for m16n8k64, 2 for m16n8k32)
// from activations x, row-major with row stride ldx: B[k][j] = x[(j0+j)·ldx
// + k0 + k], as the kernel's ldmatrix of an 8-row × 16-byte block does.
// Rows and columns past the matrix (rows ≥ m, k ≥ kmax) read as zero.
func BRegs(x []int8, ldx, m, kmax, j0, k0, nregs int) (b [WarpSize][4]uint32) {
	at := func(j, k int) int8 {
		if j < m && k < kmax {
			return x[j*ldx+k]
		}
		return 0
	}
	for lane := 0; lane < WarpSize; lane++ {
		for reg := 0; reg < nregs; reg++ {
			k, col := BPos(lane, reg, 0)
			j, kk := j0+col, k0+k
			b[lane][reg] = word(at(j, kk), at(j, kk+1), at(j, kk+2), at(j, kk+3))
		}
	}
	return b
}
