package compiler

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/encc-lang/encc/internal/diag"
	"github.com/encc-lang/encc/lang"
	"github.com/encc-lang/encc/stdlib"
)

// Options configure Check.
type Options struct {
	// ReadFile reads imported files; nil means os.ReadFile. The LSP passes
	// one that sees unsaved editor buffers.
	ReadFile func(path string) ([]byte, error)
	// NoPrelude leaves the stdlib out of scope (tests of the stdlib itself).
	NoPrelude bool
	// Context, when set, stops a check early once it is done (the LSP
	// cancels the check of a text that has since changed); the Program
	// and diagnostics are then incomplete and should be dropped.
	Context context.Context
	// Resize sets hyper-parameters of a train's model (train name →
	// hyper-parameter → value), overriding its arguments and defaults:
	// the smaller model of structured pruning (runtime/train/structured.go).
	Resize map[string]map[string]int64
}

// cancelled reports whether the caller no longer wants the result.
func (c *checker) cancelled() bool {
	return c.opts != nil && c.opts.Context != nil && c.opts.Context.Err() != nil
}

// A Program is the result of checking one .enc file: its syntax, the
// files it imports, and what the checker learned about every model
// instance, dataset and train.
type Program struct {
	Root     *lang.File            // the file that was checked
	Files    map[string]*lang.File // every parsed file by name, root and imports
	Sources  map[string][]byte     // file texts, for printing diagnostics
	Trains   []*Train              // checked trains of the root file, in order
	Models   []*ModelInfo          // models of the root file, in order
	Datasets []*Dataset            // datasets of the root file, in order
	// VectorTrains are the trains with objective = skipgram(...) of the
	// root file, in order (see vectors.go).
	VectorTrains []*VectorsTrain

	// Types maps expressions of the root file to the value the checker
	// computed for them (hover); filled for instances checked with
	// default hyper-parameters and for trains.
	Types map[lang.Node]Value
	// Defs maps identifiers of the root file (and its imports) to the
	// node that declares what they name (go-to-definition).
	Defs map[*lang.Ident]lang.Node

	c *checker
}

// A ModelInfo describes one model declaration of the root file.
type ModelInfo struct {
	Name string
	Decl *lang.ModelDecl
	// Default is the instance with default hyper-parameters, when every
	// hyper-parameter has a default; nil otherwise.
	Default *Instance
}

// CheckFile reads and checks the file at path.
func CheckFile(path string, opts *Options) (*Program, diag.List) {
	src, err := readFile(opts, path)
	if err != nil {
		var l diag.List
		l.Errorf(diag.Pos{File: path}, "cannot read file: %v", unwrapPathErr(err))
		return nil, l
	}
	return Check(path, src, opts)
}

func readFile(opts *Options, path string) ([]byte, error) {
	if opts != nil && opts.ReadFile != nil {
		return opts.ReadFile(path)
	}
	return ReadSource(path)
}

// MaxSourceSize is the largest .enc file ReadSource reads.
const MaxSourceSize = 64 << 20

// ReadSource reads the .enc file at path, the way Check reads imports: only
// a regular file (a device such as /dev/zero or a FIFO never ends or
// blocks) of at most MaxSourceSize bytes.
func ReadSource(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		what := "not a regular file"
		if st.IsDir() {
			what = "is a directory"
		}
		return nil, &os.PathError{Op: "read", Path: path, Err: errors.New(what)}
	}
	if st.Size() > MaxSourceSize {
		return nil, &os.PathError{Op: "read", Path: path, Err: fmt.Errorf("file too large (%d bytes; the limit is %d MiB)", st.Size(), MaxSourceSize>>20)}
	}
	// The file may grow while it is read: read at most one byte more
	// than the limit to notice.
	b, err := io.ReadAll(io.LimitReader(f, MaxSourceSize+1))
	if err != nil {
		return nil, err
	}
	if len(b) > MaxSourceSize {
		return nil, &os.PathError{Op: "read", Path: path, Err: fmt.Errorf("file too large (the limit is %d MiB)", MaxSourceSize>>20)}
	}
	return b, nil
}

func unwrapPathErr(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}

// Check parses and checks src, the text of the file filename. The
// returned Program is nil only when the root file does not parse.
func Check(filename string, src []byte, opts *Options) (*Program, diag.List) {
	c := newChecker(opts)
	p := &Program{Files: c.files, Sources: c.sources, Types: c.types, Defs: c.defs, c: c}
	c.prog = p
	root := c.loadFile(filename, src, diag.Pos{})
	if root == nil {
		c.diags.Sort()
		return nil, c.diags
	}
	p.Root = root.ast
	c.root = root
	c.checkRoot(root)
	c.diags.Sort()
	return p, c.diags
}

// A checker holds the state of one Check call.
type checker struct {
	opts     *Options
	resize   map[string]int64 // Options.Resize of the train whose model is being instantiated
	resizeAt lang.Node        // the train's model expression, where resize applies
	prog     *Program
	files    map[string]*lang.File
	sources  map[string][]byte
	scopes   map[string]*fileScope // by file name
	loading  []importStep          // files being loaded, root first (import cycle detection)
	prelude  *scope
	root     *fileScope
	diags    diag.List
	types    map[lang.Node]Value
	defs     map[*lang.Ident]lang.Node

	// recording is on while checking root-file code whose values the
	// LSP may hover.
	recording bool
	// instantiation stack: where the model being checked was created.
	sites []site
	memo  map[string]*forwardResult
	// tr, when set, records each layer call (encc summary).
	tr *tracer
	// lw, when set, lowers tensor operations to IR.
	lw *lowerer
	// flops accumulates the forward FLOPs of the traced layer.
	flops *Dim
	// depth guards recursive models.
	depth int
}

type site struct {
	pos  diag.Pos
	desc string
}

func newChecker(opts *Options) *checker {
	c := &checker{
		opts:    opts,
		files:   map[string]*lang.File{},
		sources: map[string][]byte{},
		scopes:  map[string]*fileScope{},
		types:   map[lang.Node]Value{},
		defs:    map[*lang.Ident]lang.Node{},
		memo:    map[string]*forwardResult{},
	}
	c.prelude = newScope(builtinScope)
	if opts == nil || !opts.NoPrelude {
		c.loadPrelude()
	}
	return c
}

// errorf reports an error, with a note naming the instantiation site when
// the error is inside a model instantiated elsewhere.
func (c *checker) errorf(pos diag.Pos, format string, args ...any) *diag.Diagnostic {
	d := c.diags.Errorf(pos, format, args...)
	if n := len(c.sites); n > 0 && c.sites[n-1].pos.IsValid() {
		s := c.sites[n-1]
		d.WithNote(s.pos, "%s", s.desc)
	}
	return d
}

// errorAt reports an error spanning a node.
func (c *checker) errorAt(n lang.Node, format string, args ...any) *diag.Diagnostic {
	return c.errorf(n.Pos(), format, args...).WithEnd(n.End())
}

// ---------------------------------------------------------------------
// Files, imports and scopes

// A fileScope is the top-level scope of one file.
type fileScope struct {
	name  string
	ast   *lang.File
	scope *scope
	decls []any // *modelDecl, *datasetDecl, *trainDecl, *constDecl in order
}

// A scope maps names to bindings; lookups walk to the parent.
type scope struct {
	parent *scope
	names  map[string]*binding
	// incomplete is set on a file's scope when one of its imports
	// failed: a name it does not know may be one the import declares.
	incomplete bool
}

// A binding is a name bound to a value, with where it was declared.
type binding struct {
	v    Value
	pos  diag.Pos
	lazy *constDecl // a const evaluated on first use
	node lang.Node  // declaring node, for go-to-definition
}

func newScope(parent *scope) *scope { return &scope{parent: parent, names: map[string]*binding{}} }

func (s *scope) lookup(name string) *binding {
	for ; s != nil; s = s.parent {
		if b, ok := s.names[name]; ok {
			return b
		}
	}
	return nil
}

// allNames lists every name visible from s, for suggestions.
func (s *scope) allNames() []string {
	seen := map[string]bool{}
	var out []string
	for ; s != nil; s = s.parent {
		ks := sortedKeys(s.names)
		for _, k := range ks {
			if !seen[k] {
				seen[k] = true
				out = append(out, k)
			}
		}
	}
	return out
}

type modelDecl struct {
	name      string
	decl      *lang.ModelDecl
	file      *fileScope
	instances int // how many times it was instantiated
}

type datasetDecl struct {
	name string
	decl *lang.DatasetDecl
	file *fileScope
	ds   *Dataset // checked, nil until then
	busy bool
}

type trainDecl struct {
	name string
	decl *lang.TrainDecl
	file *fileScope
	tr   *Train
	vt   *VectorsTrain // a train with an objective (vectors.go)
	busy bool
}

type constDecl struct {
	decl  *lang.ConstDecl
	file  *fileScope
	state int // 0 new, 1 evaluating, 2 done
	val   Value
}

// keywords may not be used as names of declarations or bindings.
var keywords = map[string]bool{
	"model": true, "dataset": true, "train": true, "const": true, "import": true,
	"forward": true, "param": true, "buffer": true, "return": true, "if": true,
	"else": true, "phase": true, "freeze": true, "unfreeze": true, "lr_scale": true,
	"and": true, "or": true, "not": true, "true": true, "false": true,
}

func (c *checker) loadPrelude() {
	names, err := stdlib.Files()
	if err != nil {
		panic("stdlib: " + err.Error())
	}
	for _, name := range names {
		src, _ := stdlib.Source(name)
		fs := c.parseFile("stdlib/"+name, src, diag.Pos{})
		if fs == nil {
			continue
		}
		for k, b := range fs.scope.names {
			if _, dup := c.prelude.names[k]; !dup {
				c.prelude.names[k] = b
			}
		}
	}
}

// An importStep is one file being loaded and the import that led to it.
type importStep struct {
	file string
	at   diag.Pos // the import's path in the importing file; invalid for the root
}

// importCycle reports whether importing path at pos closes a cycle of
// imports. If so it reports the cycle once, at the import line of the
// checked (root) file that leads into it, with the whole chain, and a
// note at the import that closes it.
func (c *checker) importCycle(path string, pos diag.Pos) bool {
	start := -1
	for i, st := range c.loading {
		if filepath.Clean(st.file) == filepath.Clean(path) {
			start = i
			break
		}
	}
	if start < 0 {
		return false
	}
	chain := make([]string, 0, len(c.loading)-start+1)
	for _, st := range c.loading[start:] {
		chain = append(chain, st.file)
	}
	chain = append(chain, path)
	at := pos
	if len(c.loading) > 1 {
		at = c.loading[1].at // the root's import that leads here
	}
	d := c.errorf(at, "import cycle: %s", chain[0]+" imports "+strings.Join(chain[1:], ", which imports "))
	if at != pos {
		d.WithNote(pos, "%s imports %s here", c.loading[len(c.loading)-1].file, path)
	}
	return true
}

// loadFile parses a file and, recursively, its imports, and declares its
// names. from is the import's position (invalid for the root).
func (c *checker) loadFile(name string, src []byte, from diag.Pos) *fileScope {
	return c.parseFile(name, src, from)
}

func (c *checker) parseFile(name string, src []byte, from diag.Pos) *fileScope {
	if fs, ok := c.scopes[name]; ok {
		return fs
	}
	c.sources[name] = src
	if c.cancelled() {
		return nil
	}
	f, errs := parse(name, src)
	for _, d := range errs {
		c.diags.Add(d)
	}
	if f == nil || errs.HasErrors() {
		return nil
	}
	c.files[name] = f
	fs := &fileScope{name: name, ast: f, scope: newScope(c.prelude)}
	c.scopes[name] = fs
	c.loading = append(c.loading, importStep{file: name, at: from})
	defer func() { c.loading = c.loading[:len(c.loading)-1] }()

	// Imports first: their declarations are visible in this file.
	for _, imp := range f.Imports {
		path := imp.Path
		if !filepath.IsAbs(path) {
			path = filepath.Join(filepath.Dir(name), path)
		}
		if c.importCycle(path, imp.PathPos) {
			fs.scope.incomplete = true
			continue
		}
		isrc, err := readFile(c.opts, path)
		if err != nil {
			c.errorf(imp.PathPos, "cannot import %q: %v", imp.Path, unwrapPathErr(err))
			fs.scope.incomplete = true
			continue
		}
		ifs := c.parseFile(path, isrc, imp.PathPos)
		if ifs == nil {
			fs.scope.incomplete = true
			continue
		}
		for _, k := range sortedKeys(ifs.scope.names) {
			b := ifs.scope.names[k]
			if old, dup := fs.scope.names[k]; dup && old != b {
				c.errorf(imp.PathPos, "import %q redeclares %q", imp.Path, k).WithNote(old.pos, "%s declared here", k)
				continue
			}
			fs.scope.names[k] = b
		}
	}
	for _, d := range f.Decls {
		id := d.DeclName()
		if id == nil {
			continue
		}
		if keywords[id.Name] {
			c.errorAt(id, "%q is a keyword and cannot name a declaration", id.Name)
			continue
		}
		if _, isBuiltin := builtinScope.names[id.Name]; isBuiltin {
			c.errorAt(id, "%q is a built-in and cannot be redeclared", id.Name)
			continue
		}
		b := &binding{pos: id.Pos(), node: d}
		switch d := d.(type) {
		case *lang.ModelDecl:
			md := &modelDecl{name: id.Name, decl: d, file: fs}
			b.v = &ModelV{md}
			fs.decls = append(fs.decls, md)
		case *lang.DatasetDecl:
			dd := &datasetDecl{name: id.Name, decl: d, file: fs}
			b.v = &DatasetV{dd}
			fs.decls = append(fs.decls, dd)
		case *lang.TrainDecl:
			td := &trainDecl{name: id.Name, decl: d, file: fs}
			b.v = &TrainV{td}
			fs.decls = append(fs.decls, td)
		case *lang.ConstDecl:
			cd := &constDecl{decl: d, file: fs}
			b.lazy = cd
			fs.decls = append(fs.decls, cd)
		}
		if old, dup := fs.scope.names[id.Name]; dup {
			c.errorAt(id, "%q redeclared", id.Name).WithNote(old.pos, "other declaration of %s", id.Name)
			continue
		}
		fs.scope.names[id.Name] = b
	}
	return fs
}

// value returns the value of a binding, evaluating a const on first use.
func (c *checker) value(b *binding, use diag.Pos) Value {
	if b.lazy == nil {
		return b.v
	}
	cd := b.lazy
	switch cd.state {
	case 1:
		c.errorf(use, "const %s refers to itself", cd.decl.Name.Name).WithNote(cd.decl.Name.Pos(), "%s declared here", cd.decl.Name.Name)
		return InvalidV{}
	case 2:
		return cd.val
	}
	cd.state = 1
	env := &env{sc: cd.file.scope, hyper: true}
	v := c.eval(cd.decl.Value, env)
	switch v.(type) {
	case IntV, FloatV, BoolV, StrV, *ListV, *MapV, InvalidV:
	default:
		c.errorAt(cd.decl.Value, "const %s must be a number, bool, string, list or map, not a %s", cd.decl.Name.Name, v.Kind())
		v = InvalidV{}
	}
	cd.val, cd.state = v, 2
	return v
}

// checkRoot checks every declaration of the root file.
func (c *checker) checkRoot(fs *fileScope) {
	c.recording = true
	defer func() { c.recording = false }()
	for _, d := range fs.decls {
		if c.cancelled() {
			return
		}
		switch d := d.(type) {
		case *constDecl:
			c.value(fs.scope.names[d.decl.Name.Name], d.decl.Pos())
		case *modelDecl:
			c.prog.Models = append(c.prog.Models, c.checkModelDecl(d))
		case *datasetDecl:
			if ds := c.checkDataset(d); ds != nil {
				c.prog.Datasets = append(c.prog.Datasets, ds)
			}
		case *trainDecl:
			if tr := c.checkTrain(d); tr != nil {
				c.prog.Trains = append(c.prog.Trains, tr)
			} else if d.vt != nil {
				c.prog.VectorTrains = append(c.prog.VectorTrains, d.vt)
			}
		}
	}
	// Models nothing instantiated: their names must still resolve.
	for _, d := range fs.decls {
		if m, ok := d.(*modelDecl); ok && m.instances == 0 {
			c.resolveModel(m)
		}
	}
}

// Model returns the model declaration named name, visible from the root
// file (root, imports or stdlib), or nil.
func (p *Program) model(name string) *modelDecl {
	b := p.c.root.scope.lookup(name)
	if b == nil {
		return nil
	}
	if m, ok := b.v.(*ModelV); ok {
		return m.M
	}
	return nil
}

// Train returns the checked train named name, or nil.
func (p *Program) Train(name string) *Train {
	for _, t := range p.Trains {
		if t.Name == name {
			return t
		}
	}
	return nil
}

// ModelNames lists the models visible from the root file, root first.
func (p *Program) ModelNames() []string {
	var out []string
	for _, m := range p.Models {
		out = append(out, m.Name)
	}
	return out
}

// Source returns the text of a file by name, for diag.Print.
func (p *Program) Source(file string) []byte { return p.Sources[file] }

// Lookup resolves a name in the root file's scope (for the LSP).
func (p *Program) Lookup(name string) (Value, lang.Node, bool) {
	b := p.c.root.scope.lookup(name)
	if b == nil {
		return nil, nil, false
	}
	return b.v, b.node, true
}

// rootNames lists names declared in the root file (for suggestions).
func (c *checker) rootNames() []string {
	var out []string
	for k := range c.root.scope.names {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func quoteList(names []string) string {
	return strings.Join(names, ", ")
}
