package permute

import (
	"math"
	"math/rand/v2"
	"sort"
	"testing"
)

// keptShare evaluates a channel order independently of the search's
// caches: for every row and group of m consecutive slots, the n largest
// magnitudes, summed, over the total.
func keptShare(cols [][]float32, perm []int, n, m int) float64 {
	R := len(cols[0])
	kept, total := 0.0, 0.0
	buf := make([]float64, m)
	for r := range R {
		for g := 0; g < len(perm); g += m {
			for p := range m {
				buf[p] = float64(cols[perm[g+p]][r])
				total += buf[p]
			}
			sort.Sort(sort.Reverse(sort.Float64Slice(buf)))
			for _, v := range buf[:n] {
				kept += v
			}
		}
	}
	return kept / total
}

func randCols(rng *rand.Rand, C, R int) [][]float32 {
	cols := make([][]float32, C)
	for c := range cols {
		cols[c] = make([]float32, R)
		for r := range cols[c] {
			cols[c][r] = float32(math.Abs(rng.NormFloat64()))
		}
	}
	return cols
}

func isPerm(p []int) bool {
	seen := make([]bool, len(p))
	for _, v := range p {
		if v < 0 || v >= len(p) || seen[v] {
			return false
		}
		seen[v] = true
	}
	return true
}

// TestSearchPlanted: every row's large values sit in channels 0..3 (plus
// noise elsewhere), so the identity order keeps only two of each row's
// four large values; an order that spreads 0..3 over two groups keeps all
// of them. The search must find one.
func TestSearchPlanted(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	C, R := 8, 50
	cols := make([][]float32, C)
	for c := range cols {
		cols[c] = make([]float32, R)
		for r := range cols[c] {
			v := 0.01 * rng.Float32()
			if c < 4 {
				v = 1 + rng.Float32()
			}
			cols[c][r] = v
		}
	}
	for _, screen := range []bool{false, true} {
		res := Search(cols, 2, 4, DefaultOptions)
		if !isPerm(res.Perm) {
			t.Fatalf("not a permutation: %v", res.Perm)
		}
		groupOf := func(ch int) int {
			for i, p := range res.Perm {
				if p == ch {
					return i / 4
				}
			}
			return -1
		}
		count := [2]int{}
		for ch := range 4 {
			count[groupOf(ch)]++
		}
		if count != [2]int{2, 2} {
			t.Errorf("screen=%v: channels 0..3 are split %v over the two groups, want 2 and 2 (perm %v)", screen, count, res.Perm)
		}
		if res.After < 0.99 {
			t.Errorf("after = %.4f, want > 0.99", res.After)
		}
		_ = screen
	}
}

// TestSearchMatchesEvaluation: the reported shares equal an independent
// evaluation of the identity and of the returned order, the search never
// makes things worse, and on random magnitudes it finds a real gain; with
// many rows (screening on) as well as few.
func TestSearchMatchesEvaluation(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, tc := range []struct{ C, R int }{{16, 20}, {64, 100}, {64, 600}, {128, 1000}} {
		cols := randCols(rng, tc.C, tc.R)
		res := Search(cols, 2, 4, DefaultOptions)
		if !isPerm(res.Perm) {
			t.Fatalf("C=%d: not a permutation", tc.C)
		}
		id := make([]int, tc.C)
		for i := range id {
			id[i] = i
		}
		before, after := keptShare(cols, id, 2, 4), keptShare(cols, res.Perm, 2, 4)
		if math.Abs(before-res.Before) > 1e-6 || math.Abs(after-res.After) > 1e-6 {
			t.Errorf("C=%d R=%d: reported %.6f → %.6f, evaluated %.6f → %.6f", tc.C, tc.R, res.Before, res.After, before, after)
		}
		if after < before {
			t.Errorf("C=%d R=%d: search lost magnitude: %.6f → %.6f", tc.C, tc.R, before, after)
		}
		// Random half-normal columns: exchanges always find something.
		if after-before < 0.002 {
			t.Errorf("C=%d R=%d: gain %.4f, want at least 0.2 points", tc.C, tc.R, after-before)
		}
		t.Logf("C=%d R=%d: %.4f → %.4f (%d swaps, %d sweeps)", tc.C, tc.R, before, after, res.Swaps, res.Sweeps)
	}
}

// TestSearchGenericPattern runs the generic N:M path (1:4 and 2:8) and
// checks it against the independent evaluation.
func TestSearchGenericPattern(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	cols := randCols(rng, 32, 40)
	for _, nm := range [][2]int{{1, 4}, {2, 8}} {
		res := Search(cols, nm[0], nm[1], DefaultOptions)
		id := make([]int, len(cols))
		for i := range id {
			id[i] = i
		}
		before, after := keptShare(cols, id, nm[0], nm[1]), keptShare(cols, res.Perm, nm[0], nm[1])
		if math.Abs(after-res.After) > 1e-6 || math.Abs(before-res.Before) > 1e-6 {
			t.Errorf("%d:%d: reported %.6f → %.6f, evaluated %.6f → %.6f", nm[0], nm[1], res.Before, res.After, before, after)
		}
		if after <= before {
			t.Errorf("%d:%d: no gain: %.6f → %.6f", nm[0], nm[1], before, after)
		}
	}
}

// TestSearchBudget: a wide layer's search stops once its work budget is
// spent, whatever its size. The budget counts operations, not seconds, so
// the test asserts on the count; BenchmarkSearch measures the time.
func TestSearchBudget(t *testing.T) {
	if testing.Short() {
		t.Skip("a wide layer")
	}
	rng := rand.New(rand.NewPCG(7, 8))
	const C, R, n, m = 1024, 2048, 2, 4
	cols := randCols(rng, C, R)
	opt := DefaultOptions
	opt.MaxSweeps = 1000 // only the budget may stop it
	res := Search(cols, n, m, opt)
	t.Logf("C=%d R=%d: %.4f → %.4f, %d swaps, %d sweeps, %.3g operations", C, R, res.Before, res.After, res.Swaps, res.Sweeps, res.Work)
	budget := opt.Effort * C * R
	// The budget is checked before each group's row of exchanges: the
	// search may finish the row it started, G exchanges of 2·m·m·R each.
	overshoot := float64(C/m) * 2 * m * m * R
	if res.Work > budget+overshoot {
		t.Errorf("spent %.4g operations, want at most the budget %.4g (+ one row of exchanges, %.4g)", res.Work, budget, overshoot)
	}
	if res.After <= res.Before {
		t.Errorf("no gain: %.6f → %.6f", res.Before, res.After)
	}
}

// BenchmarkSearch times the search on a wide layer (1024 channels, 2048
// rows: ResNet-50's widest 1×1 convolutions) with the default budget.
//
//	go test ./passes/prune/permute -run '^$' -bench Search
func BenchmarkSearch(b *testing.B) {
	rng := rand.New(rand.NewPCG(7, 8))
	cols := randCols(rng, 1024, 2048)
	b.ResetTimer()
	for range b.N {
		Search(cols, 2, 4, DefaultOptions)
	}
}
