package pytorch

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/encc-lang/encc/compiler"
	"github.com/encc-lang/encc/lang"
	"github.com/encc-lang/encc/stdlib"
)

// TestEveryBuiltinHasForm checks the table against the catalog: every
// built-in has a PyTorch form or says where it is handled instead (or
// why it cannot be), the table names nothing else, and every layer and
// tensor function with a form is called by a model of the forward
// parity test (examples, stdlib, stdlibProgram, recurrentProgram), so its form is checked
// against encc's numbers.
func TestEveryBuiltinHasForm(t *testing.T) {
	called := map[string]bool{}
	collect := func(name string, src []byte) {
		f, diags := lang.Parse(name, src)
		if diags.HasErrors() {
			t.Fatalf("%s: %v", name, diags)
		}
		lang.Inspect(f, func(n lang.Node) bool {
			if id, ok := n.(*lang.Ident); ok {
				called[id.Name] = true
			}
			return true
		})
	}
	collect("cases.enc", []byte(stdlibProgram))
	collect("recurrent_cases.enc", []byte(recurrentProgram))
	names, err := stdlib.Files()
	must(t, err)
	for _, n := range names {
		src, err := stdlib.Source(n)
		must(t, err)
		collect(n, src)
	}
	files, _ := filepath.Glob("../../examples/*.enc")
	for _, f := range files {
		src, err := os.ReadFile(f)
		must(t, err)
		collect(f, src)
	}
	inCatalog := map[string]bool{}
	for _, e := range compiler.Entries() {
		inCatalog[e.Name] = true
		f, ok := formOf(e)
		switch {
		case !ok:
			t.Errorf("%s (%v) has no entry in forms", e.Name, e.Kind)
		case f.py == nil && f.reason == "":
			t.Errorf("%s has neither a PyTorch form nor a reason", e.Name)
		case f.unsupported && f.reason == "":
			t.Errorf("%s is unsupported without a reason", e.Name)
		case (e.Kind == compiler.KLayer || e.Kind == compiler.KFunc) && f.py != nil && !called[e.Name]:
			t.Errorf("%s has a form that no forward parity case calls", e.Name)
		}
	}
	for name := range forms {
		if !inCatalog[name] {
			t.Errorf("forms has %s, which is not a built-in", name)
		}
	}
}

// TestNoFormIsPositionedError: a built-in without a PyTorch form is one
// error at its call (a function) or its declaration (a layer) naming it,
// and no folder is written.
func TestNoFormIsPositionedError(t *testing.T) {
	const src = `model M {
    fc   = Linear(4, 4)
    norm = LayerNorm(4)
    forward(x: f32[B, 4]) -> f32[B, 4] {
        return x |> fc |> silu |> norm
    }
}
`
	dir := t.TempDir()
	file := filepath.Join(dir, "m.enc")
	must(t, os.WriteFile(file, []byte(src), 0o644))
	p, diags := compiler.CheckFile(file, nil)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	for _, c := range []struct{ builtin, want string }{
		{"silu", file + ":5:27: cannot export silu to PyTorch: it has no PyTorch form"},
		{"LayerNorm", file + ":3:12: cannot export LayerNorm to PyTorch: it has no PyTorch form"},
	} {
		saved := forms[c.builtin]
		delete(forms, c.builtin)
		out := filepath.Join(dir, "out-"+c.builtin)
		err := Export(p, Options{Name: "M", Out: out})
		forms[c.builtin] = saved
		var pe *Error
		if !errors.As(err, &pe) || err.Error() != c.want {
			t.Errorf("without %s: %v, want %s", c.builtin, err, c.want)
		}
		if _, err := os.Stat(out); !os.IsNotExist(err) {
			t.Errorf("without %s: %s was written", c.builtin, out)
		}
		if ents, _ := os.ReadDir(dir); len(ents) != 1 { // m.enc alone
			var names []string
			for _, e := range ents {
				names = append(names, e.Name())
			}
			t.Errorf("left behind: %v", names)
		}
	}
}
