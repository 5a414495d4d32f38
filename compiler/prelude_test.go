package compiler

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/encc-lang/encc/lang"
	"github.com/encc-lang/encc/stdlib"
)

// TestPreludeParsedOnce checks that the stdlib's syntax trees are parsed
// once and shared, and that checking programs (which may then run
// concurrently, as in the language server) never modifies them.
func TestPreludeParsedOnce(t *testing.T) {
	names, err := stdlib.Files()
	if err != nil {
		t.Fatal(err)
	}
	before := map[string]string{}
	trees := map[string]*lang.File{}
	for _, name := range names {
		src, _ := stdlib.Source(name)
		f, errs := parse("stdlib/"+name, src)
		if errs.HasErrors() {
			t.Fatal(errs)
		}
		trees[name], before[name] = f, lang.Dump(f)
	}
	programs, _ := filepath.Glob("../examples/*.enc")
	programs = append(programs, "testdata/bert_base.enc")
	for _, path := range programs {
		src, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		Check(path, src, nil)
	}
	for _, name := range names {
		src, _ := stdlib.Source(name)
		f, _ := parse("stdlib/"+name, src)
		if f != trees[name] {
			t.Errorf("stdlib/%s was parsed again", name)
		}
		if got := lang.Dump(f); got != before[name] {
			t.Errorf("checking programs changed the syntax tree of stdlib/%s", name)
		}
	}
	// Another source under the same name is parsed, not served stale.
	f, _ := parse("stdlib/mlp.enc", []byte("const x = 1\n"))
	if f == trees["mlp.enc"] {
		t.Error("a different source under a stdlib name got the cached tree")
	}
}

// TestCatalogSize checks that catalogSize leaves room for every entry.
func TestCatalogSize(t *testing.T) {
	if n := len(builtinScope.names); n > catalogSize {
		t.Errorf("%d built-in names, catalogSize is %d: raise it", n, catalogSize)
	}
}
