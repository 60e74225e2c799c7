package passes

import (
	"strings"
	"testing"

	"github.com/sqc-project/sqc/ir"
)

func TestSelector(t *testing.T) {
	nodes := []*ir.Node{
		{Name: "conv1", Op: "Conv"},
		{Name: "layer4.0.conv2", Op: "Conv"},
		{Name: "fc", Op: "Gemm"},
	}
	cases := []struct {
		sel  string
		want string // names matched, in order
	}{
		{"conv1", "conv1"},
		{"layer4.*", "layer4.0.conv2"},
		{"op:Conv", "conv1 layer4.0.conv2"},
		{"op:Gemm|conv1", "conv1 fc"},
		{`name~^conv\d+$`, "conv1"},
		{`name~conv`, "conv1 layer4.0.conv2"},
		{"op~^G", "fc"},
		{"", ""},
	}
	for _, c := range cases {
		s, err := ParseSelector(c.sel)
		if err != nil {
			t.Fatalf("%q: %v", c.sel, err)
		}
		var got []string
		for _, n := range nodes {
			if s.Match(n) {
				got = append(got, n.Name)
			}
		}
		if strings.Join(got, " ") != c.want {
			t.Errorf("%q matched %v, want %s", c.sel, got, c.want)
		}
		if c.sel != "" && !strings.Contains(c.sel, ":") && !strings.Contains(c.sel, "~") && s.String() != "name:"+c.sel {
			t.Errorf("%q prints as %q", c.sel, s.String())
		}
	}
	for sel, want := range map[string]string{
		"name~(":  "bad regular expression /(/",
		"name:[":  `bad glob "["`,
		"op~":     "exactly one of a glob or a regular expression",
		"kind:x*": "", // not a field: the whole text is a name glob
	} {
		_, err := ParseSelector(sel)
		if want == "" {
			if err != nil {
				t.Errorf("%q: %v", sel, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: got %v, want %q", sel, err, want)
		}
	}
}

func TestRatio(t *testing.T) {
	if r, err := ParseRatio("2:4"); err != nil || r != (Ratio{2, 4}) {
		t.Fatalf("2:4 -> %v, %v", r, err)
	}
	for _, bad := range []string{"4:2", "2", "a:b", "1:0"} {
		if _, err := ParseRatio(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

var overridePass = &Pass{Name: "override-probe", Doc: "records the options each node sees",
	Options: []Option{
		{Name: "ratio", Doc: "a ratio", Kind: RatioKind, Default: Ratio{2, 4}},
		{Name: "skip", Doc: "leave the node alone", Kind: Bool, Default: false},
		{Name: "only", Doc: "nodes to look at", Kind: SelectorKind, Default: Selector{}},
	},
	Run: func(c *Context) (any, error) {
		seen = map[string]Options{}
		for _, n := range c.Graph.Nodes {
			seen[n.Name] = c.OptionsFor(n)
		}
		return nil, nil
	}}

var seen map[string]Options

func init() { Register(overridePass) }

func TestOverrides(t *testing.T) {
	later, _ := ParseSelector("r2")
	both, _ := ParseSelector("op:Relu")
	p, err := Build([]StepSpec{{Name: "override-probe", Options: map[string]any{"ratio": "1:4"},
		Overrides: []OverrideSpec{
			{Select: both, Options: map[string]any{"skip": true}},
			{Select: later, Options: map[string]any{"skip": false, "ratio": Ratio{2, 8}}},
		}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := (&Manager{}).Run(chain(), p); err != nil {
		t.Fatal(err)
	}
	if o := seen["r1"]; !o.Bool("skip") || o.Ratio("ratio") != (Ratio{1, 4}) {
		t.Errorf("r1 sees %v", o)
	}
	if o := seen["r2"]; o.Bool("skip") || o.Ratio("ratio") != (Ratio{2, 8}) {
		t.Errorf("r2 sees %v (the later override must win)", o)
	}
	_, err = Build([]StepSpec{{Name: "override-probe", Overrides: []OverrideSpec{{Select: later, Options: map[string]any{"skip": "maybe", "ratio": "3:2"}}}}})
	for _, want := range []string{`override for name:r2: pass override-probe, option skip: "maybe" is not a bool`, "override for name:r2: pass override-probe, option ratio: ratio 3:2: want 0 <= N <= M"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("got %v, want %q", err, want)
		}
	}
}
