package passes

import (
	"reflect"
	"strings"
	"testing"
)

// needsData has a required option, as a calibrating pass will.
var needsData = &Pass{Name: "needs-data", Doc: "reads calibration data",
	Options: []Option{
		{Name: "data", Doc: "where the data is", Kind: String, Required: true},
		{Name: "samples", Doc: "how many", Kind: Int, Default: int64(8), Min: 1, Max: 100},
	},
	Run: func(c *Context) (any, error) { return nil, nil }}

func init() { Register(needsData) }

func TestCheckOption(t *testing.T) {
	good := []struct {
		name string
		in   any
		want any
	}{
		{"factor", int64(3), 3.0}, // an integer where a number is wanted
		{"factor", 2.5, 2.5},
		{"factor", "0.25", 0.25}, // command-line text
		{"n", "7", int64(7)},
		{"mode", "exact", "exact"},
		{"on", "true", true},
	}
	for _, c := range good {
		got, err := CheckOption(needsDrop, c.name, c.in)
		if err != nil || !reflect.DeepEqual(got, c.want) {
			t.Errorf("CheckOption(%s, %#v) = %#v, %v; want %#v", c.name, c.in, got, err, c.want)
		}
	}
	bad := []struct {
		name string
		in   any
		want string
	}{
		{"factor", 11.0, "11 is out of range [0, 10]"},
		{"n", int64(-1), "-1 is out of range [0, 1073741824]"},
		{"factor", true, "got bool true, want a number"},
		{"mode", "fsat", `"fsat" is not one of fast, exact (did you mean "fast"?)`},
		{"n", 1.5, "got number 1.5, want an integer"},
		{"n", "x", `"x" is not an integer`},
		{"moed", "fast", `pass needs-drop has no option "moed" (did you mean "mode"?)`},
		{"zzzzzz", "fast", `pass needs-drop has no option "zzzzzz"`},
	}
	for _, c := range bad {
		_, err := CheckOption(needsDrop, c.name, c.in)
		if err == nil || err.Error() != c.want {
			t.Errorf("CheckOption(%s, %#v): error %v, want %q", c.name, c.in, err, c.want)
		}
	}
}

func TestOptionOfAndNames(t *testing.T) {
	if o := OptionOf(needsDrop, "mode"); o == nil || o.Kind != String {
		t.Errorf("OptionOf(mode) = %+v", o)
	}
	if o := OptionOf(needsDrop, "nope"); o != nil {
		t.Errorf("OptionOf(nope) = %+v, want nil", o)
	}
	if got := OptionNames(needsDrop); !reflect.DeepEqual(got, []string{"factor", "mode", "n", "on"}) {
		t.Errorf("OptionNames = %q", got)
	}
	names := PassNames()
	for i := 1; i < len(names); i++ {
		if names[i-1] >= names[i] {
			t.Errorf("PassNames not sorted: %q", names)
		}
	}
}

func TestSuggest(t *testing.T) {
	cands := []string{"fold-constants", "fold-batchnorm", "dce"}
	cases := map[string]string{
		"fold-constans": ` (did you mean "fold-constants"?)`,
		"dec":           ` (did you mean "dce"?)`,
		"quantize":      "",
	}
	for word, want := range cases {
		if got := Suggest(word, cands); got != want {
			t.Errorf("Suggest(%q) = %q, want %q", word, got, want)
		}
	}
}

func TestRequiredOption(t *testing.T) {
	if got := MissingOptions(needsData, map[string]any{"samples": int64(4)}); !reflect.DeepEqual(got, []string{"data"}) {
		t.Errorf("MissingOptions = %q, want [data]", got)
	}
	if got := MissingOptions(needsData, map[string]any{"data": "d"}); got != nil {
		t.Errorf("MissingOptions = %q, want none", got)
	}
	_, err := Build([]StepSpec{{Name: "needs-data"}})
	if err == nil || !strings.Contains(err.Error(), "pass needs-data needs option data (it has no default)") {
		t.Errorf("Build without the required option: %v", err)
	}
	p, err := Build([]StepSpec{{Name: "needs-data", Options: map[string]any{"data": "calib/"}}})
	if err != nil {
		t.Fatal(err)
	}
	if o := p.Steps[0].Options; o.String("data") != "calib/" || o.Int("samples") != 8 {
		t.Errorf("options = %v", o)
	}
}
