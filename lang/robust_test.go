package lang

import (
	"strings"
	"testing"
	"time"
)

// Hostile and careless input (issue 17): deep nesting is one positioned
// error, not a stack overflow; "\r" ends a line and a comment; a byte
// order mark may start a file.
func TestRobustParse(t *testing.T) {
	deep := func(open, close string, n int) string {
		return "const x = " + strings.Repeat(open, n) + "1" + strings.Repeat(close, n)
	}
	for _, tc := range []struct {
		name, src, err string
	}{
		{"parens 100000", deep("(", ")", 100000), "f.enc:1:1011: expression nested too deeply (more than 1000 levels of brackets and operators)"},
		{"lists 100000", deep("[", "]", 100000), "f.enc:1:1011: expression nested too deeply (more than 1000 levels of brackets and operators)"},
		{"maps", "const x = " + strings.Repeat("{a: ", 5000) + "1" + strings.Repeat("}", 5000), "f.enc:1:4011: expression nested too deeply (more than 1000 levels of brackets and operators)"},
		{"negation", "const x = " + strings.Repeat("-", 100000) + "1", "f.enc:1:1011: expression nested too deeply (more than 1000 levels of brackets and operators)"},
		{"not", "const x = " + strings.Repeat("not ", 100000) + "true", "f.enc:1:4011: expression nested too deeply (more than 1000 levels of brackets and operators)"},
		{"power chain", "const x = 1" + strings.Repeat(" ** 1", 100000), "f.enc:1:5013: expression nested too deeply (more than 1000 levels of brackets and operators)"},
		{"sum chain", "const x = 1" + strings.Repeat("+1", 100000), "f.enc:1:2012: expression nested too deeply (more than 1000 levels of brackets and operators)"},
		{"selector chain", "const x = a" + strings.Repeat(".b", 100000), "f.enc:1:2012: expression nested too deeply (more than 1000 levels of brackets and operators)"},
		{"else if chain", "model M { forward(x: f32[1]) -> f32[1] { " + strings.Repeat("if true { return x } else ", 100000) + "{ return x } } }", "expression nested too deeply"},
		{"nesting 900 is fine", deep("(", ")", 900), ""},
		{"many statements are fine", "model M { forward(x: f32[1]) -> f32[1] {\n" + strings.Repeat("y = -x + -x * -x ** 2\n", 3000) + "return y } }", ""},
		{"long list is fine", "const x = [" + strings.Repeat("-1, ", 5000) + "1]", ""},
		{"CR ends a comment", "const x = 1 // c\rconst y = zz\r", ""},
		{"CR positions", "const x = 1 // c\rconst y = \"\r", "f.enc:2:11: string not terminated"},
		{"CRLF positions", "const x = 1 // c\r\n\r\nconst y = \"\r\n", "f.enc:3:11: string not terminated"},
		{"BOM", "\uFEFFconst x = 1\n", ""},
		{"BOM in the middle", "const x = 1\n\uFEFFconst y = 2\n", `f.enc:2:1: invalid character "\ufeff"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			f, errs := Parse("f.enc", []byte(tc.src))
			if tc.err == "" {
				if len(errs) > 0 {
					t.Fatalf("unexpected error: %v", errs)
				}
				if Format(f) == nil {
					t.Fatal("no output from Format")
				}
				return
			}
			if len(errs) != 1 || !strings.Contains(errs[0].Error(), tc.err) {
				t.Fatalf("errors %v, want one containing %q", errs, tc.err)
			}
			t.Logf("%v", time.Since(start))
		})
	}
}

// The second declaration must be seen: before, "// c\r" swallowed the
// rest of the file and the unknown name went unnoticed.
func TestCRCommentKeepsDeclarations(t *testing.T) {
	f, errs := Parse("f.enc", []byte("const x = 1 // c\rconst y = zz\r"))
	if len(errs) > 0 || len(f.Decls) != 2 {
		t.Fatalf("errs %v, %d declarations, want 2", errs, len(f.Decls))
	}
	if p := f.Decls[1].Pos(); p.Line != 2 || p.Col != 1 {
		t.Fatalf("second declaration at %v, want 2:1", p)
	}
	if c := f.Comments[0].Text; c != "// c" {
		t.Fatalf("comment %q", c)
	}
}

// "return z, recon" (two results, as Python writes them) says how to
// write several results (issue 17, case 20); before: unexpected ",".
func TestReturnTwoValues(t *testing.T) {
	const want = `a forward returns one value: for several results, declare them by name (-> (z: ..., recon: ...)) and return a map: return { z: z, recon: ... }`
	for _, tc := range []struct{ body, err string }{
		{"return z, dec(z)", "f.enc:3:9: " + want},
		{"return (z), f(z, z)", "f.enc:3:11: " + want},
		{"return f(z, z)", ""},
		{"return { z: z, recon: f(z, [z, z]) }", ""},
	} {
		src := "model M {\n    forward(x: f32[B, 4]) -> (z: f32[B, 4], recon: f32[B, 4]) {\n" + tc.body + "\n    }\n}\n"
		_, errs := Parse("f.enc", []byte(src))
		got := ""
		if len(errs) > 0 {
			got = errs[0].Error()
		}
		if got != tc.err {
			t.Errorf("%s:\n got %s\nwant %s", tc.body, got, tc.err)
		}
	}
}
