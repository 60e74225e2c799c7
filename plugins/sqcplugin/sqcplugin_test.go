package sqcplugin

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/sqc-project/sqc/ir"
	"github.com/sqc-project/sqc/passes"
	"github.com/sqc-project/sqc/plugins/internal/wire"
	"github.com/sqc-project/sqc/plugins/internal/wirepb"
)

func noRun(context.Context, *ir.Graph, Options) error { return nil }

func TestNewServerChecks(t *testing.T) {
	for _, c := range []struct {
		p    *Pass
		want string
	}{
		{nil, "sqcplugin.Serve needs a Pass"},
		{&Pass{Name: "Bad_Name", Doc: "d", Run: noRun}, `pass name "Bad_Name": want lower-case words joined by '-'`},
		{&Pass{Name: "p", Run: noRun}, "pass p has no Doc"},
		{&Pass{Name: "p", Doc: "d"}, "pass p has no Run"},
		{&Pass{Name: "p", Doc: "d", Run: noRun, Options: []Option{{Name: "timeout", Doc: "d", Default: 1.0}}},
			"pass p: option name timeout is reserved for sqc's limit on a plugin step's time"},
		{&Pass{Name: "p", Doc: "d", Run: noRun, Options: []Option{{Name: "a", Doc: "d", Default: 1}, {Name: "a", Doc: "d", Default: 2}}},
			"pass p: option a declared twice"},
		{&Pass{Name: "p", Doc: "d", Run: noRun, Options: []Option{{Name: "a", Default: 1}}}, "pass p: option a has no Doc"},
		{&Pass{Name: "p", Doc: "d", Run: noRun, Options: []Option{{Name: "a", Doc: "d"}}}, "pass p: option a has neither a Kind nor a Default"},
		{&Pass{Name: "p", Doc: "d", Run: noRun, Options: []Option{{Name: "a", Doc: "d", Default: uint(3)}}}, "pass p: option a: a default of type uint has no option kind"},
		{&Pass{Name: "p", Doc: "d", Run: noRun, Options: []Option{{Name: "a", Doc: "d", Kind: KindInt}}}, "pass p: option a has no default: give it one, or mark it Required"},
		{&Pass{Name: "p", Doc: "d", Run: noRun, Options: []Option{{Name: "a", Doc: "d", Default: 5, Min: 0, Max: 4}}}, "pass p: default of option a: 5 is out of range [0, 4]"},
		{&Pass{Name: "p", Doc: "d", Run: noRun, Options: []Option{{Name: "a", Doc: "d", Default: "x", Enum: []string{"y", "z"}}}}, `pass p: default of option a: "x" is not one of y, z`},
		{&Pass{Name: "p", Doc: "d", Run: noRun, Options: []Option{{Name: "a", Doc: "d", Kind: KindString, Default: true}}}, "pass p: default of option a: got bool true, want a string"},
	} {
		_, err := newServer(c.p)
		if err == nil || !strings.HasPrefix(err.Error(), c.want) {
			t.Errorf("got %v, want %s", err, c.want)
		}
	}
}

func TestDescribe(t *testing.T) {
	s, err := newServer(&Pass{Name: "p", Doc: "a pass", Run: noRun, Options: []Option{
		{Name: "n", Doc: "an int given as int", Default: 3, Min: 1, Max: 9},
		{Name: "f", Doc: "a float given as int", Kind: KindFloat, Default: 2},
		{Name: "r", Doc: "a ratio", Default: Ratio{N: 2, M: 4}},
		{Name: "data", Doc: "required", Kind: KindString, Required: true},
	}})
	if err != nil {
		t.Fatal(err)
	}
	d, err := s.Describe(context.Background(), &wirepb.DescribeRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if d.Name != "p" || d.Doc != "a pass" || len(d.Options) != 4 {
		t.Fatalf("description %v", d)
	}
	var got []string
	for _, pd := range d.Options {
		o, err := wire.DeclToOption(pd)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, o.Name+" "+o.Kind.String()+" "+describe(o.Default))
	}
	want := "n int int64 3|f float float64 2|r ratio passes.Ratio 2:4|data string <nil> <nil>"
	if strings.Join(got, "|") != want {
		t.Errorf("options %s, want %s", strings.Join(got, "|"), want)
	}
}

func describe(v any) string {
	if v == nil {
		return "<nil> <nil>"
	}
	return fmt.Sprintf("%T %v", v, v)
}

// TestRun calls the service in-process: the options (defaults filled, per
// node values), the statistics, and a recovered panic.
func TestRun(t *testing.T) {
	// Run points os.Stdout at standard error, as a plugin wants; the test
	// binary keeps its own.
	stdio.Do(func() {})
	var seen []string
	s, err := newServer(&Pass{Name: "p", Doc: "d", Options: []Option{
		{Name: "level", Doc: "a level", Default: 1},
		{Name: "mode", Doc: "a mode", Default: "soft"},
	}, Run: func(ctx context.Context, g *ir.Graph, opts Options) error {
		for _, n := range g.Nodes {
			o := opts.For(n)
			seen = append(seen, n.Name+":"+o.String("mode")+":"+string(rune('0'+o.Int("level"))))
			Count(ctx, "nodes seen", 1)
			if o.String("mode") == "panic" {
				panic("told to")
			}
		}
		g.Nodes[0].Note("p", "ran")
		return nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	x := &ir.Value{Name: "x", Type: ir.TensorType(ir.Float32, 2)}
	a := &ir.Value{Name: "a", Type: x.Type}
	b := &ir.Value{Name: "b", Type: x.Type}
	g := &ir.Graph{Name: "g", Inputs: []*ir.Value{x}, Outputs: []*ir.Value{b}, Nodes: []*ir.Node{
		{Name: "first", Op: "Relu", Inputs: []*ir.Value{x}, Outputs: []*ir.Value{a}},
		{Name: "second", Op: "Relu", Inputs: []*ir.Value{a}, Outputs: []*ir.Value{b}},
	}}
	req := func(mode string) *wirepb.RunRequest {
		m, err := (&wire.Encoder{}).Graph(g)
		if err != nil {
			t.Fatal(err)
		}
		over, err := wire.OptionsToProto(passes.Options{"mode": mode})
		if err != nil {
			t.Fatal(err)
		}
		// Only level is sent: mode takes its default, as from an older host.
		opts, err := wire.OptionsToProto(passes.Options{"level": int64(7)})
		if err != nil {
			t.Fatal(err)
		}
		return &wirepb.RunRequest{Graph: m, Options: opts, NodeOptions: []*wirepb.NodeOptions{{Node: 1, Options: over}}}
	}
	resp, err := s.Run(context.Background(), req("hard"))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(seen, " "); got != "first:soft:7 second:hard:7" {
		t.Errorf("options seen %s, want first:soft:7 second:hard:7", got)
	}
	if resp.Stats["nodes seen"] != 2 {
		t.Errorf("statistics %v, want nodes seen 2", resp.Stats)
	}
	back, err := (&wire.Decoder{}).Graph(resp.Graph)
	if err != nil {
		t.Fatal(err)
	}
	if back.Nodes[0].Notes["p"] != "ran" {
		t.Error("the pass's change did not come back")
	}
	_, err = s.Run(context.Background(), req("panic"))
	if err == nil || err.Error() != "panic: told to" {
		t.Errorf("a panicking pass: got %v, want panic: told to", err)
	}
	bad := req("hard")
	bad.NodeOptions[0].Node = 5
	if _, err := s.Run(context.Background(), bad); err == nil || !strings.Contains(err.Error(), "per-node options for node 5 of 2") {
		t.Errorf("bad node index: got %v", err)
	}
}
