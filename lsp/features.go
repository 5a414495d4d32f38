package lsp

// This file implements the requests: hover, definition, completion,
// document symbols and formatting.

import (
	"fmt"
	"sort"
	"strings"

	"github.com/encc-lang/encc/compiler"
	"github.com/encc-lang/encc/lang"
)

// root returns the checked AST of a document and its program.
func (s *Server) root(d *document) (*lang.File, *compiler.Program) {
	if d == nil || d.prog == nil {
		return nil, nil
	}
	return d.prog.Root, d.prog
}

// hover shows the type of the expression under the cursor, or the
// signature and documentation of a built-in.
func (s *Server) hover(p positionParams) *Hover {
	d := s.doc(p.TextDocument.URI)
	f, prog := s.root(d)
	if f == nil {
		return nil
	}
	off := offsetOf(d.text, p.Position)
	path := lang.PathTo(f, off)
	for i := len(path) - 1; i >= 0; i-- {
		n := path[i]
		text := s.describe(prog, n)
		if text == "" {
			continue
		}
		r := s.nodeRange(d, n)
		return &Hover{Contents: MarkupContent{Kind: "markdown", Value: text}, Range: &r}
	}
	return nil
}

func (s *Server) describe(prog *compiler.Program, n lang.Node) string {
	id, isIdent := n.(*lang.Ident)
	if v, ok := prog.Types[n]; ok {
		desc := compiler.Describe(v)
		if desc == "" || desc == "invalid" {
			return ""
		}
		name := ""
		if isIdent {
			name = id.Name + ": "
		}
		out := "```enc\n" + name + desc + "\n```"
		if doc := compiler.Doc(v); doc != "" {
			out += "\n\n" + doc
		}
		return out
	}
	if isIdent {
		if e, ok := compiler.Lookup(id.Name); ok {
			out := "```enc\n" + e.Signature() + "\n```\n\n" + e.Doc
			if e.Sig != "" {
				out += "\n\nShape: `" + e.Sig + "`"
			}
			return out
		}
	}
	switch n := n.(type) {
	case *lang.ModelDecl:
		for _, m := range prog.Models {
			if m.Decl == n && m.Default != nil {
				return "```enc\n" + compiler.Describe(&compiler.InstanceV{I: m.Default}) + "\n```"
			}
		}
	case *lang.TrainDecl:
		if tr := prog.Train(n.Name.Name); tr != nil {
			return fmt.Sprintf("```enc\ntrain %s: %s on %s, %d epochs, batch %d\n```", tr.Name, tr.Model.String(), tr.Data.Name, tr.Epochs, tr.Batch)
		}
	}
	return ""
}

// definition jumps from a name to its declaration, and from an import to
// the imported file.
func (s *Server) definition(p positionParams) []Location {
	d := s.doc(p.TextDocument.URI)
	f, prog := s.root(d)
	if f == nil {
		return nil
	}
	off := offsetOf(d.text, p.Position)
	path := lang.PathTo(f, off)
	for i := len(path) - 1; i >= 0; i-- {
		switch n := path[i].(type) {
		case *lang.Ident:
			def, ok := prog.Defs[n]
			if !ok {
				continue
			}
			return []Location{s.location(d, prog, def)}
		case *lang.Import:
			file := importPath(d.path, n.Path)
			return []Location{{URI: pathToURI(file)}}
		}
	}
	return nil
}

func importPath(from, p string) string {
	if strings.HasPrefix(p, "/") {
		return p
	}
	return strings.TrimSuffix(from[:strings.LastIndex(from, "/")+1], "/") + "/" + p
}

// location converts a node of any loaded file to an LSP location; names
// of declarations point at the name.
func (s *Server) location(d *document, prog *compiler.Program, n lang.Node) Location {
	target := n
	switch n := n.(type) {
	case lang.Decl:
		if id := n.DeclName(); id != nil {
			target = id
		}
	case *lang.SubLayer:
		target = n.Name
	case *lang.ParamDecl:
		target = n.Name
	case *lang.AssignStmt:
		target = n.Name
	case *lang.HyperParam:
		target = n.Name
	case *lang.TensorParam:
		target = n.Name
	}
	file := target.Pos().File
	text := d.text
	uri := d.uri
	if file != d.path {
		uri = pathToURI(file)
		if src := prog.Source(file); src != nil {
			text = string(src)
		} else if b, err := compiler.ReadSource(file); err == nil {
			text = string(b)
		}
	}
	return Location{URI: uri, Range: Range{positionOf(text, target.Pos().Offset), positionOf(text, target.End().Offset)}}
}

var keywordList = []string{"model", "dataset", "train", "const", "import", "forward", "param", "buffer",
	"return", "if", "else", "phase", "freeze", "unfreeze", "lr_scale", "and", "or", "not", "true", "false"}

// completion offers members after a dot, named arguments inside a call,
// and otherwise every name in scope.
func (s *Server) completion(p positionParams) *CompletionList {
	d := s.doc(p.TextDocument.URI)
	if d == nil {
		return &CompletionList{}
	}
	off := offsetOf(d.text, p.Position)
	start := off
	for start > 0 && isWordByte(d.text[start-1]) {
		start--
	}
	prefix := d.text[start:off]
	f, prog := s.root(d)
	var items []CompletionItem
	add := func(it CompletionItem) {
		if strings.HasPrefix(it.Label, prefix) {
			items = append(items, it)
		}
	}
	// After a dot: members of the value before it.
	if start > 0 && d.text[start-1] == '.' && f != nil {
		for _, m := range s.membersBefore(f, prog, start-1) {
			add(CompletionItem{Label: m, Kind: kindField})
		}
		return &CompletionList{Items: items}
	}
	// Inside a call: named arguments of the callee.
	if f != nil {
		for _, name := range s.namedArgs(f, prog, off) {
			add(CompletionItem{Label: name, Kind: kindProperty, InsertText: name + ": ", Detail: "argument", SortText: "0" + name})
		}
	}
	for _, e := range compiler.Entries() {
		add(CompletionItem{Label: e.Name, Kind: entryKind(e), Detail: e.Signature(), Documentation: e.Doc,
			InsertText: snippet(e), InsertTextFormat: formatSnippet, SortText: "2" + e.Name})
	}
	if prog != nil {
		for _, f := range prog.Root.Decls {
			if id := f.DeclName(); id != nil {
				add(CompletionItem{Label: id.Name, Kind: kindClass, Detail: declWord(f), SortText: "1" + id.Name})
			}
		}
		for _, name := range s.locals(prog, off) {
			add(CompletionItem{Label: name, Kind: kindVariable, SortText: "0" + name})
		}
	}
	for _, k := range keywordList {
		add(CompletionItem{Label: k, Kind: kindKeyword, SortText: "3" + k})
	}
	for _, k := range compiler.TrainFields() {
		add(CompletionItem{Label: k, Kind: kindField, Detail: "train field", InsertText: k + " = ", SortText: "4" + k})
	}
	items = dedupe(items)
	sort.SliceStable(items, func(i, j int) bool {
		if items[i].SortText != items[j].SortText {
			return items[i].SortText < items[j].SortText
		}
		return items[i].Label < items[j].Label
	})
	return &CompletionList{Items: items}
}

func dedupe(items []CompletionItem) []CompletionItem {
	seen := map[string]bool{}
	out := items[:0]
	for _, it := range items {
		if !seen[it.Label] {
			seen[it.Label] = true
			out = append(out, it)
		}
	}
	return out
}

func declWord(d lang.Decl) string {
	switch d.(type) {
	case *lang.ModelDecl:
		return "model"
	case *lang.DatasetDecl:
		return "dataset"
	case *lang.TrainDecl:
		return "train"
	}
	return "const"
}

func entryKind(e *compiler.Entry) int {
	switch e.Kind {
	case compiler.KLayer:
		return kindClass
	case compiler.KOptimizer, compiler.KSource:
		return kindStruct
	case compiler.KOption, compiler.KMetric:
		return kindValue
	}
	return kindFunction
}

// snippet inserts a built-in with placeholders for its required arguments.
func snippet(e *compiler.Entry) string {
	var parts []string
	i := 1
	for _, p := range append(append([]compiler.ParamSpec(nil), e.In...), e.Params...) {
		if p.Default != nil || p.Optional {
			continue
		}
		if e.Kind == compiler.KLayer || len(parts) > 0 || len(e.In) == 0 {
			parts = append(parts, fmt.Sprintf("${%d:%s}", i, p.Name))
		} else {
			parts = append(parts, fmt.Sprintf("${%d:%s}", i, p.Name))
		}
		i++
	}
	switch e.Kind {
	case compiler.KOption, compiler.KMetric:
		if len(parts) == 0 {
			return e.Name
		}
	}
	return e.Name + "(" + strings.Join(parts, ", ") + ")"
}

// membersBefore finds the expression ending at the dot and lists its
// members.
func (s *Server) membersBefore(f *lang.File, prog *compiler.Program, dot int) []string {
	var best lang.Node
	lang.Inspect(f, func(n lang.Node) bool {
		if n == nil {
			return false
		}
		if n.End().Offset == dot {
			if _, ok := prog.Types[n]; ok {
				best = n
			}
		}
		return n.Pos().Offset <= dot
	})
	if best == nil {
		return nil
	}
	return compiler.Members(prog.Types[best])
}

// namedArgs lists the argument names of the innermost call around off.
func (s *Server) namedArgs(f *lang.File, prog *compiler.Program, off int) []string {
	path := lang.PathTo(f, off)
	for i := len(path) - 1; i >= 0; i-- {
		call, ok := path[i].(*lang.CallExpr)
		if !ok || off <= call.Fun.End().Offset {
			continue
		}
		name, ok := lang.DottedName(call.Fun)
		if !ok {
			return nil
		}
		if e, ok := compiler.Lookup(name); ok {
			var out []string
			for _, p := range e.Params {
				out = append(out, p.Name)
			}
			return out
		}
		return prog.ModelParams(name)
	}
	return nil
}

// locals lists names bound before off in the enclosing forward or train:
// forward parameters and assignments, hyper-parameters, members, and in a
// train the model and the data fields.
func (s *Server) locals(prog *compiler.Program, off int) []string {
	var out []string
	for _, decl := range prog.Root.Decls {
		if off < decl.Pos().Offset || off > decl.End().Offset {
			continue
		}
		switch decl := decl.(type) {
		case *lang.ModelDecl:
			for _, hp := range decl.Params {
				out = append(out, hp.Name.Name)
			}
			lang.Inspect(decl, func(n lang.Node) bool {
				switch n := n.(type) {
				case *lang.SubLayer:
					out = append(out, n.Name.Name)
				case *lang.ParamDecl:
					out = append(out, n.Name.Name)
				case *lang.TensorParam:
					out = append(out, n.Name.Name)
				case *lang.AssignStmt:
					if n.Pos().Offset < off {
						out = append(out, n.Name.Name)
					}
				}
				return n != nil
			})
		case *lang.TrainDecl:
			out = append(out, "model")
			if tr := prog.Train(decl.Name.Name); tr != nil {
				for _, f := range tr.Data.Fields {
					out = append(out, f.Name)
				}
			}
		}
	}
	sort.Strings(out)
	return out
}

// symbols is the outline: declarations and their members.
func (s *Server) symbols(uri string) []DocumentSymbol {
	d := s.doc(uri)
	if d == nil || d.file == nil {
		return []DocumentSymbol{}
	}
	out := []DocumentSymbol{}
	sym := func(name, detail string, kind int, n, sel lang.Node) DocumentSymbol {
		return DocumentSymbol{Name: name, Detail: detail, Kind: kind, Range: s.nodeRange(d, n), SelectionRange: s.nodeRange(d, sel)}
	}
	for _, decl := range d.file.Decls {
		id := decl.DeclName()
		if id == nil {
			continue
		}
		switch decl := decl.(type) {
		case *lang.ModelDecl:
			ds := sym(id.Name, "model", symClass, decl, id)
			var members func([]lang.Member)
			members = func(ms []lang.Member) {
				for _, m := range ms {
					switch m := m.(type) {
					case *lang.SubLayer:
						ds.Children = append(ds.Children, sym(m.Name.Name, textOf(d, m.Value), symField, m, m.Name))
					case *lang.ParamDecl:
						ds.Children = append(ds.Children, sym(m.Name.Name, textOf(d, m.Type), symProperty, m, m.Name))
					case *lang.ForwardDecl:
						ds.Children = append(ds.Children, sym("forward", "", symMethod, m, m))
					case *lang.IfMember:
						members(m.Then)
						members(m.Else)
					}
				}
			}
			members(decl.Members)
			out = append(out, ds)
		case *lang.DatasetDecl:
			ds := sym(id.Name, "dataset", symModule, decl, id)
			for _, f := range decl.Fields {
				ds.Children = append(ds.Children, sym(f.Name.Name, textOf(d, f.Value), symField, f, f.Name))
			}
			out = append(out, ds)
		case *lang.TrainDecl:
			ds := sym(id.Name, "train", symFunction, decl, id)
			for _, it := range decl.Items {
				switch it := it.(type) {
				case *lang.Field:
					ds.Children = append(ds.Children, sym(it.Name.Name, textOf(d, it.Value), symField, it, it.Name))
				case *lang.Phase:
					ds.Children = append(ds.Children, sym(it.Name.Name, "phase", symEvent, it, it.Name))
				}
			}
			out = append(out, ds)
		case *lang.ConstDecl:
			out = append(out, sym(id.Name, textOf(d, decl.Value), symConstant, decl, id))
		}
	}
	return out
}

func textOf(d *document, n lang.Node) string {
	a, b := n.Pos().Offset, n.End().Offset
	if a < 0 || b > len(d.text) || a > b {
		return ""
	}
	t := d.text[a:b]
	if i := strings.IndexByte(t, '\n'); i >= 0 {
		t = t[:i] + " …"
	}
	return t
}

// format returns one edit replacing the document with `encc fmt`'s
// output, or none when it is already formatted or does not parse.
func (s *Server) format(uri string) []TextEdit {
	d := s.latest(uri)
	if d == nil {
		return nil
	}
	f, errs := lang.Parse(d.path, []byte(d.text))
	if f == nil || errs.HasErrors() {
		return nil
	}
	out := string(lang.KeepLineEndings(lang.Format(f), []byte(d.text)))
	if out == d.text {
		return []TextEdit{}
	}
	return []TextEdit{{Range: Range{Start: Position{}, End: positionOf(d.text, len(d.text))}, NewText: out}}
}
