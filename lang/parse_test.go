package lang

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/encc-lang/encc/internal/diag"
	"github.com/encc-lang/encc/internal/golden"
)

// sources returns the .enc files the parser must accept.
func sources(t testing.TB) []string {
	var files []string
	for _, pat := range []string{"../examples/*.enc", "../stdlib/*.enc", "../testdata/errors/*.enc"} {
		m, err := filepath.Glob(pat)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range m {
			if filepath.Base(f) != "syntax.enc" {
				files = append(files, f)
			}
		}
	}
	if len(files) == 0 {
		t.Fatal("no .enc files found")
	}
	return files
}

func TestParseAccepts(t *testing.T) {
	for _, file := range sources(t) {
		src, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		f, errs := Parse(file, src)
		if len(errs) > 0 {
			t.Errorf("%s: %v", file, errs)
			continue
		}
		if len(f.Decls) == 0 {
			t.Errorf("%s: no declarations", file)
		}
	}
}

var wantRE = regexp.MustCompile(`(?m)^// want (\d+):(\d+) (.*)$`)

// TestSyntaxErrorFile checks testdata/errors/syntax.enc against its
// `// want` line: position and message exactly.
func TestSyntaxErrorFile(t *testing.T) {
	file := "../testdata/errors/syntax.enc"
	src, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	m := wantRE.FindSubmatch(src)
	if m == nil {
		t.Fatal("no want line")
	}
	_, errs := Parse(file, src)
	want := file + ":" + string(m[1]) + ":" + string(m[2]) + ": " + string(m[3])
	if len(errs) != 1 || errs[0].Error() != want {
		t.Errorf("got %v\nwant %s", errs, want)
	}
}

// TestSyntaxErrors is a table of syntax errors: exactly one diagnostic,
// at the offending token, in user words.
func TestSyntaxErrors(t *testing.T) {
	const fwd = "model M { forward(x: f32[B]) -> f32[B] { "
	tests := []struct{ src, want string }{
		{"train t {\n    batch 32\n}", `2:11: expected "=" after "batch"`},
		{"model M {\n    fc = Linear(64, 10\n    forward(x: f32[B]) -> f32[B] { return x }\n}", `3:5: expected ")" or "," after argument`},
		{"model M {\n    x = }", `2:9: expected expression after "="`},
		{"}", `1:1: unexpected "}"`},
		{"model M {} }", `1:12: unexpected "}"`},
		{"frob M {}", `1:1: unexpected "frob", expected import, const, model, dataset or train`},
		{"model M {}\nimport \"a.enc\"", `2:1: unexpected "import": imports come before declarations`},
		{fwd + "return x |> f + 1 } }", `1:56: unexpected "+" after a |> stage: the right side of |> is a name or a call; write (x |> f) + y`},
		{fwd + "return (x |> f) + 1 |> g * 2 } }", `1:67: unexpected "*" after a |> stage: the right side of |> is a name or a call; write (x |> f) * y`},
		{fwd + "return x |> 3 } }", `1:54: expected name after "|>": the right side of |> is a name or a call`},
		{fwd + "return x[] } }", `1:51: expected an index or a slice inside [ ]`},
		{fwd + "return x[0, ] } }", `1:54: expected an index or a slice inside [ ]`},
		{fwd + "return } }", `1:49: expected expression after "return"`},
		{fwd + "y = (a + b } }", `1:53: expected ")" after expression`},
		{fwd + "y = [a, b } }", `1:52: expected "]" or "," after element`},
		{fwd + "y = x[a, b } }", `1:53: expected "]" or "," after index`},
		{fwd + "x + 1 } }", `1:44: expected "=" after "x"`},
		{fwd + "if x { return x } else return y } }", `1:65: expected "if" or "{" after "else"`},
		{"model M { forward(x: f32[B] -> f32[B] { return x } }", `1:29: expected ")" or "," after parameter`},
		{"model M { forward(x: f32[B, 3 4]) -> f32[B] { return x } }", `1:31: expected "]" or "," after dimension`},
		{"model M { forward(x: f32[B]) f32[B] { return x } }", `1:30: expected "->" after ")"`},
		{"model M { forward(x) -> f32[B] { return x } }", `1:20: expected ":" after "x"`},
		{"model M { forward(x: f32[B]) -> (a: f32[B] b: f32[B]) { return x } }", `1:44: expected ")" or "," after result`},
		{fwd + "return x }", `1:52: unexpected end of file, expected "}"`},
		{"model M { param w f32[3] }", `1:19: expected ":" after "w"`},
		{"model M { param w: int }", `1:24: expected "[" after "int"`},
		{"model { }", `1:7: expected name after "model"`},
		{"model M(a: int, ) { }", `1:17: expected parameter after ","`},
		{"model M(a int) { }", `1:11: expected ")" or "," after parameter`},
		{"model M { 3 }", `1:11: unexpected "3"`},
		{"model M { x = 1 ", `1:17: unexpected end of file, expected "}"`},
		{"model M { if a { x = 1 } else y = 2 }", `1:31: expected "if" or "{" after "else"`},
		{"model M { x = a.(b) }", `1:17: expected member name after "."`},
		{"model M { x = a ** }", `1:20: expected expression after "**"`},
		{"model M { x = - }", `1:17: expected expression after "-"`},
		{"model M { x = not }", `1:19: expected expression after "not"`},
		{"model M { x = f(1, 2 3) }", `1:22: expected ")" or "," after argument`},
		{"model M { x = f(a:) }", `1:19: expected expression after ":"`},
		{"model M { x = f(a.b: 1) }", `1:17: argument name must be a plain name, not a dotted name`},
		{"model M { x = { a 1 } }", `1:19: expected ":" after "a"`},
		{"model M { x = { a: 1 b: 2 } }", `1:22: expected "}" or "," after map entry`},
		{"model M { x = blocks.1e3 }", `1:22: invalid member name 1e3`},
		{"const = 3", `1:7: expected name after "const"`},
		{"const N 3", `1:9: expected "=" after "N"`},
		{`dataset d { source = csv("x" text: 1) }`, `1:30: expected ")" or "," after argument`},
		{"train t { phase p (epochs: 3) { freeze } }", `1:40: expected parameter path after "freeze"`},
		{"train t { phase p (epochs: 3) { freeze a, } }", `1:43: expected parameter path after ","`},
		{"train t { phase p (epochs: 3) { lr_scale a 0.1 } }", `1:44: expected "=" after "a"`},
		{"train t { phase { } }", `1:17: expected name after "phase"`},
		{"import x", `1:8: expected string after "import"`},
		{"const s = \"abc\ndef\"", `1:11: string not terminated`},
		{"const s = 1 /* never closed\n", `1:13: comment not terminated`},
		{"const s = 1 # 2", `1:13: invalid character "#"`},
		{`const s = "a\qb"`, `1:11: invalid escape sequence in string "a\qb"`},
		{"model M { x = f(1,\n\n", `3:1: unexpected end of file, expected argument`},
	}
	for _, tt := range tests {
		_, errs := Parse("", []byte(tt.src))
		if len(errs) != 1 {
			t.Errorf("%q: got %d errors %v, want 1: %s", tt.src, len(errs), errs, tt.want)
			continue
		}
		if got := errs[0].Error(); got != tt.want {
			t.Errorf("%q:\n got %s\nwant %s", tt.src, got, tt.want)
		}
	}
}

// TestDump compares the s-expression dump of every example with its
// golden file in testdata/ast (the stdlib, owned elsewhere, is left out).
func TestDump(t *testing.T) {
	for _, file := range sources(t) {
		if strings.Contains(file, "stdlib") {
			continue // owned and changed elsewhere; TestParseAccepts covers it
		}
		src, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		f, errs := Parse(file, src)
		if len(errs) > 0 {
			t.Fatal(errs)
		}
		name := strings.TrimSuffix(filepath.Base(file), ".enc")
		dir := filepath.Base(filepath.Dir(file))
		golden.Check(t, filepath.Join("testdata", "ast", dir+"_"+name+".golden"), []byte(Dump(f)))
	}
}

// TestPositions checks every node of every example: its span is inside
// its parent's, Line and Col agree with Offset, and names, literals and
// operators sit where the source has them.
func TestPositions(t *testing.T) {
	for _, file := range sources(t) {
		src, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		f, _ := Parse(file, src)
		lines := lineStarts(src)
		check := func(p diag.Pos) {
			if p.File != file || p.Offset < 0 || p.Offset > len(src) ||
				p.Line < 1 || p.Line > len(lines) || lines[p.Line-1]+p.Col-1 != p.Offset {
				t.Errorf("%s: bad position %+v", file, p)
			}
		}
		var stack []Node
		Inspect(f, func(n Node) bool {
			if n == nil {
				stack = stack[:len(stack)-1]
				return true
			}
			check(n.Pos())
			check(n.End())
			text := string(src[n.Pos().Offset:n.End().Offset])
			if n.Pos().Offset >= n.End().Offset {
				t.Errorf("%s: %T at %v has an empty span", file, n, n.Pos())
			}
			if len(stack) > 0 {
				par := stack[len(stack)-1]
				if n.Pos().Offset < par.Pos().Offset || n.End().Offset > par.End().Offset {
					t.Errorf("%s: %T at %v not inside its parent %T at %v", file, n, n.Pos(), par, par.Pos())
				}
			}
			switch n := n.(type) {
			case *Ident:
				if text != n.Name {
					t.Errorf("%s: ident %q spans %q", file, n.Name, text)
				}
			case *BasicLit:
				if n.Kind != StringLit && text != n.Value {
					t.Errorf("%s: literal %q spans %q", file, n.Value, text)
				}
			case *BinaryExpr:
				if !strings.HasPrefix(string(src[n.OpPos.Offset:]), n.Op) {
					t.Errorf("%s: operator %q at %v", file, n.Op, n.OpPos)
				}
			case *CallExpr:
				if src[n.Rparen.Offset] != ')' {
					t.Errorf("%s: call %s: Rparen at %v", file, ExprString(n), n.Rparen)
				}
			case *Comment:
				if text != n.Text {
					t.Errorf("%s: comment %q spans %q", file, n.Text, text)
				}
			}
			stack = append(stack, n)
			return true
		})
	}
}

// TestSpans pins the exact span of a few nodes.
func TestSpans(t *testing.T) {
	src := "model M {\n    h = x[:, 0:32] |> blocks.0.1 |> f(k: -a ** 2)  // c\n}\n"
	f, errs := Parse("m.enc", []byte(src))
	if errs != nil {
		t.Fatal(errs)
	}
	var got []string
	Inspect(f, func(n Node) bool {
		if n != nil {
			got = append(got, fmt.Sprintf("%-14s %s-%s %s", strings.TrimPrefix(fmt.Sprintf("%T", n), "*lang."),
				n.Pos(), n.End().String()[len("m.enc:"):], src[n.Pos().Offset:n.End().Offset]))
		}
		return true
	})
	golden.Check(t, "testdata/spans.golden", []byte(strings.Join(got, "\n")+"\n"))
}
