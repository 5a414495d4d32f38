package main

import (
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/rogpeppe/go-internal/diff"

	"github.com/encc-lang/encc/internal/diag"
	"github.com/encc-lang/encc/lang"
)

var fmtCmd = &command{
	name:     "fmt",
	args:     "[-w] [-d] [-l] [FILE | DIR]...",
	synopsis: "format .enc files in the canonical layout",
	doc: `Fmt prints each FILE in the canonical layout of lang.Format: 4-space
indentation, aligned '=' in runs of fields, canonical spacing, every
comment kept. A DIR stands for every .enc file under it. With no FILE,
fmt formats standard input to standard output.

With -w, -d or -l fmt does not print the formatted text. A file with a
syntax error is reported on stderr and left alone, and fmt exits with
status 1.`,
	run: runFmt,
}

type fmtOptions struct {
	write, diff, list bool
}

func runFmt(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("fmt")
	var o fmtOptions
	fs.BoolVar(&o.write, "w", false, "write the result back to the file (only when it changes)")
	fs.BoolVar(&o.diff, "d", false, "print a unified diff of the changes instead of the result")
	fs.BoolVar(&o.list, "l", false, "list the files whose formatting differs")
	args, code, ok := parseFlags(fs, args, stdout, stderr)
	if !ok {
		return code
	}
	if len(args) == 0 {
		if o.write {
			return usageError("fmt", stderr, "-w needs a file to rewrite")
		}
		src, err := io.ReadAll(os.Stdin)
		if err != nil {
			return failf("fmt", stderr, "%v", err)
		}
		return fmtOne(&o, "<standard input>", src, stdout, stderr)
	}
	files, err := expandEncFiles(args)
	if err != nil {
		return failf("fmt", stderr, "%v", err)
	}
	status := exitOK
	for _, file := range files {
		src, err := os.ReadFile(file)
		if err != nil {
			failf("fmt", stderr, "%v", err)
			status = exitFail
			continue
		}
		if fmtOne(&o, file, src, stdout, stderr) != exitOK {
			status = exitFail
		}
	}
	return status
}

// fmtOne formats the text src of file as o asks.
func fmtOne(o *fmtOptions, file string, src []byte, stdout, stderr io.Writer) int {
	f, diags := lang.Parse(file, src)
	if diags.HasErrors() {
		var sb strings.Builder
		diag.Print(&sb, diags, func(string) []byte { return src })
		io.WriteString(stderr, sb.String())
		return exitFail
	}
	out := lang.KeepLineEndings(lang.Format(f), src)
	if !o.write && !o.diff && !o.list {
		stdout.Write(out)
		return exitOK
	}
	if bytes.Equal(src, out) {
		return exitOK
	}
	if o.list {
		fmt.Fprintln(stdout, file)
	}
	if o.diff {
		stdout.Write(diff.Diff(file+".orig", src, file, out))
	}
	if o.write {
		if err := writeAtomic(file, out); err != nil {
			return failf("fmt", stderr, "%v", err)
		}
	}
	return exitOK
}

// expandEncFiles replaces each directory in args by the .enc files under
// it, skipping hidden directories and node_modules. Files named
// explicitly are kept whatever their extension.
func expandEncFiles(args []string) ([]string, error) {
	var out []string
	for _, a := range args {
		st, err := os.Stat(a)
		if err != nil || !st.IsDir() {
			out = append(out, a) // a missing file is reported when read
			continue
		}
		err = filepath.WalkDir(a, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() {
				name := d.Name()
				if path != a && (strings.HasPrefix(name, ".") || name == "node_modules") {
					return filepath.SkipDir
				}
				return nil
			}
			if strings.HasSuffix(path, ".enc") {
				out = append(out, path)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// writeAtomic replaces file with data: it writes a temporary file in the
// same directory with file's permissions and renames it over file, so a
// crash never leaves a half-written source.
//
// A symbolic link is followed: the file it points to is rewritten and
// the link stays a link.
func writeAtomic(file string, data []byte) error {
	if target, err := filepath.EvalSymlinks(file); err == nil {
		file = target
	}
	st, err := os.Stat(file)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(file), "."+filepath.Base(file)+".fmt-*")
	if err != nil {
		return err
	}
	name := tmp.Name()
	_, err = tmp.Write(data)
	if err == nil {
		err = tmp.Chmod(st.Mode().Perm())
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(name, file)
	}
	if err != nil {
		os.Remove(name)
		return fmt.Errorf("writing %s: %w", file, err)
	}
	return nil
}
