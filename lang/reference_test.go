package lang_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/encc-lang/encc/internal/diag"
	"github.com/encc-lang/encc/lang"
	"github.com/encc-lang/encc/lang/internal/refparse"
)

// The fast parser (scan.go, exprparse.go) must give what the participle
// parser it replaced gave: the same tree with the same positions, and the
// same diagnostics. lang/internal/refparse keeps that parser as the
// reference.

// sameAsReference fails t when lang.Parse and refparse.Parse disagree on src.
func sameAsReference(t *testing.T, src []byte) {
	t.Helper()
	got, gerrs := lang.Parse("f.enc", src)
	want, werrs := refparse.Parse("f.enc", src)
	if g, w := errText(gerrs), errText(werrs); g != w {
		t.Fatalf("%q:\ndiagnostics %s\nreference   %s", src, g, w)
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Fatalf("%q: the tree differs from the reference (-reference +fast):\n%s", src, d)
	}
}

func errText(l diag.List) string {
	var b strings.Builder
	for _, d := range l {
		b.WriteString(d.Error())
		for _, n := range d.Notes {
			b.WriteString(" [" + n.Pos.String() + ": " + n.Msg + "]")
		}
		b.WriteString("; ")
	}
	return b.String()
}

// referenceSources returns the examples, the stdlib, the error programs,
// the fuzz corpus and the sources of the syntax-error tables of the
// tests.
func referenceSources(t testing.TB) [][]byte {
	var out [][]byte
	for _, pat := range []string{"../examples/*.enc", "../stdlib/*.enc", "../testdata/errors/*.enc", "testdata/fuzz/FuzzParse/*"} {
		files, _ := filepath.Glob(pat)
		for _, file := range files {
			src, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(file, "fuzz") {
				// go test fuzz v1 / []byte("...")
				m := regexp.MustCompile(`(?m)^\[\]byte\((".*")\)$`).FindSubmatch(src)
				if m == nil {
					continue
				}
				s, err := strconv.Unquote(string(m[1]))
				if err != nil {
					t.Fatal(err)
				}
				src = []byte(s)
			}
			out = append(out, src)
		}
	}
	// The first string of each row of the syntax-error tables.
	lit := regexp.MustCompile(`(?m)^\t\t\{(?:"[^"]*", )?("(?:[^"\\]|\\.)*"),`)
	for _, file := range []string{"parse_test.go", "robust_test.go", "format_test.go"} {
		src, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range lit.FindAllSubmatch(src, -1) {
			if s, err := strconv.Unquote(string(m[1])); err == nil {
				out = append(out, []byte(s))
			}
		}
	}
	// Line breaks inside strings and CR-only files, float selectors, bad
	// escapes, empty index elements, named arguments.
	for _, src := range []string{
		"const x = \"a\rb\" + [\"\r\r\", 1]\rconst y = f(x)\r",
		"const x = {\"k\r\": a.0.1, b: c.1e5, d: e.1.5e3}\r\n",
		"const x = f(a.b: 1, g(1): 2, c: \"\\q\")[ , 1:, :2, :][]",
		"const x = a |> b.c(1) |> d |> e[0]",
		"const x = not not a and b or c == d != e < f <= g > h >= i + j - k * l / m @ n ** -o ** p",
		// Every production of the declaration grammar (grammar.go).
		"train t { model = M() phase a(epochs: 2) { freeze enc.layers.0, \"head.w\", x.1.5e3 unfreeze b lr_scale enc.0 = 0.1 lr = 3 } phase b { } }",
		"model M(a, b: int = 2, c: f32[2, (a)]) { param w: f32[3, (2)] = zeros() buffer b: f32[] forward(x: f32[B, 3] = 1, y: i32) -> (a: f32[B], b: f32) { if x { return 1 } else if y { z = 2 } else { } } if a { x = 1 } else if b { } else { y = 2 } }",
		"train t { phase a { freeze enc. } phase b { lr_scale a.) = 1 } }",
		"import \"a.enc\"\nimport \"b\"\ndataset d { x = 1 y = [2] }\nmodel N() { forward() -> f32 { return 1 } }",
	} {
		out = append(out, []byte(src))
	}
	return out
}

func TestReference(t *testing.T) {
	srcs := referenceSources(t)
	if len(srcs) < 50 {
		t.Fatalf("only %d reference sources", len(srcs))
	}
	for _, src := range srcs {
		sameAsReference(t, src)
		if len(src) > 400 {
			continue
		}
		// Broken variants: each token deleted, the file cut after each token.
		toks := regexp.MustCompile(`[A-Za-z_0-9.]+|\|>|->|\*\*|[=!<>]=|\S`).FindAllIndex(src, -1)
		for _, tok := range toks {
			cut := append(append([]byte{}, src[:tok[0]]...), src[tok[1]:]...)
			sameAsReference(t, cut)
			sameAsReference(t, src[:tok[1]])
		}
	}
}

// FuzzReference checks lang.Parse against the reference parser on
// arbitrary input.
func FuzzReference(f *testing.F) {
	for _, src := range referenceSources(f) {
		if len(src) < 2000 {
			f.Add(src)
		}
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		sameAsReference(t, src)
	})
}
