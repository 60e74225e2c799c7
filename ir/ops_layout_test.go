package ir

import (
	"strings"
	"testing"
)

// TestRelayoutInfer checks Relayout's type rule: the input's dtype and
// shape, with the layout of attribute to.
func TestRelayoutInfer(t *testing.T) {
	x := Type{DType: Int8, Shape: Shape{SymDim("N"), D(3), D(8), D(8)}}
	for _, to := range []string{"NHWC", "", "NCHW"} {
		n := &Node{Name: "r", Op: "Relayout", Attrs: Attrs{"to": StringAttr(to)}, Inputs: []*Value{{Name: "x"}}, Outputs: []*Value{{Name: "y"}}}
		out, err := InferTypes(n, []Type{x}, []*Tensor{nil})
		if err != nil {
			t.Fatalf("to=%q: %v", to, err)
		}
		want := Type{DType: Int8, Shape: x.Shape, Layout: Layout(to)}
		if !out[0].Equal(want) {
			t.Errorf("to=%q: output %v, want %v", to, out[0], want)
		}
	}
}

// TestRelayoutErrors checks that malformed Relayouts are rejected with a
// message naming the node and saying what was expected.
func TestRelayoutErrors(t *testing.T) {
	x4 := TensorType(Float32, 1, 3, 4, 4)
	cases := []struct {
		attrs Attrs
		in    Type
		want  string
	}{
		{nil, x4, `r (Relayout): attribute to is missing, want the output layout ("" for row-major)`},
		{Attrs{"to": StringAttr("NHW")}, x4, `layout "NHW" has 3 letters, want 4 (one per dim) for input of shape [1,3,4,4]`},
		{Attrs{"to": StringAttr("NHWC")}, TensorType(Float32, 2, 8), `layout "NHWC" has 4 letters, want 2`},
		{Attrs{"to": StringAttr("NHHC")}, x4, `layout "NHHC" names dim H twice`},
		{Attrs{"to": StringAttr("nhwc")}, x4, `layout "nhwc": 'n' is not an upper-case letter`},
		{Attrs{"to": IntAttr(1)}, x4, `attribute "to" is int, want string`},
		{Attrs{"to": StringAttr("NHWC")}, Type{}, "input has no dtype, want an inferred type"},
	}
	for _, c := range cases {
		n := &Node{Name: "r", Op: "Relayout", Attrs: c.attrs, Inputs: []*Value{{Name: "x"}}, Outputs: []*Value{{Name: "y"}}}
		_, err := InferTypes(n, []Type{c.in}, []*Tensor{nil})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v on %v: error %v, want one containing %q", c.attrs, c.in, err, c.want)
		}
	}
}

// TestCheckLayout covers the layout names values may carry.
func TestCheckLayout(t *testing.T) {
	for _, ok := range []struct {
		l    Layout
		rank int
	}{{"", 0}, {"", 5}, {"NHWC", 4}, {"OHWI", 4}, {"NC", 2}, {"NDHWC", 5}} {
		if err := CheckLayout(ok.l, ok.rank); err != nil {
			t.Errorf("CheckLayout(%q, %d): %v", ok.l, ok.rank, err)
		}
	}
	for _, bad := range []struct {
		l    Layout
		rank int
	}{{"NHWC", 3}, {"N", 0}, {"NH1C", 4}, {"NNWC", 4}} {
		if err := CheckLayout(bad.l, bad.rank); err == nil {
			t.Errorf("CheckLayout(%q, %d) accepted it", bad.l, bad.rank)
		}
	}
}
