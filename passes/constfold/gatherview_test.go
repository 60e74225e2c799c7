package constfold_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/sqc-project/sqc/ir"
	"github.com/sqc-project/sqc/ir/ref"
	"github.com/sqc-project/sqc/ir/sqir"
	"github.com/sqc-project/sqc/passes"
	_ "github.com/sqc-project/sqc/passes/constfold"
	_ "github.com/sqc-project/sqc/passes/dce"
	_ "github.com/sqc-project/sqc/passes/shapeinfer"
)

// asStrided is PyTorch's dynamo export of as_strided on a contiguous
// [N,4,1,1] tensor (ConvNeXt's classifier head, with 768 channels): a
// Gather over the flattened tensor at indices computed from the batch. The
// cases below swap in other strides, channel offsets, Range limits and
// extra terms: only the first computes the identity.
const asStrided = `graph "g" (%%x: f32[N,4,1,1]) -> (%%y) {
  const %%minus1: i64[1] = [-1]
  const %%zero: i64[] = [0]
  const %%one: i64[] = [1]
  const %%two: i64[] = [2]
  const %%stride: i64[] = [%d]
  const %%axes: i64[3] = [1, 2, 3]
  const %%chans: i64[1,%d,1,1] = [%s]
  const %%nought: i64[1,1,1,1] = [%d]
  %%flat: f32[?] = Reshape "flat" (%%x, %%minus1)
  %%s: i64[1] = Shape "shape" (%%x) {end = 1, start = 0}
  %%n: i64[] = Squeeze "n" (%%s)
  %%limit: i64[] = %s
  %%r: i64[?] = Range "range" (%%zero, %%limit, %%one)
  %%rs: i64[?] = Mul "times_stride" (%%r, %%stride)
  %%ru: i64[?,1,1,1] = Unsqueeze "unsq" (%%rs, %%axes)
  %%i1: i64[?,4,1,1] = Add "add_c" (%%ru, %%chans)
  %%i2: i64[?,4,1,1] = Add "add_h" (%%i1, %%nought)
  %%i3: i64[?,4,1,1] = Add "add_w" (%%i2, %%nought)
  %%g: f32[?,4,1,1] = Gather "as_strided" (%%flat, %%i3) {axis = 0}
  %%y: f32[?,1,1,4] = Transpose "permute" (%%g) {perm = [0, 2, 3, 1]}
}
`

type stridedCase struct {
	name      string
	stride    int
	chans     []int
	offset    int
	limit     string
	reshape   bool
	minBatch  int // the indices are in range from this batch on
	wantShape []int64
}

func (c stridedCase) src() string {
	var chans []string
	for _, v := range c.chans {
		chans = append(chans, fmt.Sprint(v))
	}
	return fmt.Sprintf(asStrided, c.stride, len(c.chans), strings.Join(chans, ", "), c.offset, c.limit)
}

// randomInput is a seeded random [n,4,1,1] input.
func randomInput(n int) *ir.Tensor {
	x := ir.NewTensor(ir.Float32, n, 4, 1, 1)
	r := rand.New(rand.NewPCG(uint64(n), 1))
	for i := range x.Float32s() {
		x.Float32s()[i] = r.Float32()
	}
	return x
}

// TestGatherAsReshape: fold-constants makes the Gather a Reshape exactly
// when its indices are every element in order, and the graph computes the
// same at every batch either way.
func TestGatherAsReshape(t *testing.T) {
	identity := []int{0, 1, 2, 3}
	limitN := `Identity "limit" (%n)`
	for _, c := range []stridedCase{
		{name: "identity", stride: 4, chans: identity, limit: limitN, reshape: true, wantShape: []int64{-1, 4, 1, 1}},
		// The batch through arithmetic that cancels: (N+2)-2.
		{name: "identity through Add and Sub", stride: 4, chans: identity, limit: `Sub "limit" (%n2, %two)`, reshape: true, wantShape: []int64{-1, 4, 1, 1}},
		{name: "identity through Cast", stride: 4, chans: identity, limit: `Cast "limit" (%n) {to = 7}`, reshape: true, wantShape: []int64{-1, 4, 1, 1}},
		{name: "permuted channels", stride: 4, chans: []int{1, 0, 2, 3}, limit: limitN},
		{name: "channels reversed (affine, step -1)", stride: 4, chans: []int{3, 2, 1, 0}, limit: limitN},
		{name: "overlapping rows", stride: 3, chans: identity, limit: limitN},
		{name: "transposed strides", stride: 1, chans: []int{0, 2, 4, 6}, limit: limitN, minBatch: 2},
		{name: "offset", stride: 4, chans: []int{0, 1, 2, 3}, offset: -1, limit: limitN, minBatch: 1},
		{name: "a batch too few", stride: 4, chans: identity, limit: `Sub "limit" (%n, %one)`},
		// Min(N, 2) is the identity only up to batch 2: beyond the rules.
		{name: "non-affine limit", stride: 4, chans: identity, limit: `Min "limit" (%n, %two)`},
	} {
		t.Run(c.name, func(t *testing.T) {
			src := c.src()
			if strings.Contains(c.limit, "%n2") {
				src = strings.Replace(src, "  %limit", "  %n2: i64[] = Add \"n2\" (%n, %two)\n  %limit", 1)
			}
			before, err := sqir.ParseAndVerify("as_strided.sqir", []byte(src))
			if err != nil {
				t.Fatal(err)
			}
			after, err := sqir.Parse("as_strided.sqir", []byte(src))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := (&passes.Manager{VerifyEach: true}).RunSpec(after, "infer-shapes,fold-constants,dce"); err != nil {
				t.Fatal(err)
			}
			var gather, reshape *ir.Node
			for _, n := range after.Nodes {
				if n.Name == "as_strided" {
					gather = n
				}
				if n.Op == "Range" {
					reshape = n
				}
			}
			if gather == nil {
				t.Fatal("node as_strided is gone")
			}
			if !c.reshape {
				if gather.Op != "Gather" {
					t.Fatalf("as_strided became %s; its indices are not the identity at every batch", gather.Op)
				}
			} else {
				if gather.Op != "Reshape" || gather.Inputs[0].Name != "x" || !slices.Equal(gather.Inputs[1].Const.Int64s(), c.wantShape) {
					t.Fatalf("as_strided is %s of %v, want Reshape(x, %v)", gather.Op, gather.Inputs, c.wantShape)
				}
				if reshape != nil {
					t.Errorf("Range %s is left behind", reshape.Name)
				}
				if got := gather.Outputs[0].Type.Shape.String(); got != "[N,4,1,1]" {
					t.Errorf("as_strided's output is %s, want [N,4,1,1]", got)
				}
			}
			// In range (as the original requires) at these batches: the
			// graphs agree.
			for _, n := range []int{1, 2, 3, 7} {
				if n < c.minBatch {
					continue
				}
				want, errB := ref.Run(before, randomInput(n))
				got, errA := ref.Run(after, randomInput(n))
				if errB != nil || errA != nil {
					t.Fatalf("batch %d: before %v, after %v", n, errB, errA)
				}
				if !slices.Equal(want[0].Shape, got[0].Shape) || !slices.Equal(want[0].Float32s(), got[0].Float32s()) {
					t.Errorf("batch %d: before %v %v, after %v %v", n, want[0].Shape, want[0].Data, got[0].Shape, got[0].Data)
				}
			}
		})
	}
}

// TestGatherAsReshapeStatic: with a static batch the indices fold to a
// constant first; the identity is a Reshape, a permutation stays a Gather.
func TestGatherAsReshapeStatic(t *testing.T) {
	for _, c := range []struct {
		idx  string
		want string
	}{
		{"[0, 1, 2, 3, 4, 5]", `%g: f32[2,3] = Reshape "gather" (%x, %"gather/shape")`},
		{"[0, 2, 4, 1, 3, 5]", `%g: f32[2,3] = Gather "gather" (%flat, %idx)`},
	} {
		src := `graph "g" (%x: f32[3,2]) -> (%g) {
  const %minus1: i64[1] = [-1]
  const %idx: i64[2,3] = ` + c.idx + `
  %flat: f32[6] = Reshape "flat" (%x, %minus1)
  %g: f32[2,3] = Gather "gather" (%flat, %idx) {axis = 0}
}`
		g, err := sqir.ParseAndVerify("static.sqir", []byte(src))
		if err != nil {
			t.Fatal(err)
		}
		x := ir.FromFloat32([]float32{1, 2, 3, 4, 5, 6}, 3, 2)
		want, err := ref.Run(g, x)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := (&passes.Manager{VerifyEach: true}).RunSpec(g, "fold-constants,dce"); err != nil {
			t.Fatal(err)
		}
		var out strings.Builder
		if err := sqir.Print(&out, g); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(out.String(), c.want) {
			t.Errorf("indices %s: want %s in\n%s", c.idx, c.want, out.String())
		}
		got, err := ref.Run(g, x)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(want[0].Float32s(), got[0].Float32s()) {
			t.Errorf("indices %s: %v before, %v after", c.idx, want[0].Data, got[0].Data)
		}
	}
}
