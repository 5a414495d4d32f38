package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/encc-lang/encc/compiler"
	"github.com/encc-lang/encc/internal/diag"
)

var checkCmd = &command{
	name:     "check",
	args:     "[-v] [--json] FILE...",
	synopsis: "check .enc files: syntax, names, shapes, datasets and trains",
	doc: `Check parses and checks each FILE with the files it imports: every name
resolves, every tensor shape lines up, every dataset and train is
well-formed. Nothing is compiled, and of the data files only the headers
that give shapes are read (CSV columns, IDX image sizes).

Diagnostics go to stderr as 'file:line:col: message', then the source
line with a caret under the offending range, then notes. Check prints
nothing when every file is correct, and exits with status 1 when any file
has an error.`,
	run: runCheck,
}

func runCheck(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("check")
	asJSON := fs.Bool("json", false, "print diagnostics as a JSON array on stdout (for tools)")
	verbose := fs.Bool("v", false, "print 'FILE: ok' for each file without errors")
	files, code, ok := parseFlags(fs, args, stdout, stderr)
	if !ok {
		return code
	}
	if len(files) == 0 {
		return usageError("check", stderr, "no files to check")
	}
	var all diag.List
	failed := false
	for _, file := range files {
		prog, diags := compiler.CheckFile(file, nil)
		if diags.HasErrors() {
			failed = true
		}
		all = append(all, diags...)
		if *asJSON {
			continue
		}
		if len(diags) > 0 {
			printDiags(stderr, diags, prog)
		}
		if *verbose && !diags.HasErrors() {
			fmt.Fprintf(stdout, "%s: ok\n", file)
		}
	}
	if *asJSON {
		b, err := diag.JSON(all)
		if err != nil {
			return failf("check", stderr, "%v", err)
		}
		fmt.Fprintf(stdout, "%s\n", b)
	}
	if failed {
		return exitFail
	}
	return exitOK
}

// printDiags writes diags in the long form (message, source line and
// caret, notes). The source comes from prog when there is one, so
// imported and stdlib files print their lines too, else from disk.
func printDiags(w io.Writer, diags diag.List, prog *compiler.Program) {
	var sb strings.Builder
	diag.Print(&sb, diags, func(name string) []byte {
		if prog != nil {
			if src := prog.Source(name); src != nil {
				return src
			}
		}
		b, err := compiler.ReadSource(name)
		if err != nil {
			return nil
		}
		return b
	})
	io.WriteString(w, sb.String())
}
