package compiler_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/encc-lang/encc/compiler"
	"github.com/encc-lang/encc/internal/diag"
)

// shortDiags renders diagnostics one per line, notes included.
func shortDiags(l diag.List) string {
	var sb strings.Builder
	diag.Short(&sb, l)
	return sb.String()
}

// TestExamples checks that every example program has no diagnostics.
func TestExamples(t *testing.T) {
	files, err := filepath.Glob("../examples/*.enc")
	if err != nil || len(files) == 0 {
		t.Fatalf("no examples: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			p, diags := compiler.CheckFile(f, nil)
			if len(diags) > 0 {
				t.Fatalf("unexpected diagnostics:\n%s", shortDiags(diags))
			}
			if p == nil || p.Root == nil {
				t.Fatal("no program")
			}
		})
	}
}

// A want is the expectation written on the last line of a program of
// testdata/errors: "// want L:C message".
type want struct {
	line, col int
	text      string
}

var wantRE = regexp.MustCompile(`^//\s*want\s+(\d+):(\d+)\s+(.*)$`)

func parseWant(t *testing.T, src []byte) want {
	t.Helper()
	lines := strings.Split(strings.TrimRight(string(src), "\n"), "\n")
	m := wantRE.FindStringSubmatch(strings.TrimSpace(lines[len(lines)-1]))
	if m == nil {
		t.Fatalf("last line %q is not a // want line", lines[len(lines)-1])
	}
	l, _ := strconv.Atoi(m[1])
	c, _ := strconv.Atoi(m[2])
	return want{line: l, col: c, text: m[3]}
}

var (
	shapeRE  = regexp.MustCompile(`\b(?:f32|f16|bf16|i32|i64|bool)\[[^\]]*\]`)
	quotedRE = regexp.MustCompile(`"[^"]*"`)
	numberRE = regexp.MustCompile(`\b\d+\b`)
	noteRE   = regexp.MustCompile(`\(a note points at .* on (\d+):(\d+)\)`)
)

// mustMention lists what a message has to contain for a want text: its
// shapes, its quoted names and its numbers (outside shapes and quotes).
func mustMention(text string) []string {
	text = noteRE.ReplaceAllString(text, "")
	var out []string
	rest := text
	for _, s := range shapeRE.FindAllString(text, -1) {
		out = append(out, s)
		rest = strings.Replace(rest, s, " ", 1)
	}
	for _, q := range quotedRE.FindAllString(rest, -1) {
		out = append(out, q)
		rest = strings.Replace(rest, q, " ", 1)
	}
	out = append(out, numberRE.FindAllString(rest, -1)...)
	return out
}

func TestMustMention(t *testing.T) {
	got := strings.Join(mustMention(`"head" expects f32[B, 32], got f32[B, 64] (have: 3 of "x")`), "|")
	if want := `f32[B, 32]|f32[B, 64]|"head"|"x"|3`; got != want {
		t.Errorf("mustMention = %s, want %s", got, want)
	}
}

// TestErrorPrograms checks each program of testdata/errors: exactly one
// error, on the want line, whose range holds the want column, naming the
// same shapes, names and numbers.
func TestErrorPrograms(t *testing.T) {
	files, err := filepath.Glob("../testdata/errors/*.enc")
	if err != nil || len(files) == 0 {
		t.Fatalf("no error programs: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			src, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			w := parseWant(t, src)
			_, diags := compiler.Check(f, src, nil)
			if len(diags) != 1 {
				t.Fatalf("got %d diagnostics, want 1:\n%s", len(diags), shortDiags(diags))
			}
			d := diags[0]
			if d.Pos.File != f {
				t.Errorf("error in file %s, want %s", d.Pos.File, f)
			}
			if d.Pos.Line != w.line {
				t.Errorf("error on line %d, want %d: %s", d.Pos.Line, w.line, d.Error())
			}
			inRange := d.Pos.Col == w.col ||
				d.Pos.Col <= w.col && d.End.IsValid() && (d.End.Line > w.line || d.End.Col > w.col)
			if !inRange {
				t.Errorf("error at %d:%d-%v does not cover column %d: %s", d.Pos.Line, d.Pos.Col, d.End, w.col, d.Error())
			}
			for _, s := range mustMention(w.text) {
				if !strings.Contains(d.Msg, s) {
					t.Errorf("message %q does not mention %s (want %q)", d.Msg, s, w.text)
				}
			}
			m := noteRE.FindStringSubmatch(w.text)
			if m == nil && filepath.Base(f) == "bad_heads.enc" {
				t.Fatalf("bad_heads.enc: want line %q names no note position", w.text)
			}
			if m != nil {
				l, _ := strconv.Atoi(m[1])
				c, _ := strconv.Atoi(m[2])
				found := false
				for _, n := range d.Notes {
					found = found || n.Pos.Line == l && n.Pos.Col == c
				}
				if !found {
					t.Errorf("no note at %d:%d:\n%s", l, c, shortDiags(diags))
				}
			}
		})
	}
}

// TestTypesRootOnly checks that Program.Types holds nodes of the root
// file only: checking BERT-base runs the stdlib's TransformerEncoder,
// whose nodes no hover asks for.
func TestTypesRootOnly(t *testing.T) {
	src, err := os.ReadFile("testdata/bert_base.enc")
	if err != nil {
		t.Fatal(err)
	}
	prog, diags := compiler.Check("testdata/bert_base.enc", src, nil)
	if len(diags) > 0 {
		t.Fatal(diags)
	}
	if len(prog.Types) == 0 {
		t.Fatal("no hover values recorded")
	}
	for n := range prog.Types {
		if f := n.Pos().File; f != "testdata/bert_base.enc" {
			t.Errorf("a node of %s (at %v) in Types", f, n.Pos())
			break
		}
	}
}
