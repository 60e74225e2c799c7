// Package pack lays out INT8 weights, at compile time, the way the Tensor
// Core instructions of the Ampere backend read them from registers:
//
//   - 2:4 sparse weights for mma.sp(::ordered_metadata).sync.aligned.m16n8k64.row.col.s32.s8.s8.s32
//     with sparsity selector 0: the two kept values of every four along K
//     (the "compressed" matrix) and the 2-bit indices that say where they
//     were (the metadata);
//   - dense weights for mma.sync.aligned.m16n8k32.row.col.s32.s8.s8.s32.
//
// The weights are the instruction's A operand (the sparse one): the kernel
// computes Yᵀ = W·Xᵀ, so output channels are the instruction's M (16 a
// tile) and activation rows (pixels) its N (8 a tile). Each 16×64 tile of W
// is stored in fragment order, lane after lane, so a warp reads a tile with
// one 16-byte load per lane (sparse: 512 bytes of values and 128 of
// metadata; dense: two 16-byte loads, 1024 bytes).
//
// The layouts come from the PTX ISA, section "Warp Level Matrix Multiply-
// Accumulate Instructions": "Sparse matrix storage" and "Matrix Fragments
// for sparse mma.m16n8k64 with .u8/.s8 ... type" for the sparse operand
// and its metadata, "Matrix Fragments for mma.m16n8k32" for the dense one.
// In the formulas below, for lane l: g = l>>2 (groupID) and t = l&3
// (threadID_in_group).
//
// Sparse A (16×64 logical, 16×32 compressed), four .b32 registers a lane:
//
//	register n, byte i  ←  row g + 8·(n&1), compressed column 4t + 16·(n>>1) + i
//
// so register 0 holds the kept values of row g, logical columns 8t…8t+7.
// Compressed columns 2q and 2q+1 are the two kept values of the 4-wide
// chunk q (logical columns 4q…4q+3), in increasing logical order.
//
// Metadata, one .b32 a lane, every lane contributing (selector 0): lane l
// holds the chunks of row g + 8·(t&1), logical columns 32·(t>>1) …
// 32·(t>>1)+31, chunk c of those eight at bits 4c…4c+3; in each nibble the
// low two bits are the index (0…3) of the first kept value in its chunk
// and the high two bits that of the second. With ::ordered_metadata the
// first index must be the smaller; the packer always writes them so, which
// makes the layout valid for plain mma.sp too.
//
// B (the activations, K×8, "col": each column contiguous along K), for
// the sparse m16n8k64 (four registers) and the dense m16n8k32 (two):
//
//	register r, byte i  ←  k = 16r + 4t + i, column g
//
// Dense A (16×32), four registers:
//
//	register n, byte i  ←  row g + 8·(n&1), column 4t + 16·(n>>1) + i
//
// Accumulators C/D (16×8 s32), four registers:
//
//	register r  ←  row g + 8·(r>>1), column 2t + (r&1)
package pack

import "fmt"

// Instruction and tile geometry.
const (
	// TileM is the instruction's M: output channels per tile.
	TileM = 16
	// TileN is the instruction's N: activation rows (pixels) per tile.
	TileN = 8
	// SparseK is the logical K of one mma.sp m16n8k64.
	SparseK = 64
	// DenseK is the K of one mma.sync m16n8k32.
	DenseK = 32
	// TileK is the K of one packed weight tile, sparse or dense (a dense
	// tile feeds two m16n8k32 instructions).
	TileK = 64
	// WarpSize is the number of lanes that share a fragment.
	WarpSize = 32
)

// SparseAPos returns the position in the 16×32 compressed tile of byte b
// of register reg (0…3) of lane's sparse A fragment.
func SparseAPos(lane, reg, b int) (row, ccol int) {
	g, t := lane>>2, lane&3
	return g + 8*(reg&1), 4*t + 16*(reg>>1) + b
}

// SparseALane is the inverse of SparseAPos: the lane, register and byte
// that hold compressed element (row, ccol) of a tile.
func SparseALane(row, ccol int) (lane, reg, b int) {
	g, hi := row&7, row>>3
	t, half, b := (ccol&15)>>2, ccol>>4, ccol&3
	return g<<2 | t, half<<1 | hi, b
}

// MetaPos returns where the indices of chunk q (logical columns 4q…4q+3,
// q in 0…15) of tile row row live: the lane that holds them and the bit
// offset of their nibble in that lane's metadata register.
func MetaPos(row, q int) (lane, shift int) {
	g, hi := row&7, row>>3
	t := hi | (q>>3)<<1
	return g<<2 | t, 4 * (q & 7)
}

// MetaChunk is the inverse of MetaPos: the tile row and chunk whose
// indices are at nibble c (0…7) of lane's metadata register.
func MetaChunk(lane, c int) (row, q int) {
	g, t := lane>>2, lane&3
	return g + 8*(t&1), 8*(t>>1) + c
}

// DenseAPos returns the position in a 16×32 tile of byte b of register
// reg (0…3) of lane's dense m16n8k32 A fragment.
func DenseAPos(lane, reg, b int) (row, col int) {
	g, t := lane>>2, lane&3
	return g + 8*(reg&1), 4*t + 16*(reg>>1) + b
}

// BPos returns the (k, column) of byte b of register reg of lane's B
// fragment (m16n8k64 sparse: reg 0…3; m16n8k32 dense: reg 0…1).
func BPos(lane, reg, b int) (k, col int) {
	g, t := lane>>2, lane&3
	return 16*reg + 4*t + b, g
}

// CPos returns the (row, column) of accumulator register reg (0…3) of
// lane.
func CPos(lane, reg int) (row, col int) {
	g, t := lane>>2, lane&3
	return g + 8*(reg>>1), 2*t + reg&1
}

// Nibble encodes the indices of the two kept values of a chunk, i0 < i1,
// as the metadata stores them (i0 in the low two bits).
func Nibble(i0, i1 int) uint32 { return uint32(i0) | uint32(i1)<<2 }

// NibbleIndices decodes a metadata nibble. ok is false for the encodings
// that are undefined for mma.sp::ordered_metadata (i0 ≥ i1).
func NibbleIndices(n uint32) (i0, i1 int, ok bool) {
	i0, i1 = int(n&3), int(n>>2&3)
	return i0, i1, i0 < i1
}

// roundUp rounds n up to a multiple of m.
func roundUp(n, m int) int { return (n + m - 1) / m * m }

// checkShape validates a weight matrix [n][k] and the channel alignment.
func checkShape(w []int8, n, k, nAlign int) error {
	if n <= 0 || k <= 0 {
		return fmt.Errorf("weight shape %d×%d, want positive dims", n, k)
	}
	if len(w) != n*k {
		return fmt.Errorf("weight has %d values, want %d×%d = %d", len(w), n, k, n*k)
	}
	if nAlign < TileM || nAlign%TileM != 0 {
		return fmt.Errorf("channel alignment %d, want a positive multiple of %d", nAlign, TileM)
	}
	return nil
}
