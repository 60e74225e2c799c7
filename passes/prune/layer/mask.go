package layer

import (
	"fmt"
	"sort"
)

// The functions below work on a view (Rows × Cols, row-major) whose N:M
// groups are runs of M consecutive columns; Cols must be a multiple of M.

// MagnitudeMask keeps, in every group of m consecutive elements of each
// row of abs, the n largest (apex ASP's m4n2_1d for 2:4). Ties keep the
// element with the lower column, so the mask is deterministic.
func MagnitudeMask(abs []float32, rows, cols, n, m int) []bool {
	keep := make([]bool, rows*cols)
	if n >= m {
		for i := range keep {
			keep[i] = true
		}
		return keep
	}
	idx := make([]int, m)
	for g := 0; g < rows*cols; g += m {
		grp := abs[g : g+m]
		if n == 2 && m == 4 {
			a, b := top2of4(grp)
			keep[g+a], keep[g+b] = true, true
			continue
		}
		for i := range idx {
			idx[i] = i
		}
		sort.SliceStable(idx, func(i, j int) bool { return grp[idx[i]] > grp[idx[j]] })
		for _, i := range idx[:n] {
			keep[g+i] = true
		}
	}
	return keep
}

// top2of4 returns the positions of the two largest of four values, the
// lower position first among equals.
func top2of4(v []float32) (int, int) {
	a, b := 0, 1
	if v[1] > v[0] {
		a, b = 1, 0
	}
	for i := 2; i < 4; i++ {
		switch {
		case v[i] > v[a]:
			a, b = i, a
		case v[i] > v[b]:
			b = i
		}
	}
	return a, b
}

// Retained is the share of the total magnitude that keep keeps:
// Σ|w| over kept elements / Σ|w|, 1 for an all-zero weight.
func Retained(abs []float32, keep []bool) float64 {
	var kept, total float64
	for i, v := range abs {
		total += float64(v)
		if keep[i] {
			kept += float64(v)
		}
	}
	if total == 0 {
		return 1
	}
	return kept / total
}

// Violation says where a weight breaks an N:M pattern.
type Violation struct {
	Row, Col int // the view position of the group's first element
	NonZeros int
}

// CheckNM reports whether every group of m consecutive elements of each row
// of the view has at most n non-zeros, exactly (a weight pruned elsewhere,
// by ASP, and exported, has exact zeros). It returns the first group that
// has more, or nil.
func (l *Layer) CheckNM(n, m int) *Violation {
	cols := l.Cols()
	if cols%m != 0 {
		return &Violation{Row: 0, Col: cols - cols%m, NonZeros: -1}
	}
	t := l.Const.Const
	if l.Kind == Conv {
		// Walk the tensor directly: a conv's group is m channels at one
		// (k, spatial) position, Spatial elements apart.
		for r := range l.Rows {
			for c := 0; c < l.In; c += m {
				for s := range l.Spatial {
					base := (r*l.In+c)*l.Spatial + s
					nz := 0
					for k := range m {
						if t.AsFloat64(base+k*l.Spatial) != 0 {
							nz++
						}
					}
					if nz > n {
						return &Violation{Row: r, Col: s*l.In + c, NonZeros: nz}
					}
				}
			}
		}
		return nil
	}
	for r := range l.Rows {
		for c := 0; c < cols; c += m {
			nz := 0
			for k := range m {
				if t.AsFloat64(l.Index(r, c+k)) != 0 {
					nz++
				}
			}
			if nz > n {
				return &Violation{Row: r, Col: c, NonZeros: nz}
			}
		}
	}
	return nil
}

// Where describes a view position in the weight's own terms, for messages:
// "output channel 3, input channels 4..7 at kernel position (1,2)".
func (l *Layer) Where(row, col, m int) string {
	switch l.Kind {
	case Conv:
		s, c := col/l.In, col%l.In
		kdims := l.Const.Const.Shape[2:]
		pos := make([]int, len(kdims))
		for i := len(kdims) - 1; i >= 0; i-- {
			pos[i] = s % kdims[i]
			s /= kdims[i]
		}
		return fmt.Sprintf("output channel %d, input channels %d..%d at kernel position %v", row, c, c+m-1, pos)
	}
	return fmt.Sprintf("output %d, inputs %d..%d", row, col, col+m-1)
}
