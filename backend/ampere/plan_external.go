package ampere

import (
	"crypto/sha256"
	"fmt"
	"strings"

	"github.com/sqc-project/sqc/backend/ampere/engine"
	"github.com/sqc-project/sqc/ir"
)

// A float constant of the engine's graph that a kernel also reads as an
// engine weight is written once: the graph's text refers to the weight
// (`= external "f32:NAME"`, or "f32t:NAME" when the weight holds the 2-D
// constant transposed, as the row MatMul and the float Gemm take it) and
// Graph reads it back. Weights the planner changed (a Gemm's alpha folded
// in, a permuted constant) match no constant and keep both copies. This
// halves the float engines of transformer-sized models (ViT-B/16's graph
// engine held its 86 M projection and MLP weights twice).
const (
	externalF32  = "f32:"
	externalF32T = "f32t:"
)

// floatWeightRefs maps each f32 constant of g whose bytes an f32 engine
// weight holds, as they are or transposed, to its external key. The first
// weight in the engine's order wins, so the text is deterministic.
func floatWeightRefs(g *ir.Graph, weights []*engine.Weight) map[*ir.Value]string {
	byHash := map[[32]byte]*engine.Weight{}
	for _, w := range weights {
		if w.Kind != "f32" || len(w.Data) == 0 {
			continue
		}
		h := sha256.Sum256(w.Data)
		if byHash[h] == nil {
			byHash[h] = w
		}
	}
	refs := map[*ir.Value]string{}
	if len(byHash) == 0 {
		return refs
	}
	find := func(b []byte) *engine.Weight {
		w := byHash[sha256.Sum256(b)]
		if w != nil && string(w.Data) == string(b) {
			return w
		}
		return nil
	}
	for _, v := range g.Constants() {
		t := v.Const
		if t == nil || t.DType != ir.Float32 || ir.NumElements(t.Shape) < 2 {
			continue
		}
		vals := t.Float32s()
		if w := find(leBytes(vals)); w != nil {
			refs[v] = externalF32 + w.Name
			continue
		}
		if len(t.Shape) == 2 {
			if w := find(leBytes(transpose2(vals, t.Shape[0], t.Shape[1]))); w != nil {
				refs[v] = externalF32T + w.Name
			}
		}
	}
	return refs
}

// transpose2 returns the r×c row-major matrix m as c×r.
func transpose2(m []float32, r, c int) []float32 {
	out := make([]float32, len(m))
	for i := 0; i < r; i++ {
		for j := 0; j < c; j++ {
			out[j*r+i] = m[i*c+j]
		}
	}
	return out
}

// floatWeight reads back the f32 constant v that the external key names
// (floatWeightRefs), or says it is no float reference.
func floatWeight(weights map[string]*engine.Weight, key string, v *ir.Value) (*ir.Tensor, bool, error) {
	name, transposed := "", false
	switch {
	case strings.HasPrefix(key, externalF32):
		name = key[len(externalF32):]
	case strings.HasPrefix(key, externalF32T):
		name, transposed = key[len(externalF32T):], true
	default:
		return nil, false, nil
	}
	w := weights[name]
	dims, ok := v.Type.Shape.Ints()
	if w == nil || w.Kind != "f32" || !ok || v.Type.DType != ir.Float32 {
		return nil, true, fmt.Errorf("no f32 weight %s for %s %v", name, v.Name, v.Type)
	}
	n := ir.NumElements(dims)
	if len(w.Data) != 4*n || transposed && len(dims) != 2 {
		return nil, true, fmt.Errorf("f32 weight %s holds %d bytes, %s %v needs %d", name, len(w.Data), v.Name, v.Type, 4*n)
	}
	vals := make([]float32, n)
	if err := ir.PutLE(vals, 0, w.Data); err != nil {
		return nil, true, err
	}
	if transposed {
		vals = transpose2(vals, dims[1], dims[0])
	}
	return ir.FromFloat32(vals, dims...), true, nil
}
