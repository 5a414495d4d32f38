package ir

import (
	goparser "go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestImports checks that ir and ir/eval import only the standard
// library, internal/diag (and internal/golden in tests) and ir itself:
// never lang, compiler or a backend.
func TestImports(t *testing.T) {
	files, _ := filepath.Glob("*.go")
	more, _ := filepath.Glob("eval/*.go")
	allowed := map[string]bool{
		"github.com/encc-lang/encc/internal/diag":   true,
		"github.com/encc-lang/encc/internal/golden": true,
		"github.com/encc-lang/encc/ir":              true,
	}
	for _, f := range append(files, more...) {
		af, err := goparser.ParseFile(token.NewFileSet(), f, nil, goparser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range af.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			if strings.Contains(strings.SplitN(path, "/", 2)[0], ".") && !allowed[path] {
				t.Errorf("%s imports %s", f, path)
			}
			if path == "github.com/encc-lang/encc/internal/golden" && !strings.HasSuffix(f, "_test.go") {
				t.Errorf("%s imports internal/golden outside a test", f)
			}
		}
	}
}
