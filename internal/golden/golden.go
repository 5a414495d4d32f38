// Package golden reads and rewrites the expected-output files of tests.
//
// Every test package that uses golden files imports this package, which
// defines the -update flag, so `go test ./... -update` works across the
// module. ENCC_UPDATE=1 in the environment does the same.
package golden

import (
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/tools/txtar"
)

var update = flag.Bool("update", false, "rewrite golden files")

// Update reports whether golden files should be rewritten.
func Update() bool { return *update || os.Getenv("ENCC_UPDATE") == "1" }

// Check compares got with the content of file, or rewrites file when
// updating. The file's directory is created as needed.
func Check(t testing.TB, file string, got []byte) {
	t.Helper()
	if Update() {
		if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(file, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if d := cmp.Diff(string(want), string(got)); d != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", file, d)
	}
}

// An Archive is a txtar archive read from a test file, whose sections are
// inputs and expected outputs.
type Archive struct {
	Path string
	*txtar.Archive
}

// Read parses the txtar file at path.
func Read(t testing.TB, path string) *Archive {
	t.Helper()
	a, err := txtar.ParseFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return &Archive{Path: path, Archive: a}
}

// Get returns the content of the named section and whether it exists.
func (a *Archive) Get(name string) ([]byte, bool) {
	for _, f := range a.Files {
		if f.Name == name {
			return f.Data, true
		}
	}
	return nil, false
}

// Check compares got with the named section; when updating, it sets the
// section (adding it if missing) and rewrites the archive file.
func (a *Archive) Check(t testing.TB, name string, got []byte) {
	t.Helper()
	if Update() {
		found := false
		for i := range a.Files {
			if a.Files[i].Name == name {
				a.Files[i].Data = got
				found = true
			}
		}
		if !found {
			a.Files = append(a.Files, txtar.File{Name: name, Data: got})
		}
		if err := os.WriteFile(a.Path, txtar.Format(a.Archive), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, ok := a.Get(name)
	if !ok {
		t.Fatalf("%s: no section %q (run with -update to create it)", a.Path, name)
	}
	if d := cmp.Diff(string(want), string(got)); d != "" {
		t.Errorf("%s: section %q mismatch (-want +got):\n%s", a.Path, name, d)
	}
}
