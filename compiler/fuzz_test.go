package compiler_test

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/encc-lang/encc/compiler"
)

var stdlibRE = regexp.MustCompile(`MLP|DenseBlock|MultiHeadAttention|Transformer|LeNet`)

// FuzzCheck checks that Check never panics, whatever the input; syntax
// and checking errors are fine. Crashers found are kept as seeds in
// testdata/fuzz/FuzzCheck.
func FuzzCheck(f *testing.F) {
	for _, pat := range []string{"../examples/*.enc", "../stdlib/*.enc", "../testdata/errors/*.enc", "testdata/*.enc"} {
		files, err := filepath.Glob(pat)
		if err != nil {
			f.Fatal(err)
		}
		for _, file := range files {
			src, err := os.ReadFile(file)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(src)
		}
	}
	// Imports read nothing: the fuzzer must not depend on the disk.
	readNothing := func(string) ([]byte, error) { return nil, os.ErrNotExist }
	f.Fuzz(func(t *testing.T, src []byte) {
		// Parsing the stdlib takes most of a Check: leave it out when the
		// input names none of its models, to run more inputs.
		opts := &compiler.Options{ReadFile: readNothing, NoPrelude: !stdlibRE.Match(src)}
		p, diags := compiler.Check("fuzz/in.enc", src, opts)
		for _, d := range diags {
			if d.Msg == "" {
				t.Errorf("empty message at %v", d.Pos)
			}
		}
		if p == nil || diags.HasErrors() {
			return
		}
		// A program that checks can be summarized without panicking.
		for _, m := range p.Models {
			if m.Default != nil {
				_, _ = p.Summarize(m.Name)
			}
		}
	})
}
