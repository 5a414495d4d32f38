package main

// The word lists of the editor grammars (editors/vim/syntax/enc.vim and
// editors/vscode/syntaxes/enc.tmLanguage.json) are generated here from
// the compiler's catalog of built-ins and the models of the stdlib, as
// docs/builtins.md is, so the highlighting cannot drift from what the
// compiler defines. Each grammar holds one generated block; the rest of
// the file is written by hand.

import (
	"bytes"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/encc-lang/encc/compiler"
	"github.com/encc-lang/encc/internal/golden"
	"github.com/encc-lang/encc/lang"
	"github.com/encc-lang/encc/stdlib"
)

// grammarWords are built-ins whose name the grammars give another role;
// they are highlighted only where called.
var grammarWords = map[string]string{
	"float": "a scalar type (d: float = 0.1)",
	"loss":  "a train's field (loss = cross_entropy(...))",
}

// editorWords are the built-in names as the grammars group them.
type editorWords struct {
	layers     []string // built-in layers and stdlib models: types
	optimizers []string // types
	bare       []string // highlighted wherever they appear
	called     []string // highlighted only before "("
	consts     []string // dataset options
}

// editorWordLists sorts the catalog into the grammars' groups. A built-in
// is highlighted bare when it can be written bare: a function of one
// input whose other arguments all have defaults (x |> relu), or a metric
// (metrics = [accuracy]); unless its name is also an argument name of a
// built-in (normal(mean: 0.0)) or a word of the grammar (grammarWords).
// Every other built-in is highlighted only where it is called, so a
// sub-layer named l1 or a value named step stays a name. repeat has its
// own syntax item.
func editorWordLists(entries []*compiler.Entry, models []string) editorWords {
	argNames := map[string]bool{}
	for _, e := range entries {
		for _, p := range append(append([]compiler.ParamSpec(nil), e.Params...), e.In...) {
			argNames[p.Name] = true
		}
	}
	bare := func(e *compiler.Entry) bool {
		switch {
		case e.Kind == compiler.KFunc && len(e.In) == 1 && e.Rest == nil:
		case e.Kind == compiler.KMetric:
		default:
			return false
		}
		for _, p := range e.Params {
			if p.Default == nil && !p.Optional {
				return false
			}
		}
		return !argNames[e.Name] && grammarWords[e.Name] == ""
	}
	var w editorWords
	for _, e := range entries {
		switch {
		case e.Kind == compiler.KLayer:
			w.layers = append(w.layers, e.Name)
		case e.Kind == compiler.KOptimizer:
			w.optimizers = append(w.optimizers, e.Name)
		case e.Kind == compiler.KOption:
			w.consts = append(w.consts, e.Name)
		case e.Kind == compiler.KRepeat:
		case bare(e):
			w.bare = append(w.bare, e.Name)
		default:
			w.called = append(w.called, e.Name)
		}
	}
	w.layers = append(w.layers, models...)
	for _, l := range [][]string{w.layers, w.optimizers, w.bare, w.called, w.consts} {
		sort.Strings(l)
	}
	return w
}

// stdlibModels lists the models the stdlib declares (the prelude).
func stdlibModels(t *testing.T) []string {
	t.Helper()
	names, err := stdlib.Files()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, name := range names {
		src, err := stdlib.Source(name)
		if err != nil {
			t.Fatal(err)
		}
		f, diags := lang.Parse("stdlib/"+name, src)
		if diags.HasErrors() {
			t.Fatalf("stdlib/%s: %v", name, diags)
		}
		for _, d := range f.Decls {
			if m, ok := d.(*lang.ModelDecl); ok {
				out = append(out, m.Name.Name)
			}
		}
	}
	if len(out) == 0 {
		t.Fatal("the stdlib declares no models")
	}
	return out
}

// lines joins words into lines of at most about width characters, each
// made by line.
func lines(words []string, width int, line func([]string) string) string {
	var b strings.Builder
	var cur []string
	n := 0
	for _, w := range words {
		if len(cur) > 0 && n+len(w) > width {
			b.WriteString(line(cur) + "\n")
			cur, n = nil, 0
		}
		cur = append(cur, w)
		n += len(w) + 1
	}
	if len(cur) > 0 {
		b.WriteString(line(cur) + "\n")
	}
	return b.String()
}

const generatedBy = "TestEditorGrammars (cmd/encc/editors_test.go); rewrite with: go test ./cmd/encc -update"

// vimBuiltins is the generated block of editors/vim/syntax/enc.vim.
func vimBuiltins(w editorWords) string {
	var b strings.Builder
	b.WriteString(`" BEGIN built-ins, generated from the compiler's catalog and the stdlib by
" ` + generatedBy + `
" Layers and optimizers are types. A built-in that can be written bare
" (x |> relu, metrics = [accuracy]) is highlighted wherever it appears; the
" others only where they are called, so a sub-layer named l1 or a value
" named step stays a name.
`)
	kw := func(group string) func([]string) string {
		return func(ws []string) string { return fmt.Sprintf("syn keyword %-15s %s", group, strings.Join(ws, " ")) }
	}
	b.WriteString(lines(w.layers, 64, kw("encBuiltinLayer")))
	b.WriteString(lines(w.optimizers, 64, kw("encOptimizer")))
	b.WriteString(lines(w.bare, 64, kw("encBuiltinFunc")))
	b.WriteString(lines(w.called, 64, func(ws []string) string {
		return fmt.Sprintf(`syn match   %-15s "\<\%%(%s\)\ze\s*("`, "encBuiltinCall", strings.Join(ws, `\|`))
	}))
	b.WriteString(lines(w.consts, 64, kw("encBuiltinConst")))
	b.WriteString("\" END built-ins\n")
	return b.String()
}

// tmBuiltins is the generated "builtins" rule of the TextMate grammar.
func tmBuiltins(w editorWords) string {
	alt := func(ws []string) string { return strings.Join(ws, "|") }
	var b strings.Builder
	b.WriteString(`    "builtins": {
      "comment": "generated from the compiler's catalog and the stdlib by ` + generatedBy + `",
      "patterns": [
`)
	rule := func(comment, name, match string, last bool) {
		b.WriteString("        {\n")
		if comment != "" {
			fmt.Fprintf(&b, "          \"comment\": %q,\n", comment)
		}
		fmt.Fprintf(&b, "          \"name\": %q,\n          \"match\": %q\n        }", name, match)
		if !last {
			b.WriteString(",")
		}
		b.WriteString("\n")
	}
	rule("", "support.class.layer.enc", `\b(?:`+alt(w.layers)+`)\b`, false)
	rule("", "support.class.optimizer.enc", `\b(?:`+alt(w.optimizers)+`)\b`, false)
	rule("built-ins that can be written bare (x |> relu, metrics = [accuracy])", "support.function.builtin.enc", `\b(?:`+alt(w.bare)+`)\b`, false)
	rule("the rest only where called, so a layer or value named l1, step or mean stays a name", "support.function.builtin.enc", `\b(?:`+alt(w.called)+`)\b(?=\s*\()`, false)
	rule("", "support.constant.enc", `\b(?:`+alt(w.consts)+`)\b`, true)
	b.WriteString("      ]\n    },\n")
	return b.String()
}

// replaceBlock returns text with the block that starts at the line
// matching begin and ends at the first line after it matching end
// (both included) replaced by block.
func replaceBlock(t *testing.T, file string, text []byte, begin, end, block string) []byte {
	t.Helper()
	re := regexp.MustCompile(`(?ms)^` + begin + `$.*?^` + end + `$\n`)
	loc := re.FindIndex(text)
	if loc == nil {
		t.Fatalf("%s: no generated block (from a line %q to a line %q)", file, begin, end)
	}
	var out bytes.Buffer
	out.Write(text[:loc[0]])
	out.WriteString(block)
	out.Write(text[loc[1]:])
	return out.Bytes()
}

// TestEditorGrammars keeps the word lists of the Vim and VS Code
// grammars equal to the catalog and the stdlib. `go test ./cmd/encc
// -update` rewrites them.
func TestEditorGrammars(t *testing.T) {
	w := editorWordLists(compiler.Entries(), stdlibModels(t))
	for _, g := range []struct {
		file, begin, end, block string
	}{
		{"../../editors/vim/syntax/enc.vim", `" BEGIN built-ins.*`, `" END built-ins`, vimBuiltins(w)},
		{"../../editors/vscode/syntaxes/enc.tmLanguage.json", `    "builtins": \{`, `    \},`, tmBuiltins(w)},
	} {
		text, err := os.ReadFile(g.file)
		if err != nil {
			t.Fatal(err)
		}
		golden.Check(t, g.file, replaceBlock(t, g.file, text, g.begin, g.end, g.block))
	}
}

// TestEditorWordLists pins the rules on a few names: a layer from the
// catalog and one from the stdlib, activations and metrics bare, a
// function with a required argument, an argument name and a grammar word
// only where called, and every catalog name in exactly one group.
func TestEditorWordLists(t *testing.T) {
	entries := compiler.Entries()
	w := editorWordLists(entries, stdlibModels(t))
	in := func(l []string, s string) bool { i := sort.SearchStrings(l, s); return i < len(l) && l[i] == s }
	for _, c := range []struct {
		list []string
		name string
	}{
		{w.layers, "Linear"}, {w.layers, "TransformerEncoder"}, {w.optimizers, "AdamW"},
		{w.bare, "relu"}, {w.bare, "accuracy"}, {w.bare, "top_k"}, {w.bare, "flatten"},
		{w.called, "dropout"}, {w.called, "mean"}, {w.called, "float"}, {w.called, "loss"},
		{w.called, "cross_entropy"}, {w.called, "step"}, {w.called, "load"}, {w.consts, "standard"},
	} {
		if !in(c.list, c.name) {
			t.Errorf("%s is not in its group", c.name)
		}
	}
	n := len(w.layers) + len(w.optimizers) + len(w.bare) + len(w.called) + len(w.consts)
	if want := len(entries) - 1 + len(stdlibModels(t)); n != want { // repeat is left out
		t.Errorf("%d words in the groups, want %d", n, want)
	}
}
