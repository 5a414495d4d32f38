package compiler

// This file parses the standard library once per process: every Check
// (and every keystroke in `encc lsp`) needs the prelude, and parsing it
// was most of the time of checking a file. The syntax trees are shared
// read-only between checks, which never modify a tree. They are not even
// parsed once: stdlib_trees.go holds them as Go composite literals,
// generated at build time (TestStdlibTrees keeps it current), which the
// Go compiler lays out in the binary's data, so a process neither parses
// nor builds them; a file is parsed only where its source is not the one
// the tree was generated from. After a change of a
// stdlib file, run go generate ./compiler; after a change of the syntax
// tree's types that leaves stdlib_trees.go not compiling, first replace
// it with "package compiler\n\nvar generatedStdlib =
// map[string]generatedTree{}\n" (no trees: every file is parsed).

import (
	"strings"
	"sync"

	"github.com/encc-lang/encc/internal/diag"
	"github.com/encc-lang/encc/lang"
)

//go:generate go test -run TestStdlibTrees -update

// A generatedTree is the syntax tree of a stdlib file, as Go.
type generatedTree struct {
	src  string     // the source the tree is of
	tree *lang.File // shared, never modified
}

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
	if g, ok := generatedStdlib[name]; ok && g.src == string(src) {
		stdlibTrees.Store(name, &parsed{g.src, g.tree, nil})
		return g.tree, nil
	}
	f, errs := lang.Parse(name, src)
	stdlibTrees.Store(name, &parsed{string(src), f, errs})
	return f, errs
}
