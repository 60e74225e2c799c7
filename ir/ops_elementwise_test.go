package ir

import (
	"strings"
	"testing"
)

// tsInfer runs op's schema on inputs of the given types, with the given
// known values (nil where unknown); an input whose type has no dtype is an
// absent optional input.
func tsInfer(op string, attrs Attrs, nOut int, in []Type, consts ...*Tensor) ([]Type, error) {
	n := &Node{Name: "n1", Op: op, Attrs: attrs}
	for i, t := range in {
		if t.DType == InvalidDType {
			n.Inputs = append(n.Inputs, nil)
			continue
		}
		v := &Value{Name: "in" + string(rune('a'+i)), Type: t}
		if i < len(consts) && consts[i] != nil {
			v.Const = consts[i]
		}
		n.Inputs = append(n.Inputs, v)
	}
	for i := 0; i < nOut; i++ {
		n.Outputs = append(n.Outputs, &Value{Name: "out" + string(rune('a'+i))})
	}
	cs := make([]*Tensor, len(in))
	copy(cs, consts)
	return InferTypes(n, in, cs)
}

// tsShape parses "N,3,?,4" into a shape: numbers are known, "?" unknown,
// anything else a symbol. The empty string is a scalar.
func tsShape(s string) Shape {
	out := Shape{}
	if s == "" {
		return out
	}
	for _, f := range strings.Split(s, ",") {
		var n int64
		isNum := f != ""
		for _, r := range f {
			if r < '0' || r > '9' {
				isNum = false
				break
			}
			n = n*10 + int64(r-'0')
		}
		switch {
		case isNum:
			out = append(out, D(n))
		case f == "?":
			out = append(out, UnknownDim)
		default:
			out = append(out, SymDim(f))
		}
	}
	return out
}

func tsType(dt DType, shape string) Type { return Type{DType: dt, Shape: tsShape(shape)} }

// tsWant checks a successful inference of one output against a type.
func tsWant(t *testing.T, what string, got []Type, err error, want Type) {
	t.Helper()
	if err != nil {
		t.Errorf("%s: %v", what, err)
		return
	}
	if !got[0].Equal(want) {
		t.Errorf("%s: got %v, want %v", what, got[0], want)
	}
}

// tsWantErr checks that inference failed with a message holding every part.
func tsWantErr(t *testing.T, what string, err error, parts ...string) {
	t.Helper()
	if err == nil {
		t.Errorf("%s: no error, want one mentioning %q", what, parts)
		return
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("%s: error %q does not mention %q", what, err, p)
		}
	}
}

func TestBinaryInfer(t *testing.T) {
	for _, c := range []struct{ a, b, out string }{
		{"2,3,4", "4", "2,3,4"},
		{"1,64,1,1", "N,64,56,56", "N,64,56,56"},
		{"", "5", "5"},
		{"N,1", "1,M", "N,M"},
		{"?,3", "7,1", "7,3"},
	} {
		got, err := tsInfer("Add", nil, 1, []Type{tsType(Float32, c.a), tsType(Float32, c.b)})
		tsWant(t, "Add "+c.a+" + "+c.b, got, err, tsType(Float32, c.out))
	}
	_, err := tsInfer("Mul", nil, 1, []Type{tsType(Float32, "2,3"), tsType(Float32, "4")})
	tsWantErr(t, "Mul 2,3 * 4", err, "n1 (Mul)", "do not broadcast")
	_, err = tsInfer("Sub", nil, 1, []Type{tsType(Float32, "2"), tsType(Int32, "2")})
	tsWantErr(t, "Sub f32 - i32", err, "n1 (Sub)", "f32 and i32", "want the same dtype")
	_, err = tsInfer("Add", nil, 1, []Type{tsType(Bool, "2"), tsType(Bool, "2")})
	tsWantErr(t, "Add bool", err, "input A is bool", "want a numeric type")
	got, err := tsInfer("Div", nil, 1, []Type{tsType(Uint8, "3"), tsType(Uint8, "")})
	tsWant(t, "Div u8", got, err, tsType(Uint8, "3"))
}

func TestPReluInfer(t *testing.T) {
	got, err := tsInfer("PRelu", nil, 1, []Type{tsType(Float32, "N,8,4,4"), tsType(Float32, "8,1,1")})
	tsWant(t, "PRelu per channel", got, err, tsType(Float32, "N,8,4,4"))
	_, err = tsInfer("PRelu", nil, 1, []Type{tsType(Float32, "8"), tsType(Float32, "2,8")})
	tsWantErr(t, "PRelu slope wider than X", err, "slope", "more dims", "want it to broadcast to [8]")
	_, err = tsInfer("PRelu", nil, 1, []Type{tsType(Float32, "2,8"), tsType(Float32, "3")})
	tsWantErr(t, "PRelu slope 3 on 8", err, "does not broadcast to [2,8]")
	_, err = tsInfer("PRelu", nil, 1, []Type{tsType(Int8, "2"), tsType(Int8, "2")})
	tsWantErr(t, "PRelu i8", err, "input X is i8")
}

func TestUnaryInfer(t *testing.T) {
	for _, op := range []string{"Relu", "LeakyRelu", "Sigmoid", "HardSigmoid", "HardSwish", "Tanh", "Identity", "Softmax", "LogSoftmax"} {
		got, err := tsInfer(op, nil, 1, []Type{tsType(Float16, "N,10")})
		tsWant(t, op, got, err, tsType(Float16, "N,10"))
	}
	got, err := tsInfer("Relu", nil, 1, []Type{tsType(Int8, "4")})
	tsWant(t, "Relu i8", got, err, tsType(Int8, "4"))
	_, err = tsInfer("Relu", nil, 1, []Type{tsType(Uint8, "4")})
	tsWantErr(t, "Relu u8", err, "n1 (Relu)", "input X is u8", "want a float type or a signed integer type")
	_, err = tsInfer("Sigmoid", nil, 1, []Type{tsType(Int32, "4")})
	tsWantErr(t, "Sigmoid i32", err, "input X is i32", "want a float type")
	got, err = tsInfer("Identity", nil, 1, []Type{tsType(Bool, "2,2")})
	tsWant(t, "Identity bool", got, err, tsType(Bool, "2,2"))
	_, err = tsInfer("LeakyRelu", Attrs{"alpha": IntAttr(1)}, 1, []Type{tsType(Float32, "4")})
	tsWantErr(t, "LeakyRelu int alpha", err, `attribute "alpha" is int, want float`)
}

func TestClipInfer(t *testing.T) {
	absent := Type{}
	got, err := tsInfer("Clip", nil, 1, []Type{tsType(Int8, "2,3"), absent, tsType(Int8, "")})
	tsWant(t, "Clip max only", got, err, tsType(Int8, "2,3"))
	_, err = tsInfer("Clip", nil, 1, []Type{tsType(Float32, "2,3"), tsType(Float32, "2")})
	tsWantErr(t, "Clip vector min", err, "min has shape [2], want a scalar")
	_, err = tsInfer("Clip", nil, 1, []Type{tsType(Float32, "2,3"), tsType(Float32, ""), tsType(Float64, "")})
	tsWantErr(t, "Clip f64 max", err, "max is f64 and X is f32")
}

func TestSoftmaxInfer(t *testing.T) {
	got, err := tsInfer("Softmax", Attrs{"axis": IntAttr(-3)}, 1, []Type{tsType(Float32, "2,3,4")})
	tsWant(t, "Softmax axis -3", got, err, tsType(Float32, "2,3,4"))
	_, err = tsInfer("LogSoftmax", Attrs{"axis": IntAttr(3)}, 1, []Type{tsType(Float32, "2,3,4")})
	tsWantErr(t, "LogSoftmax axis 3", err, "n1 (LogSoftmax)", "attribute axis", "axis 3 out of range for rank 3")
	_, err = tsInfer("Softmax", nil, 1, []Type{tsType(Int64, "4")})
	tsWantErr(t, "Softmax i64", err, "want a float type")
}
