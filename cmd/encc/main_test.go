package main

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/encc-lang/encc/internal/golden"
)

func TestMain(m *testing.M) {
	// A hidden command that panics, to test that a bug is reported as an
	// internal error with exit status 3, not as a crash.
	commands = append(commands, &command{
		name:   "internal-panic",
		hidden: true,
		run: func([]string, io.Writer, io.Writer) int {
			panic("boom")
		},
	})
	// The memory that `encc summary` compares with is a fixed 16 GB
	// machine's, and encc's own resident size a fixed 12 MiB, so that
	// its output is the same everywhere. The paths are this file's:
	// scripts run encc in their own directory.
	_, self, _, _ := runtime.Caller(0)
	meminfoPath = filepath.Join(filepath.Dir(self), "testdata", "meminfo")
	selfStatusPath = filepath.Join(filepath.Dir(self), "testdata", "status")
	testscript.Main(m, map[string]func(){
		"encc": func() { os.Exit(Main()) },
	})
}

// TestScripts runs the CLI scripts of testdata/script. Each script starts
// in a directory holding copies of the repository's examples/*.enc (as
// examples/) and testdata/errors/*.enc (as errors/), so messages name
// short, stable paths. `go test ./cmd/encc -update` rewrites the golden
// sections that a script compares with cmp.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata/script",
		UpdateScripts:       golden.Update(),
		RequireExplicitExec: true,
		Setup: func(env *testscript.Env) error {
			for dir, from := range map[string]string{
				"examples": "../../examples",
				"errors":   "../../testdata/errors",
			} {
				if err := copyEncFiles(from, filepath.Join(env.WorkDir, dir)); err != nil {
					return err
				}
			}
			return nil
		},
	})
}

// copyEncFiles copies the .enc files of the directory from into to.
func copyEncFiles(from, to string) error {
	files, err := filepath.Glob(filepath.Join(from, "*.enc"))
	if err != nil {
		return err
	}
	if err := os.MkdirAll(to, 0o755); err != nil {
		return err
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(to, filepath.Base(f)), b, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// TestExitStatus checks the exit status of each kind of outcome, which
// scripts can only tell apart as zero or not.
func TestExitStatus(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.enc")
	os.WriteFile(good, []byte("const N = 1\n"), 0o644)
	for _, tc := range []struct {
		args []string
		want int
	}{
		{[]string{"check", good}, exitOK},
		{[]string{"check", "../../testdata/errors/syntax.enc"}, exitFail},
		{[]string{"check", filepath.Join(dir, "missing.enc")}, exitFail},
		{[]string{"check"}, exitUsage},
		{[]string{"check", "--nope", good}, exitUsage},
		{[]string{"check", "-h"}, exitOK},
		{[]string{"fmt", good}, exitOK},
		{[]string{"fmt", "-w"}, exitUsage},
		{[]string{"fmt", "../../testdata/errors/syntax.enc"}, exitFail},
		{[]string{"summary"}, exitUsage},
		{[]string{"summary", "../../examples/digits_mlp.enc", "a", "b"}, exitUsage},
		{[]string{"summary", "../../examples/digits_mlp.enc", "nope"}, exitFail},
		{[]string{"summary", "../../examples/digits_mlp.enc"}, exitOK},
		{[]string{"version"}, exitOK},
		{[]string{"version", "x"}, exitUsage},
		{[]string{"help"}, exitOK},
		{[]string{"help", "fmt"}, exitOK},
		{[]string{"help", "nope"}, exitUsage},
		{[]string{"-h"}, exitOK},
		{[]string{}, exitUsage},
		{[]string{"nope"}, exitUsage},
		{[]string{"internal-panic"}, exitInternal},
	} {
		var stdout, stderr bytes.Buffer
		if got := run(tc.args, &stdout, &stderr); got != tc.want {
			t.Errorf("encc %s: exit status %d, want %d\nstderr:\n%s", strings.Join(tc.args, " "), got, tc.want, stderr.String())
		}
	}
}

// TestHelpEveryCommand checks that `encc help NAME` describes every
// command of the table, those added later included.
func TestHelpEveryCommand(t *testing.T) {
	for _, c := range commands {
		if c.hidden {
			continue
		}
		var stdout, stderr bytes.Buffer
		code := run([]string{"help", c.name}, &stdout, &stderr)
		if code != exitOK || !strings.HasPrefix(stdout.String(), "usage: encc "+c.name) {
			t.Errorf("encc help %s: exit status %d\nstdout:\n%s\nstderr:\n%s", c.name, code, stdout.String(), stderr.String())
		}
	}
}

// TestCheckEveryExample runs `encc check` on every examples/*.enc, so an
// example added later is covered without editing a script.
func TestCheckEveryExample(t *testing.T) {
	files, err := filepath.Glob("../../examples/*.enc")
	if err != nil || len(files) == 0 {
		t.Fatalf("no examples: %v", err)
	}
	for _, f := range files {
		var stdout, stderr bytes.Buffer
		if code := run([]string{"check", f}, &stdout, &stderr); code != exitOK || stdout.Len()+stderr.Len() > 0 {
			t.Errorf("encc check %s: exit status %d\n%s%s", f, code, stdout.String(), stderr.String())
		}
	}
}
