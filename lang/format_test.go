package lang

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/encc-lang/encc/internal/diag"
	"github.com/encc-lang/encc/internal/golden"
)

// ignorePos compares syntax trees without their positions.
var ignorePos = cmpopts.IgnoreTypes(Span{}, diag.Pos{})

// checkRoundTrip formats f and checks that the output parses to the same
// tree (comments included), and that formatting it again changes nothing.
func checkRoundTrip(t *testing.T, name string, f *File) []byte {
	t.Helper()
	out := Format(f)
	g, errs := Parse(name, out)
	if len(errs) > 0 {
		t.Fatalf("%s: formatted output does not parse: %v\n%s", name, errs, out)
	}
	if d := cmp.Diff(f, g, ignorePos, cmpopts.IgnoreFields(File{}, "Name")); d != "" {
		t.Fatalf("%s: formatting changed the tree (-before +after):\n%s\noutput:\n%s", name, d, out)
	}
	if again := Format(g); string(again) != string(out) {
		t.Fatalf("%s: Format is not idempotent:\nfirst:\n%s\nsecond:\n%s", name, out, again)
	}
	return out
}

// TestFormatGolden formats every example and error program: the output
// must match testdata/format/*.golden, reparse to the same tree and be a
// fixed point.
func TestFormatGolden(t *testing.T) {
	for _, file := range sources(t) {
		src, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		f, errs := Parse(file, src)
		if len(errs) > 0 {
			t.Fatal(errs)
		}
		out := checkRoundTrip(t, file, f)
		if strings.Contains(file, "stdlib") {
			continue
		}
		name := filepath.Base(filepath.Dir(file)) + "_" + strings.TrimSuffix(filepath.Base(file), ".enc")
		golden.Check(t, filepath.Join("testdata", "format", name+".golden"), out)
	}
}

// TestFormatExamplesStable checks that the examples are already in
// canonical form, but for the lines listed here.
func TestFormatExamplesStable(t *testing.T) {
	known := map[string]int{"custom_layer.enc": 2} // a dataset's unaligned `=`
	files, _ := filepath.Glob("../examples/*.enc")
	for _, file := range files {
		src, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		f, _ := Parse(file, src)
		out := strings.Split(string(Format(f)), "\n")
		in := strings.Split(string(src), "\n")
		if len(in) != len(out) {
			t.Errorf("%s: %d lines formatted to %d", file, len(in), len(out))
			continue
		}
		diff := 0
		for i := range in {
			if in[i] != out[i] {
				diff++
			}
		}
		if want := known[filepath.Base(file)]; diff != want {
			t.Errorf("%s: %d lines changed by formatting, want %d", file, diff, want)
		}
	}
}

// TestFormat is a table of inputs and their canonical form.
func TestFormat(t *testing.T) {
	tests := []struct{ in, want string }{
		// spacing in expressions
		{"const x=a+b*c", "const x = a + b * c\n"},
		{"const x = f( a ,b:1 )", "const x = f(a, b: 1)\n"},
		{"const x = h[ : , 0 : 32 ]", "const x = h[:, 0:32]\n"},
		{"const x = - x ** 2", "const x = -x ** 2\n"},
		{"const x = (a+b)*c", "const x = (a + b) * c\n"},
		{"const x = x|>f|>g(k:2)", "const x = x |> f |> g(k: 2)\n"},
		{"const x = not a==b and c", "const x = not a == b and c\n"},
		{`const x = {a:1,"b c":[1,2]}`, "const x = { a: 1, \"b c\": [1, 2] }\n"},
		{"const x = {}", "const x = {}\n"},
		{"const x = blocks.0.1", "const x = blocks.0.1\n"},
		{"const x = x.shape[1]", "const x = x.shape[1]\n"},
		// declarations: one blank line between, consts grouped
		{"const A = 1\nconst BB = 2\nmodel M {}\n\n\n\ndataset d {}", "const A  = 1\nconst BB = 2\n\nmodel M {}\n\ndataset d {}\n"},
		{"import \"a.enc\"\nimport \"b.enc\"\nconst A = 1", "import \"a.enc\"\nimport \"b.enc\"\n\nconst A = 1\n"},
		// alignment of runs; blank lines collapse and end runs
		{"dataset d {\n  a = 1\n  bbb = 2\n\n\n\n  cc = 3\n}", "dataset d {\n    a   = 1\n    bbb = 2\n\n    cc = 3\n}\n"},
		{"model M {\n param w: f32[a, b] = zeros()\n buffer bias: f32[b] = ones()\n param s: f32[]\n}",
			"model M {\n    param w:     f32[a, b] = zeros()\n    buffer bias: f32[b]    = ones()\n    param s:     f32[]\n}\n"},
		// comments: leading, trailing, block, at the end, in expressions
		{"// head\n\nmodel M { // m\n  // lead\n  x = 1 // trail\n  /* b */ y = f(a, /* in */ b)\n  // last\n} // after\n// end\n",
			"// head\n\nmodel M { // m\n    // lead\n    x = 1 // trail\n    /* b */\n    y = f(a, /* in */ b)\n    // last\n} // after\n// end\n"},
		// one-line bodies stay, others are expanded
		{"model M { forward(x: f32[B]) -> f32[B] { return x } }", "model M { forward(x: f32[B]) -> f32[B] { return x } }\n"},
		{"model M { forward(x: f32[B],mask: bool[B]=none) -> f32[B] { return x } }", "model M { forward(x: f32[B], mask: bool[B] = none) -> f32[B] { return x } }\n"},
		{"model M { a = 1 b = 2 }", "model M {\n    a = 1\n    b = 2\n}\n"},
		{"train t { phase p (epochs: 1) { freeze a, \"b.*\" } }", "train t { phase p (epochs: 1) { freeze a, \"b.*\" } }\n"},
		// line breaks in lists and binary chains are kept
		{"dataset d {\n  source = idx(images: \"a\",\n   labels: \"b\")\n}", "dataset d {\n    source = idx(images: \"a\",\n                 labels: \"b\")\n}\n"},
		{"train t {\n  loss = a\n  - 0.1 * b\n}", "train t {\n    loss = a\n        - 0.1 * b\n}\n"},
		{"const r = {\n  \"a\": 1,\n  \"b\": 2\n}", "const r = {\n    \"a\": 1,\n    \"b\": 2\n}\n"},
		// forward with named results, if/else
		{"model M(n: int = 2) {\n if n > 1 { a = A() } else if n == 1 { a = B() } else { a = C() }\n forward(x: f32[B]) -> (z: f32[B], r: f32[]) {\n  if n > 1 {\n   return { z: x, r: 0 }\n  }\n  return { z: x, r: 1 }\n }\n}",
			"model M(n: int = 2) {\n    if n > 1 { a = A() } else if n == 1 { a = B() } else { a = C() }\n    forward(x: f32[B]) -> (z: f32[B], r: f32[]) {\n        if n > 1 {\n            return { z: x, r: 0 }\n        }\n        return { z: x, r: 1 }\n    }\n}\n"},
	}
	for _, tt := range tests {
		f, errs := Parse("t.enc", []byte(tt.in))
		if len(errs) > 0 {
			t.Errorf("%q: %v", tt.in, errs)
			continue
		}
		got := checkRoundTrip(t, tt.in, f)
		if string(got) != tt.want {
			t.Errorf("Format(%q):\n got %q\nwant %q", tt.in, got, tt.want)
		}
	}
}
