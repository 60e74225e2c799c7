package permute

import (
	"math/rand/v2"
	"sort"
)

// The search: given the magnitudes of the weights that read C channels, as
// C columns of R rows (a conv consumer contributes one row per output
// channel and kernel position), find an order of the columns that
// maximises what an N:M mask of consecutive columns keeps:
//
//	Σ_rows Σ_groups (sum of the N largest of the group's M values).
//
// This is the problem of Pool & Yu, "Channel Permutations for N:M
// Sparsity" (NeurIPS 2021), which apex ASP's permutation search solves on
// the GPU. Its core move is the one used here: take two groups, try
// exchanging channels between them, keep the best exchange if it raises
// the kept magnitude; repeat over pairs of groups until no exchange helps or
// the work budget is spent. (apex's exhaustive mode also tries every
// re-partition of the two groups' 2M channels; for 2:4 an exchange of one
// channel each covers 16 of its 34 non-trivial partitions, and, being 35/16
// times cheaper, lets the search visit more pairs in the same time.)
//
// For 2:4 an exchange is evaluated in 2R operations: with r1 ≥ r2 the two
// largest values left in a group after one channel leaves, the group's kept
// sum once channel x enters is r1 + max(r2, x), so the precomputed r1 and
// r2 of each (group, member) make a candidate cost one max and one add per
// row. On wide layers (many rows) the 16 candidates of a pair are first
// screened on a fixed random subset of rows and only the best one is
// evaluated exactly, so a pair costs about 2(16·S + R) operations.

// Options bound the search.
type Options struct {
	// Effort scales the work budget: the search stops after about
	// Effort·C·R element operations (a magnitude mask costs about C·R).
	Effort float64
	// MaxSweeps bounds the passes over all pairs of groups.
	MaxSweeps int
	// Seed makes the search reproducible.
	Seed uint64
	// ScreenRows is the number of rows candidate exchanges are screened on
	// when the matrix has more than twice as many; 0 disables screening.
	ScreenRows int
}

// DefaultOptions are the bounds the prune pass uses.
var DefaultOptions = Options{Effort: 128, MaxSweeps: 8, Seed: 1, ScreenRows: 128}

// Result is what a search found.
type Result struct {
	// Perm is the new channel order: channel i of the result is channel
	// Perm[i] of the input.
	Perm []int
	// Before and After are the shares of the total magnitude an N:M mask
	// keeps in the identity order and in Perm's order.
	Before, After float64
	// Swaps is the number of exchanges applied; Sweeps the passes made.
	Swaps, Sweeps int
	// Work counts the element operations spent, in the unit of the budget
	// (Options.Effort·C·R).
	Work float64
}

// Search looks for a channel order of cols (one column of R magnitudes per
// channel; len(cols) a multiple of m) that lets an n:m mask keep more of
// the magnitude.
func Search(cols [][]float32, n, m int, opt Options) Result {
	C := len(cols)
	perm := make([]int, C)
	for i := range perm {
		perm[i] = i
	}
	res := Result{Perm: perm}
	if C == 0 || C%m != 0 || n >= m {
		res.Before, res.After = 1, 1
		return res
	}
	R := len(cols[0])
	s := newState(cols, n, m, perm)
	total := 0.0
	for _, c := range cols {
		for _, v := range c {
			total += float64(v)
		}
	}
	if total == 0 {
		res.Before, res.After = 1, 1
		return res
	}
	res.Before = s.kept() / total
	G := C / m
	if G < 2 {
		res.After = res.Before
		return res
	}
	var screen *state
	if sr := opt.ScreenRows; n == 2 && m == 4 && sr > 0 && R > 2*sr {
		rng := rand.New(rand.NewPCG(opt.Seed, 0x5eed))
		rows := rng.Perm(R)[:sr]
		sort.Ints(rows)
		sub := make([][]float32, C)
		for c := range cols {
			sub[c] = make([]float32, sr)
			for i, r := range rows {
				sub[c][i] = cols[c][r]
			}
		}
		screen = newState(sub, n, m, append([]int{}, perm...))
	}
	rng := rand.New(rand.NewPCG(opt.Seed, 0xc0ffee))
	budget := opt.Effort * float64(C) * float64(R)
	spent := 0.0
	tol := 1e-9 * total
	order := make([]int, G)
	for i := range order {
		order[i] = i
	}
	for sweep := 0; sweep < opt.MaxSweeps && spent < budget; sweep++ {
		res.Sweeps++
		gain := 0.0
		rng.Shuffle(G, func(i, j int) { order[i], order[j] = order[j], order[i] })
		for oi, g1 := range order {
			if spent >= budget {
				break
			}
			for _, g2 := range order[oi+1:] {
				var p1, p2 int
				var d float64
				if screen != nil {
					q1, q2, sd := screen.bestSwap(g1, g2)
					spent += float64(2 * m * m * opt.ScreenRows)
					if sd <= 0 {
						continue
					}
					p1, p2, d = q1, q2, s.swapDelta(g1, q1, g2, q2)
					spent += float64(2 * R)
				} else {
					p1, p2, d = s.bestSwap(g1, g2)
					spent += float64(2 * m * m * R)
				}
				if d > tol {
					s.swap(g1, p1, g2, p2)
					if screen != nil {
						screen.swap(g1, p1, g2, p2)
					}
					gain += d
					res.Swaps++
				}
			}
		}
		if gain <= 1e-6*total {
			break
		}
	}
	res.After = s.kept() / total
	res.Work = spent
	return res
}

// state is a channel order with per-group caches.
type state struct {
	cols [][]float32
	n, m int
	R    int
	// perm[slot] is the channel at slot; group g is slots g·m … g·m+m−1.
	perm []int
	// val[g] is group g's kept magnitude.
	val []float64
	// For 2:4: r1, r2 [g·m+p] are, per row, the largest and second largest
	// of group g's values other than member p's; s1 the sum of r1.
	r1, r2 [][]float32
	s1     []float64
}

func newState(cols [][]float32, n, m int, perm []int) *state {
	C := len(cols)
	s := &state{cols: cols, n: n, m: m, R: len(cols[0]), perm: perm, val: make([]float64, C/m)}
	if n == 2 && m == 4 {
		s.r1 = make([][]float32, C)
		s.r2 = make([][]float32, C)
		s.s1 = make([]float64, C)
		for i := range s.r1 {
			s.r1[i] = make([]float32, s.R)
			s.r2[i] = make([]float32, s.R)
		}
	}
	for g := range s.val {
		s.refresh(g)
	}
	return s
}

// kept is the total kept magnitude.
func (s *state) kept() float64 {
	t := 0.0
	for _, v := range s.val {
		t += v
	}
	return t
}

// refresh recomputes group g's caches.
func (s *state) refresh(g int) {
	m := s.m
	if s.r1 == nil {
		s.val[g] = s.groupValue(s.perm[g*m:g*m+m], -1, -1)
		return
	}
	a, b, c, d := s.cols[s.perm[g*m]], s.cols[s.perm[g*m+1]], s.cols[s.perm[g*m+2]], s.cols[s.perm[g*m+3]]
	members := [4][]float32{a, b, c, d}
	val := 0.0
	for p := range 4 {
		o := [3][]float32{}
		k := 0
		for q := range 4 {
			if q != p {
				o[k] = members[q]
				k++
			}
		}
		r1, r2 := s.r1[g*m+p], s.r2[g*m+p]
		sum := 0.0
		for i := range s.R {
			x, y, z := o[0][i], o[1][i], o[2][i]
			if x < y {
				x, y = y, x
			}
			// x ≥ y; place z.
			if z > x {
				x, y = z, x
			} else if z > y {
				y = z
			}
			r1[i], r2[i] = x, y
			sum += float64(x)
		}
		s.s1[g*m+p] = sum
	}
	// The group's own value: member 0 entering the group without it.
	r1, r2 := s.r1[g*m], s.r2[g*m]
	for i := range s.R {
		val += float64(r1[i]) + float64(max(r2[i], a[i]))
	}
	s.val[g] = val
}

// groupValue is Σ_rows top-n of the group's channels, with the channel at
// position skip replaced by channel with (generic N:M path).
func (s *state) groupValue(chans []int, skip, with int) float64 {
	buf := make([]float32, s.m)
	total := 0.0
	for i := range s.R {
		for p, c := range chans {
			if p == skip {
				c = with
			}
			buf[p] = s.cols[c][i]
		}
		sort.Slice(buf, func(a, b int) bool { return buf[a] > buf[b] })
		for _, v := range buf[:s.n] {
			total += float64(v)
		}
	}
	return total
}

// swapDelta is the change of the kept magnitude if member p1 of group g1
// and member p2 of group g2 traded places.
func (s *state) swapDelta(g1, p1, g2, p2 int) float64 {
	m := s.m
	a, b := s.perm[g1*m+p1], s.perm[g2*m+p2]
	if s.r1 == nil {
		n1 := s.groupValue(s.perm[g1*m:g1*m+m], p1, b)
		n2 := s.groupValue(s.perm[g2*m:g2*m+m], p2, a)
		return n1 + n2 - s.val[g1] - s.val[g2]
	}
	i1, i2 := g1*m+p1, g2*m+p2
	return s.s1[i1] + s.s1[i2] + sumMax(s.r2[i1], s.cols[b]) + sumMax(s.r2[i2], s.cols[a]) - s.val[g1] - s.val[g2]
}

// sumMax is Σ max(r[i], x[i]).
func sumMax(r, x []float32) float64 {
	var a, b float32
	i := 0
	// Two accumulators in float32 over short runs, summed in float64, keep
	// the loop cheap without losing precision on long columns.
	total := 0.0
	for ; i+4 <= len(r); i += 4 {
		a += max(r[i], x[i]) + max(r[i+1], x[i+1])
		b += max(r[i+2], x[i+2]) + max(r[i+3], x[i+3])
		if i&255 == 252 {
			total += float64(a) + float64(b)
			a, b = 0, 0
		}
	}
	for ; i < len(r); i++ {
		a += max(r[i], x[i])
	}
	return total + float64(a) + float64(b)
}

// bestSwap returns the exchange between groups g1 and g2 that gains most,
// and its gain.
func (s *state) bestSwap(g1, g2 int) (int, int, float64) {
	best, b1, b2 := 0.0, 0, 0
	for p1 := range s.m {
		for p2 := range s.m {
			if d := s.swapDelta(g1, p1, g2, p2); d > best {
				best, b1, b2 = d, p1, p2
			}
		}
	}
	return b1, b2, best
}

// swap exchanges member p1 of g1 and member p2 of g2 and refreshes both.
func (s *state) swap(g1, p1, g2, p2 int) {
	m := s.m
	s.perm[g1*m+p1], s.perm[g2*m+p2] = s.perm[g2*m+p2], s.perm[g1*m+p1]
	s.refresh(g1)
	s.refresh(g2)
}
