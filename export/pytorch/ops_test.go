package pytorch

import (
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
// parity test (examples, stdlib, stdlibProgram), so its form is checked
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
		f, ok := forms[e.Name]
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
