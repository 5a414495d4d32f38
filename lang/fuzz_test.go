package lang

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// FuzzParse cross-checks the parser and the printer: the scanner gives
// the tokens of lexDef, nothing panics, a
// parsed file formats to text that parses to the same tree (positions
// aside, comments included), and formatting is idempotent. It is seeded
// with the examples, the stdlib and the error programs; crashers found
// are kept in testdata/fuzz/FuzzParse.
func FuzzParse(f *testing.F) {
	for _, pat := range []string{"../examples/*.enc", "../stdlib/*.enc", "../testdata/errors/*.enc"} {
		files, _ := filepath.Glob(pat)
		for _, file := range files {
			src, err := os.ReadFile(file)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(src)
		}
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		checkScan(t, src)
		file, errs := Parse("f.enc", src)
		if file == nil {
			t.Fatal("Parse returned a nil File")
		}
		if len(errs) > 1 {
			t.Fatalf("%d errors, want at most one: %v", len(errs), errs)
		}
		if len(errs) == 1 {
			if p := errs[0].Pos; !p.IsValid() || p.Offset > len(src) {
				t.Fatalf("error at a bad position: %v", errs[0])
			}
			return
		}
		out := Format(file)
		g, errs := Parse("f.enc", out)
		if len(errs) > 0 {
			t.Fatalf("formatted output does not parse: %v\n--- output:\n%s", errs, out)
		}
		if d := cmp.Diff(file, g, ignorePos, cmpopts.IgnoreFields(File{}, "Name")); d != "" {
			t.Fatalf("formatting changed the tree (-before +after):\n%s\n--- output:\n%s", d, out)
		}
		if again := Format(g); string(again) != string(out) {
			t.Fatalf("Format is not idempotent:\n--- first:\n%s\n--- second:\n%s", out, again)
		}
	})
}
