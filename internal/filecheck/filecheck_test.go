package filecheck

import (
	"strings"
	"testing"
)

const output = `graph "g" (%x: f32[1,4]) -> (%y) {
  %a: f32[1,4] = Relu "r1" (%x)
  %b: f32[1,4] = Add "add" (%a, %a)
  %y: f32[1,4] = Relu "r2" (%b)
}`

func check(t *testing.T, directives string) error {
	t.Helper()
	test, err := ParseTest("t.sqir", directives)
	if err != nil {
		t.Fatal(err)
	}
	return test.Check(output)
}

func TestMatches(t *testing.T) {
	good := []string{
		"// CHECK: Relu \"r1\"\n// CHECK-NEXT: Add\n// CHECK-SAME: (%a, %a)\n// CHECK: Relu \"r2\"",
		"// CHECK: %[[V:[a-z]+]]: f32[1,4] = Relu\n// CHECK: Add \"add\" (%[[V]], %[[V]])",
		"// CHECK: {{^}}graph\n// CHECK-NOT: Conv\n// CHECK: }",
		"// CHECK-LABEL: graph \"g\"\n// CHECK:    Relu   \"r1\"",
		"// CHECK: = Relu \"r2\"\n// CHECK-NOT: Add",
	}
	for _, d := range good {
		if err := check(t, d); err != nil {
			t.Errorf("%s\n-> %v", d, err)
		}
	}
}

func TestFailures(t *testing.T) {
	bad := []struct{ directives, want string }{
		{"// CHECK: Conv", `t.sqir:1: CHECK: no match for "Conv"`},
		{"// CHECK: Relu \"r1\"\n// CHECK-NEXT: Relu", `t.sqir:2: CHECK-NEXT: no match for "Relu"`},
		{"// CHECK: Relu \"r1\"\n// CHECK-NOT: Add\n// CHECK: Relu \"r2\"", `t.sqir:2: CHECK-NOT: "Add" occurs at output line 3`},
		{"// CHECK: Relu \"r2\"\n// CHECK: Relu \"r1\"", `t.sqir:2: CHECK: no match for "Relu \"r1\""`}, // order matters
		{"// CHECK: Add\n// CHECK-SAME: Relu", `CHECK-SAME: no match`},
		{"// CHECK: [[X]]", `variable [[X]] is used before it is defined`},
		{"// CHECK: %[[V:[a-z]+]]: f32[1,4] = Relu \"r1\"\n// CHECK: Add \"add\" (%[[V]], %b)", `no match`},
	}
	for _, c := range bad {
		err := check(t, c.directives)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s\n-> %v, want %q", c.directives, err, c.want)
		}
	}
}

func TestParseTest(t *testing.T) {
	test, err := ParseTest("a.sqir", "// RUN: sqc opt %s --passes=dce\n// CHECK: x\n")
	if err != nil || len(test.Run) != 1 || test.Run[0] != "sqc opt %s --passes=dce" {
		t.Fatalf("%+v %v", test, err)
	}
	for src, want := range map[string]string{
		"// CHECK-NEXT: x":  "a.sqir:1: CHECK-NEXT cannot be the first directive",
		"// CHECK-FOO: x":   "a.sqir:1: unknown directive CHECK-FOO",
		"// RUN: x":         "a.sqir: no CHECK directives",
		"// CHECK:\n":       "a.sqir:1: CHECK has an empty pattern",
		"// CHECK: {{(}}\n": "",
	} {
		test, err := ParseTest("a.sqir", src)
		if want == "" {
			if err == nil {
				err = test.Check("x")
			}
			if err == nil || !strings.Contains(err.Error(), "bad regular expression") {
				t.Errorf("%q: %v", src, err)
			}
			continue
		}
		if err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("%q: got %v, want %q", src, err, want)
		}
	}
}
