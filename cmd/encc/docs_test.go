package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/encc-lang/encc/compiler"
	"github.com/encc-lang/encc/internal/golden"
)

// TestBuiltinsDoc keeps docs/builtins.md equal to what the catalog of
// built-ins says, so the reference can never drift from the compiler.
// `go test ./cmd/encc -update` rewrites it.
func TestBuiltinsDoc(t *testing.T) {
	golden.Check(t, "../../docs/builtins.md", builtinsMarkdown(compiler.Entries()))
}

// TestDocExamples checks every ```enc block of README.md,
// docs/language.md and docs/pytorch-weights.md that is a whole program; a block that is a fragment
// (it uses names declared elsewhere, or elides with ...) is preceded by
// the line <!-- fragment -->.
func TestDocExamples(t *testing.T) {
	block := regexp.MustCompile("(?ms)^(<!-- fragment -->\n)?```enc\n(.*?)^```")
	for _, doc := range []string{"../../README.md", "../../docs/language.md", "../../docs/pytorch-weights.md"} {
		text, err := os.ReadFile(doc)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, m := range block.FindAllSubmatchIndex(text, -1) {
			line := 1 + bytes.Count(text[:m[0]], []byte("\n"))
			if m[2] >= 0 {
				continue // a fragment
			}
			n++
			file := filepath.Join(t.TempDir(), fmt.Sprintf("%s_%d.enc", filepath.Base(doc), line))
			if err := os.WriteFile(file, text[m[4]:m[5]], 0o644); err != nil {
				t.Fatal(err)
			}
			if _, diags := compiler.CheckFile(file, nil); len(diags) > 0 {
				t.Errorf("%s:%d: the example does not check (mark it <!-- fragment --> if it is not a whole program):\n%v", doc, line, diags)
			}
		}
		if n == 0 {
			t.Errorf("%s: no checked examples", doc)
		}
	}
}

// kindTitles names the sections of docs/builtins.md; a kind missing here
// gets a section named after the kind itself.
var kindTitles = map[string]string{
	"layer":       "Layers",
	"function":    "Functions",
	"loss":        "Losses",
	"initializer": "Initializers",
	"optimizer":   "Optimizers",
	"schedule":    "Learning-rate schedules",
	"metric":      "Metrics",
	"data source": "Data sources",
	"tokenizer":   "Tokenizers",
	"option":      "Normalization options",
	"weights":     "Initial weights",
	"repeat":      "Repeat",
	"objective":   "Objectives",
	"adapter":     "Adapters (in a train)",
}

var kindIntros = map[string]string{
	"layer": "Layers are declared as members of a model (`fc = Linear(64, 128)`) and own parameters, named `fc.weight`, `fc.bias` as in PyTorch. " +
		"They are then called on tensors in `forward` (`fc(x)` or `x |> fc`).",
	"function":    "Tensor functions are called in `forward` and in a train's `loss`; `x |> f(a)` means `f(x, a)`.",
	"loss":        "Losses compare a prediction with a target and give a scalar `f32[]`, as a train's `loss` must be.",
	"initializer": "Initializers give the initial value of a `param` (`param w: f32[4, 4] = kaiming_uniform()`) or a `buffer`.",
	"optimizer":   "Optimizers are the `optimizer` field of a train.",
	"schedule":    "Schedules are the `lr` field of a train or a phase.",
	"metric":      "Metrics are listed in a train's `metrics` and computed on the test split each epoch.",
	"data source": "Data sources are the `source` (and `test`) fields of a dataset; each gives the fields that come into scope in a train.",
	"tokenizer":   "Tokenizers are the `tokens` field of a dataset with a text source.",
	"option":      "Options are the values of a dataset's `normalize` field.",
	"weights":     "Initial weights are the `init` field of a train.",
	"objective":   "An objective is the `objective` field of a train that trains something other than a model's loss: it takes `data`, `epochs`, `seed` and `save`, and no model, loss or optimizer.",
	"repeat":      "",
}

// builtinsMarkdown renders the catalog as docs/builtins.md: one section
// per kind, one entry per built-in with its signature, shape rule, doc
// and arguments.
func builtinsMarkdown(entries []*compiler.Entry) []byte {
	var b bytes.Buffer
	b.WriteString("# Built-ins\n\n")
	b.WriteString("<!-- Generated from compiler.Entries() by TestBuiltinsDoc in cmd/encc/docs_test.go;\n" +
		"     do not edit. Rewrite with: go test ./cmd/encc -update -->\n\n")
	b.WriteString("Every name below is in scope in every `.enc` file, before the standard\n" +
		"library (`MLP`, `MultiHeadAttention`, `TransformerEncoderLayer`, `LeNet5`, ...,\n" +
		"written in .enc under `stdlib/`) and the file's own declarations. The same\n" +
		"entries drive the checker, `encc summary` and the editor hovers. See\n" +
		"[the language reference](language.md) for how they are used.\n\n")

	// Group by kind, keeping the catalog's order (kind, then name).
	var kinds []string
	groups := map[string][]*compiler.Entry{}
	for _, e := range entries {
		k := e.Kind.String()
		if _, ok := groups[k]; !ok {
			kinds = append(kinds, k)
		}
		groups[k] = append(groups[k], e)
	}
	title := func(k string) string {
		if t, ok := kindTitles[k]; ok {
			return t
		}
		return strings.ToUpper(k[:1]) + k[1:]
	}

	// Anchors as GitHub makes them, in the order of the headings: the
	// second "linear" (the schedule, after the layer) is "linear-1".
	seen := map[string]int{}
	slug := func(heading string) string {
		a := anchor(heading)
		n := seen[a]
		seen[a]++
		if n > 0 {
			a += "-" + strconv.Itoa(n)
		}
		return a
	}
	slug("Built-ins")
	slug("Contents")
	anchors := map[*compiler.Entry]string{}
	for _, k := range kinds {
		slug(title(k))
		for _, e := range groups[k] {
			anchors[e] = slug(e.Name)
		}
	}

	b.WriteString("## Contents\n\n")
	for _, k := range kinds {
		var names []string
		for _, e := range groups[k] {
			names = append(names, "["+e.Name+"](#"+anchors[e]+")")
		}
		fmt.Fprintf(&b, "- **%s**: %s\n", title(k), strings.Join(names, ", "))
	}
	for _, k := range kinds {
		fmt.Fprintf(&b, "\n## %s\n", title(k))
		if intro := kindIntros[k]; intro != "" {
			fmt.Fprintf(&b, "\n%s\n", intro)
		}
		for _, e := range groups[k] {
			writeEntry(&b, e)
		}
	}
	return b.Bytes()
}

func writeEntry(b *bytes.Buffer, e *compiler.Entry) {
	fmt.Fprintf(b, "\n### %s\n\n", e.Name)
	if e.Kind == compiler.KLayer {
		// A layer is built with its arguments and called on its inputs.
		ctor := *e
		ctor.In = nil
		var in []string
		for _, p := range e.In {
			in = append(in, p.Name)
		}
		fmt.Fprintf(b, "```enc\n%s\n```\n\nCalled as `layer(%s)`.\n\n", ctor.Signature(), strings.Join(in, ", "))
	} else {
		fmt.Fprintf(b, "```enc\n%s\n```\n\n", e.Signature())
	}
	if e.Sig != "" {
		fmt.Fprintf(b, "Shape: `%s`\n\n", e.Sig)
	}
	fmt.Fprintf(b, "%s\n", strings.TrimSpace(e.Doc))
	args := append(append([]compiler.ParamSpec(nil), e.In...), e.Params...)
	if e.Rest != nil {
		rest := *e.Rest
		rest.Name += "..."
		args = append(args, rest)
	}
	if len(args) == 0 {
		return
	}
	b.WriteString("\n| argument | type | default | meaning |\n| --- | --- | --- | --- |\n")
	for i, p := range args {
		def := "required"
		switch {
		case e.Kind == compiler.KLayer && i < len(e.In):
			def = "call input"
		case p.Default != nil:
			def = "`" + valueText(p.Default) + "`"
		case p.Optional:
			def = "optional"
		}
		fmt.Fprintf(b, "| `%s` | %s | %s | %s |\n", p.Name, p.Type, def, cell(p.Doc))
	}
}

// valueText prints a default value as it is written in .enc.
func valueText(v compiler.Value) string {
	switch v := v.(type) {
	case compiler.IntV:
		return strconv.FormatInt(v.V, 10)
	case compiler.FloatV:
		return strconv.FormatFloat(v.V, 'g', -1, 64)
	case compiler.BoolV:
		return strconv.FormatBool(v.V)
	case compiler.StrV:
		return strconv.Quote(v.V)
	case *compiler.ListV:
		parts := make([]string, len(v.Elems))
		for i, e := range v.Elems {
			parts[i] = valueText(e)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case *compiler.MapV:
		parts := make([]string, len(v.Keys))
		for i, k := range v.Keys {
			parts[i] = k + ": " + valueText(v.Vals[k])
		}
		return "{" + strings.Join(parts, ", ") + "}"
	}
	return fmt.Sprint(v)
}

// cell escapes text for a Markdown table cell.
func cell(s string) string {
	s = strings.ReplaceAll(s, "|", `\|`)
	return strings.ReplaceAll(s, "\n", " ")
}

// anchor is the GitHub anchor of a heading, before de-duplication.
func anchor(name string) string {
	var sb strings.Builder
	for _, r := range strings.ToLower(name) {
		switch {
		case r == ' ':
			sb.WriteByte('-')
		case r == '_' || r == '-' || (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9'):
			sb.WriteRune(r)
		}
	}
	return sb.String()
}
