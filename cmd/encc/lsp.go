package main

import (
	"context"
	"io"
	"os"

	"github.com/encc-lang/encc/lsp"
)

var lspCmd = &command{
	name:     "lsp",
	args:     "",
	synopsis: "run the language server on stdin and stdout",
	doc: `Lsp speaks the Language Server Protocol on standard input and output:
diagnostics as encc check gives them, hover with shapes, go-to-definition,
completion, the document outline and formatting. Editors start it; see
editors/README.md.`,
	run: func(args []string, stdout, stderr io.Writer) int {
		fs := newFlags("lsp")
		pos, code, ok := parseFlags(fs, args, stdout, stderr)
		if !ok {
			return code
		}
		if len(pos) > 0 {
			return usageError("lsp", stderr, "lsp takes no arguments")
		}
		if err := lsp.Serve(context.Background(), os.Stdin, stdout, stderr); err != nil {
			return failf("lsp", stderr, "%v", err)
		}
		return exitOK
	},
}
