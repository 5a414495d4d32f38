package compiler

// This file parses the standard library once per process: every Check
// (and every keystroke in `encc lsp`) needs the prelude, and parsing it
// was most of the time of checking a file. The syntax trees are shared
// read-only between checks, which never modify a tree.

import (
	"strings"
	"sync"

	"github.com/encc-lang/encc/internal/diag"
	"github.com/encc-lang/encc/lang"
)

type parsed struct {
	src  string
	file *lang.File
	errs diag.List
}

var stdlibTrees sync.Map // name → *parsed

// parse parses src as name. A stdlib file ("stdlib/…") is parsed once and
// its tree reused while the source is the same (a user's file that
// happens to be called stdlib/… is compared, so it is never stale).
func parse(name string, src []byte) (*lang.File, diag.List) {
	if !strings.HasPrefix(name, "stdlib/") {
		return lang.Parse(name, src)
	}
	if v, ok := stdlibTrees.Load(name); ok && v.(*parsed).src == string(src) {
		return v.(*parsed).file, v.(*parsed).errs
	}
	f, errs := lang.Parse(name, src)
	stdlibTrees.Store(name, &parsed{string(src), f, errs})
	return f, errs
}
