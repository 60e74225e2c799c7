package ir

import (
	"math"
	"testing"
)

// tsI64 is a 1-D i64 constant.
func tsI64(v ...int64) *Tensor { return FromInt64(v, len(v)) }

func tsI64Type(n int) Type { return TensorType(Int64, n) }

func TestFlattenInfer(t *testing.T) {
	for _, c := range []struct {
		in   string
		axis int64
		out  string
	}{
		{"N,512,1,1", 1, "N,512"},
		{"2,3,4,5", 2, "6,20"},
		{"2,3,4,5", 0, "1,120"},
		{"2,3,4,5", 4, "120,1"},
		{"2,3,4,5", -1, "24,5"},
		{"N,3,H,5", 2, "?,?"},
		{"N,0,4", 2, "0,4"},
	} {
		got, err := tsInfer("Flatten", Attrs{"axis": IntAttr(c.axis)}, 1, []Type{tsType(Float32, c.in)})
		tsWant(t, "Flatten "+c.in, got, err, tsType(Float32, c.out))
	}
	_, err := tsInfer("Flatten", Attrs{"axis": IntAttr(5)}, 1, []Type{tsType(Float32, "2,3,4,5")})
	tsWantErr(t, "Flatten axis 5", err, "n1 (Flatten)", "attribute axis is 5", "[-4, 4]")
}

func TestReshapeInfer(t *testing.T) {
	for _, c := range []struct {
		in    string
		shape []int64
		zero  int64
		out   string
	}{
		{"N,512,1,1", []int64{0, -1}, 0, "N,512"},
		{"N,4", []int64{-1, 4}, 0, "N,4"},
		{"N,3,4", []int64{-1, 6}, 0, "?,6"},
		{"2,3,4", []int64{4, -1}, 0, "4,6"},
		{"2,3,4", []int64{0, 0, 2, 2}, 0, "2,3,2,2"},
		{"2,3,4", []int64{24}, 0, "24"},
		{"0,3", []int64{3, 0}, 1, "3,0"},
		{"?,3", []int64{0, 3}, 0, "?,3"},
		{"?,2,3", []int64{0, -1}, 0, "?,6"},
		{"1", []int64{}, 0, ""},
	} {
		got, err := tsInfer("Reshape", Attrs{"allowzero": IntAttr(c.zero)}, 1,
			[]Type{tsType(Float32, c.in), tsI64Type(len(c.shape))}, nil, tsI64(c.shape...))
		tsWant(t, "Reshape "+c.in, got, err, tsType(Float32, c.out))
	}
	reshapeErr := func(in string, shape []int64, zero int64, parts ...string) {
		t.Helper()
		_, err := tsInfer("Reshape", Attrs{"allowzero": IntAttr(zero)}, 1,
			[]Type{tsType(Float32, in), tsI64Type(len(shape))}, nil, tsI64(shape...))
		tsWantErr(t, "Reshape "+in, err, parts...)
	}
	reshapeErr("2,3,4", []int64{-1, -1}, 0, "n1 (Reshape)", "more than one -1")
	reshapeErr("2,3,4", []int64{5, -1}, 0, "cannot reshape [2,3,4]", "not a multiple of 5")
	reshapeErr("2,3,4", []int64{5, 5}, 0, "cannot reshape [2,3,4] (24 elements) to [5 5] (25 elements)")
	reshapeErr("2,3", []int64{-2, 3}, 0, "entry 0 is -2, want >= -1")
	reshapeErr("2,3", []int64{0, 0, 0}, 0, "entry 2 is 0", "has only 2 dims")
	reshapeErr("0,3", []int64{0, -1}, 1, "both 0 and -1 with allowzero=1")

	// A computed shape of known length gives the rank.
	got, err := tsInfer("Reshape", nil, 1, []Type{tsType(Float32, "N,8"), tsI64Type(3)})
	tsWant(t, "Reshape computed shape", got, err, tsType(Float32, "?,?,?"))
	_, err = tsInfer("Reshape", nil, 1, []Type{tsType(Float32, "8"), TensorType(Int32, 1)})
	tsWantErr(t, "Reshape i32 shape", err, "input shape is i32, want i64")
}

func TestTransposeInfer(t *testing.T) {
	got, err := tsInfer("Transpose", Attrs{"perm": IntsAttr(0, 2, 3, 1)}, 1, []Type{tsType(Int8, "N,3,H,W")})
	tsWant(t, "Transpose NCHW->NHWC", got, err, tsType(Int8, "N,H,W,3"))
	got, err = tsInfer("Transpose", nil, 1, []Type{tsType(Float32, "2,3,4")})
	tsWant(t, "Transpose default", got, err, tsType(Float32, "4,3,2"))
	_, err = tsInfer("Transpose", Attrs{"perm": IntsAttr(0, 0, 1)}, 1, []Type{tsType(Float32, "2,3,4")})
	tsWantErr(t, "Transpose repeated", err, "n1 (Transpose)", "perm [0 0 1] is not a permutation of 0..2")
	_, err = tsInfer("Transpose", Attrs{"perm": IntsAttr(1, 0)}, 1, []Type{tsType(Float32, "2,3,4")})
	tsWantErr(t, "Transpose short perm", err, "has 2 entries, want 3")
}

func TestConcatInfer(t *testing.T) {
	got, err := tsInfer("Concat", Attrs{"axis": IntAttr(1)}, 1,
		[]Type{tsType(Float32, "N,3,8"), tsType(Float32, "N,5,8"), tsType(Float32, "?,1,8")})
	tsWant(t, "Concat", got, err, tsType(Float32, "N,9,8"))
	got, err = tsInfer("Concat", Attrs{"axis": IntAttr(-1)}, 1, []Type{tsType(Float32, "2,K"), tsType(Float32, "2,3")})
	tsWant(t, "Concat symbolic axis", got, err, tsType(Float32, "2,?"))
	_, err = tsInfer("Concat", nil, 1, []Type{tsType(Float32, "2")})
	tsWantErr(t, "Concat no axis", err, "attribute axis is missing")
	_, err = tsInfer("Concat", Attrs{"axis": IntAttr(0)}, 1, []Type{tsType(Float32, "2,3"), tsType(Float32, "2,4")})
	tsWantErr(t, "Concat mismatch", err, "input 1 has shape [2,4] and input 0 has [2,3]", "except on axis 0")
	_, err = tsInfer("Concat", Attrs{"axis": IntAttr(0)}, 1, []Type{tsType(Float32, "2"), tsType(Int8, "2")})
	tsWantErr(t, "Concat dtypes", err, "input 1 is i8 and input 0 is f32")
}

func TestSplitInfer(t *testing.T) {
	check := func(what string, got []Type, err error, shapes ...string) {
		t.Helper()
		if err != nil {
			t.Errorf("%s: %v", what, err)
			return
		}
		for i, s := range shapes {
			if w := tsType(Float32, s); !got[i].Equal(w) {
				t.Errorf("%s: output %d is %v, want %v", what, i, got[i], w)
			}
		}
	}
	x := tsType(Float32, "N,10")
	got, err := tsInfer("Split", Attrs{"axis": IntAttr(1)}, 3, []Type{x, tsI64Type(3)}, nil, tsI64(2, 3, 5))
	check("Split sizes", got, err, "N,2", "N,3", "N,5")
	got, err = tsInfer("Split", Attrs{"axis": IntAttr(-1), "num_outputs": IntAttr(3)}, 3, []Type{x})
	check("Split num_outputs uneven", got, err, "N,4", "N,4", "N,2")
	got, err = tsInfer("Split", Attrs{"axis": IntAttr(1)}, 2, []Type{x})
	check("Split evenly", got, err, "N,5", "N,5")
	got, err = tsInfer("Split", Attrs{"axis": IntAttr(1), "num_outputs": IntAttr(4)}, 4, []Type{tsType(Float32, "1,9")})
	check("Split 9 in 4", got, err, "1,3", "1,3", "1,3", "1,0")
	got, err = tsInfer("Split", nil, 2, []Type{x})
	check("Split symbolic", got, err, "?,10", "?,10")

	_, err = tsInfer("Split", Attrs{"axis": IntAttr(1)}, 2, []Type{x, tsI64Type(2)}, nil, tsI64(4, 5))
	tsWantErr(t, "Split bad sum", err, "n1 (Split)", "input split [4 5] sums to 9, want 10")
	_, err = tsInfer("Split", Attrs{"axis": IntAttr(1), "num_outputs": IntAttr(2)}, 2, []Type{x, tsI64Type(2)}, nil, tsI64(4, 6))
	tsWantErr(t, "Split both", err, "both input split and attribute num_outputs")
	_, err = tsInfer("Split", Attrs{"axis": IntAttr(1), "num_outputs": IntAttr(3)}, 2, []Type{x})
	tsWantErr(t, "Split count", err, "num_outputs is 3 but the node has 2 outputs")
	_, err = tsInfer("Split", Attrs{"axis": IntAttr(1)}, 3, []Type{x})
	tsWantErr(t, "Split uneven", err, "does not split evenly into 3 outputs")
	_, err = tsInfer("Split", Attrs{"axis": IntAttr(0), "num_outputs": IntAttr(4)}, 4, []Type{tsType(Float32, "5")})
	tsWantErr(t, "Split 5 in 4", err, "cannot be split into 4 chunks of 2")
}

func TestSliceInfer(t *testing.T) {
	slice := func(in string, starts, ends, axes, steps []int64) ([]Type, error) {
		types := []Type{tsType(Float32, in), tsI64Type(len(starts)), tsI64Type(len(ends)), {}, {}}
		consts := []*Tensor{nil, tsI64(starts...), tsI64(ends...), nil, nil}
		if axes != nil {
			types[3], consts[3] = tsI64Type(len(axes)), tsI64(axes...)
		}
		if steps != nil {
			types[4], consts[4] = tsI64Type(len(steps)), tsI64(steps...)
		}
		return tsInfer("Slice", nil, 1, types, consts...)
	}
	const big = math.MaxInt64
	for _, c := range []struct {
		in                        string
		starts, ends, axes, steps []int64
		out                       string
	}{
		{"10", []int64{2}, []int64{7}, nil, nil, "5"},
		{"10", []int64{-1}, []int64{-100}, nil, []int64{-3}, "4"},      // 9 6 3 0
		{"10", []int64{20}, []int64{30}, nil, nil, "0"},                // start clamped to 10
		{"10", []int64{-20}, []int64{3}, nil, nil, "3"},                // start clamped to 0
		{"10", []int64{0}, []int64{big}, nil, []int64{2}, "5"},         // 0 2 4 6 8
		{"N,10,6", []int64{1}, []int64{-1}, []int64{-2}, nil, "N,8,6"}, // negative axis
		{"N,10", []int64{0}, []int64{big}, []int64{0}, nil, "N,10"},    // whole symbolic dim
		{"N,10", []int64{1}, []int64{big}, []int64{0}, nil, "?,10"},
		{"5", []int64{10}, []int64{-10}, nil, []int64{-1}, "5"}, // reversed whole
		{"5", []int64{2}, []int64{2}, nil, nil, "0"},
	} {
		got, err := slice(c.in, c.starts, c.ends, c.axes, c.steps)
		tsWant(t, "Slice "+c.in, got, err, tsType(Float32, c.out))
	}
	_, err := slice("10", []int64{0}, []int64{5}, nil, []int64{0})
	tsWantErr(t, "Slice step 0", err, "n1 (Slice)", "step 0 is 0, want a non-zero step")
	_, err = slice("3,4", []int64{0, 0}, []int64{1, 1}, []int64{1, -1}, nil)
	tsWantErr(t, "Slice repeated axis", err, "listed twice")
	_, err = slice("3,4", []int64{0, 0}, []int64{1}, nil, nil)
	tsWantErr(t, "Slice lengths", err, "starts has 2 entries and ends 1")

	// Computed starts: the sliced axes lose their sizes.
	got, err := tsInfer("Slice", nil, 1, []Type{tsType(Float32, "4,5,6"), tsI64Type(1), tsI64Type(1), tsI64Type(1)},
		nil, nil, tsI64(3), tsI64(1))
	tsWant(t, "Slice computed starts", got, err, tsType(Float32, "4,?,6"))
}

func TestSqueezeUnsqueezeInfer(t *testing.T) {
	got, err := tsInfer("Squeeze", nil, 1, []Type{tsType(Float32, "N,1,3,1"), tsI64Type(2)}, nil, tsI64(1, -1))
	tsWant(t, "Squeeze axes", got, err, tsType(Float32, "N,3"))
	got, err = tsInfer("Squeeze", nil, 1, []Type{tsType(Float32, "N,1,3,1")})
	tsWant(t, "Squeeze all", got, err, tsType(Float32, "N,3"))
	got, err = tsInfer("Squeeze", nil, 1, []Type{tsType(Float32, "1,1")})
	tsWant(t, "Squeeze to scalar", got, err, tsType(Float32, ""))
	_, err = tsInfer("Squeeze", nil, 1, []Type{tsType(Float32, "N,2,3"), tsI64Type(1)}, nil, tsI64(1))
	tsWantErr(t, "Squeeze size 2", err, "n1 (Squeeze)", "cannot squeeze axis 1 of input [N,2,3]: its size is 2, want 1")
	got, err = tsInfer("Squeeze", nil, 1, []Type{tsType(Float32, "1,2,1"), tsI64Type(1)})
	tsWant(t, "Squeeze computed axes", got, err, tsType(Float32, "?,?"))

	got, err = tsInfer("Unsqueeze", nil, 1, []Type{tsType(Float32, "N,3"), tsI64Type(2)}, nil, tsI64(-1, 1))
	tsWant(t, "Unsqueeze", got, err, tsType(Float32, "N,1,3,1"))
	got, err = tsInfer("Unsqueeze", nil, 1, []Type{tsType(Float32, ""), tsI64Type(1)}, nil, tsI64(0))
	tsWant(t, "Unsqueeze scalar", got, err, tsType(Float32, "1"))
	_, err = tsInfer("Unsqueeze", nil, 1, []Type{tsType(Float32, "3"), tsI64Type(2)}, nil, tsI64(0, 0))
	tsWantErr(t, "Unsqueeze repeated", err, "n1 (Unsqueeze)", "axis 0 is listed twice")
	_, err = tsInfer("Unsqueeze", nil, 1, []Type{tsType(Float32, "3"), tsI64Type(1)}, nil, tsI64(2))
	tsWantErr(t, "Unsqueeze range", err, "axis 2 out of range for rank 2")
}

func TestPadInfer(t *testing.T) {
	got, err := tsInfer("Pad", Attrs{"mode": StringAttr("reflect")}, 1,
		[]Type{tsType(Float32, "N,3,4,4"), tsI64Type(8)}, nil, tsI64(0, 0, 1, 2, 0, 0, 3, -1))
	tsWant(t, "Pad", got, err, tsType(Float32, "N,3,8,5"))
	got, err = tsInfer("Pad", nil, 1,
		[]Type{tsType(Int8, "N,3,4,4"), tsI64Type(4), tsType(Int8, ""), TensorType(Int32, 2)},
		nil, tsI64(1, 1, 1, 1), nil, &Tensor{DType: Int32, Shape: []int{2}, Data: []int32{-2, -1}})
	tsWant(t, "Pad axes", got, err, tsType(Int8, "N,3,6,6"))
	_, err = tsInfer("Pad", Attrs{"mode": StringAttr("symmetric")}, 1, []Type{tsType(Float32, "4"), tsI64Type(2)}, nil, tsI64(1, 1))
	tsWantErr(t, "Pad mode", err, "n1 (Pad)", `attribute mode is "symmetric"`)
	_, err = tsInfer("Pad", nil, 1, []Type{tsType(Float32, "4,4"), tsI64Type(2)}, nil, tsI64(1, 1))
	tsWantErr(t, "Pad short pads", err, "pads has 2 values, want 4")
	_, err = tsInfer("Pad", nil, 1, []Type{tsType(Float32, "4"), tsI64Type(2)}, nil, tsI64(-3, -2))
	tsWantErr(t, "Pad over-crop", err, "to -1 elements")
	_, err = tsInfer("Pad", Attrs{"mode": StringAttr("edge")}, 1, []Type{tsType(Float32, "0"), tsI64Type(2)}, nil, tsI64(1, 0))
	tsWantErr(t, "Pad edge of empty", err, "cannot edge-pad axis 0")
	_, err = tsInfer("Pad", nil, 1, []Type{tsType(Float32, "4"), tsI64Type(2), tsType(Float64, "")}, nil, tsI64(1, 0))
	tsWantErr(t, "Pad value dtype", err, "constant_value is f64 and data is f32")
	got, err = tsInfer("Pad", nil, 1, []Type{tsType(Float32, "4,4"), tsI64Type(4)})
	tsWant(t, "Pad computed pads", got, err, tsType(Float32, "?,?"))
}

func TestShapeGatherCastInfer(t *testing.T) {
	for _, c := range []struct {
		start, end int64
		hasEnd     bool
		n          string
	}{
		{0, 0, false, "4"}, {1, 0, false, "3"}, {-1, 0, false, "1"}, {1, -1, true, "2"},
		{-10, 10, true, "4"}, {3, 1, true, "0"},
	} {
		a := Attrs{"start": IntAttr(c.start)}
		if c.hasEnd {
			a["end"] = IntAttr(c.end)
		}
		got, err := tsInfer("Shape", a, 1, []Type{tsType(Float32, "N,3,H,W")})
		tsWant(t, "Shape", got, err, tsType(Int64, c.n))
	}

	got, err := tsInfer("Gather", Attrs{"axis": IntAttr(1)}, 1, []Type{tsType(Float32, "N,5,7"), TensorType(Int64, 2, 3)})
	tsWant(t, "Gather", got, err, tsType(Float32, "N,2,3,7"))
	got, err = tsInfer("Gather", nil, 1, []Type{tsType(Float32, "5,7"), TensorType(Int32)})
	tsWant(t, "Gather scalar index", got, err, tsType(Float32, "7"))
	_, err = tsInfer("Gather", nil, 1, []Type{tsType(Float32, "5,7"), TensorType(Int64, 2)}, nil, tsI64(1, -6))
	tsWantErr(t, "Gather range", err, "n1 (Gather)", "indices[1] is -6, want a value in [-5, 5)")
	_, err = tsInfer("Gather", nil, 1, []Type{tsType(Float32, "5,7"), TensorType(Float32, 2)})
	tsWantErr(t, "Gather float index", err, "input indices is f32")

	got, err = tsInfer("Cast", Attrs{"to": IntAttr(10)}, 1, []Type{tsType(Int32, "N,2")})
	tsWant(t, "Cast to FLOAT16", got, err, tsType(Float16, "N,2"))
	_, err = tsInfer("Cast", Attrs{"to": IntAttr(8)}, 1, []Type{tsType(Int32, "2")})
	tsWantErr(t, "Cast to STRING", err, "n1 (Cast)", "attribute to is 8 (STRING)")
	_, err = tsInfer("Cast", nil, 1, []Type{tsType(Int32, "2")})
	tsWantErr(t, "Cast without to", err, "attribute to is missing")
	for code := int64(0); code < 30; code++ {
		if d, ok := DTypeFromONNX(code); ok && ONNXTypeCode(d) != code {
			t.Errorf("ONNXTypeCode(%v) = %d, want %d", d, ONNXTypeCode(d), code)
		}
	}
}

func TestReduceMeanDropoutInfer(t *testing.T) {
	x := tsType(Float32, "N,C,7,7")
	got, err := tsInfer("ReduceMean", nil, 1, []Type{x, tsI64Type(2)}, nil, tsI64(-1, 2))
	tsWant(t, "ReduceMean keepdims", got, err, tsType(Float32, "N,C,1,1"))
	got, err = tsInfer("ReduceMean", Attrs{"keepdims": IntAttr(0)}, 1, []Type{x, tsI64Type(2)}, nil, tsI64(2, 3))
	tsWant(t, "ReduceMean drop", got, err, tsType(Float32, "N,C"))
	got, err = tsInfer("ReduceMean", Attrs{"keepdims": IntAttr(0)}, 1, []Type{x})
	tsWant(t, "ReduceMean all", got, err, tsType(Float32, ""))
	got, err = tsInfer("ReduceMean", Attrs{"noop_with_empty_axes": IntAttr(1)}, 1, []Type{x, tsI64Type(0)}, nil, tsI64())
	tsWant(t, "ReduceMean noop", got, err, x)
	got, err = tsInfer("ReduceMean", Attrs{"keepdims": IntAttr(0)}, 1, []Type{x, tsI64Type(1)})
	tsWant(t, "ReduceMean computed axes", got, err, tsType(Float32, "?,?,?"))
	_, err = tsInfer("ReduceMean", nil, 1, []Type{x, tsI64Type(2)}, nil, tsI64(1, -3))
	tsWantErr(t, "ReduceMean repeated", err, "n1 (ReduceMean)", "listed twice")
	_, err = tsInfer("ReduceMean", nil, 1, []Type{tsType(Int8, "4")})
	tsWantErr(t, "ReduceMean i8", err, "input data is i8")

	got, err = tsInfer("Dropout", nil, 2, []Type{tsType(Float16, "N,4"), tsType(Float32, "")}, nil, FromFloat32([]float32{0.3}))
	if err != nil || !got[0].Equal(tsType(Float16, "N,4")) || !got[1].Equal(tsType(Bool, "N,4")) {
		t.Errorf("Dropout: got %v, %v", got, err)
	}
	_, err = tsInfer("Dropout", nil, 1, []Type{tsType(Float32, "4"), tsType(Float32, "")}, nil, FromFloat32([]float32{1}))
	tsWantErr(t, "Dropout ratio 1", err, "n1 (Dropout)", "input ratio is 1, want a value in [0, 1)")
	_, err = tsInfer("Dropout", nil, 1, []Type{tsType(Float32, "4"), {}, tsType(Int8, "")})
	tsWantErr(t, "Dropout training_mode i8", err, "input training_mode is i8, want a bool scalar")
}
