package main

import (
	"context"
	"flag"
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
		fs := flag.NewFlagSet("lsp", flag.ContinueOnError)
		fs.SetOutput(stderr)
		if err := fs.Parse(args); err != nil {
			return exitUsage
		}
		if err := lsp.Serve(context.Background(), os.Stdin, stdout, stderr); err != nil {
			return exitFail
		}
		return exitOK
	},
}
