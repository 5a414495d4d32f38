package compiler_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/encc-lang/encc/compiler"
	"github.com/encc-lang/encc/internal/diag"
	"github.com/encc-lang/encc/internal/golden"
	_ "github.com/encc-lang/encc/runtime/train" // compiler.TeacherFileCheck, as encc check has it
)

// TestDiagnostics runs the golden cases of testdata/diag: each archive
// holds in.enc (and any files it imports); the harness writes them to a
// temporary directory, checks in.enc, and compares the diagnostics in the
// short form, with paths relative to that directory, with the "errors"
// section. `go test ./compiler -update` (or ENCC_UPDATE=1) rewrites it.
func TestDiagnostics(t *testing.T) {
	files, err := filepath.Glob("testdata/diag/*.txtar")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 45 {
		t.Errorf("only %d golden diagnostic cases, want at least 45", len(files))
	}
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".txtar")
		t.Run(name, func(t *testing.T) {
			a := golden.Read(t, file)
			dir := t.TempDir()
			for _, f := range a.Files {
				if f.Name == "errors" {
					continue
				}
				path := filepath.Join(dir, filepath.FromSlash(f.Name))
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, f.Data, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			p, diags := compiler.CheckFile(filepath.Join(dir, "in.enc"), nil)
			for _, d := range diags {
				checkPositions(t, p, d)
			}
			got := strings.ReplaceAll(shortDiags(diags), dir+string(filepath.Separator), "")
			a.Check(t, "errors", []byte(got))
		})
	}
}

// checkPositions checks that a diagnostic and its notes point into a
// file that was read, inside its text.
func checkPositions(t *testing.T, p *compiler.Program, d *diag.Diagnostic) {
	t.Helper()
	if !d.Pos.IsValid() {
		if !strings.Contains(d.Msg, "cannot read") {
			t.Errorf("diagnostic without a position: %s", d.Error())
		}
		return
	}
	if d.End.IsValid() && d.End.Before(d.Pos) {
		t.Errorf("diagnostic ends (%v) before it starts: %s", d.End, d.Error())
	}
	if p == nil {
		return
	}
	check := func(pos diag.Pos, what string) {
		src, ok := p.Sources[pos.File]
		if !ok {
			t.Errorf("%s in unknown file %s", what, pos)
			return
		}
		if pos.Offset > len(src) {
			t.Errorf("%s past the end of %s", what, pos)
		}
	}
	check(d.Pos, "diagnostic")
	for _, n := range d.Notes {
		if n.Pos.IsValid() {
			check(n.Pos, "note")
		}
	}
}
