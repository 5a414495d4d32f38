package compiler

// This file parses the standard library once per process: every Check
// (and every keystroke in `encc lsp`) needs the prelude, and parsing it
// was most of the time of checking a file. The syntax trees are shared
// read-only between checks, which never modify a tree. They are not even
// parsed once: stdlib_trees.go holds them as Go, generated at build time
// (TestStdlibTrees keeps it current), and a file is parsed only where its
// source is not the one the tree was generated from. After a change of a
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
	src  string            // the source the tree is of
	tree func() *lang.File // builds it
}

// spanIn and posIn return the constructors of positions in file that
// stdlib_trees.go uses.
func spanIn(file string) func(o1, l1, c1, o2, l2, c2 int) lang.Span {
	return func(o1, l1, c1, o2, l2, c2 int) lang.Span {
		return lang.Span{Start: diag.Pos{File: file, Offset: o1, Line: l1, Col: c1}, EndPos: diag.Pos{File: file, Offset: o2, Line: l2, Col: c2}}
	}
}

func posIn(file string) func(o, l, c int) diag.Pos {
	return func(o, l, c int) diag.Pos { return diag.Pos{File: file, Offset: o, Line: l, Col: c} }
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
		f := g.tree()
		stdlibTrees.Store(name, &parsed{g.src, f, nil})
		return f, nil
	}
	f, errs := lang.Parse(name, src)
	stdlibTrees.Store(name, &parsed{string(src), f, errs})
	return f, errs
}
