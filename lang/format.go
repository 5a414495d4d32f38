package lang

import (
	"bytes"
	"sort"
	"strconv"
	"strings"

	"github.com/encc-lang/encc/internal/diag"
)

// This file implements Format, the canonical printer behind `encc fmt`.
//
// Layout: 4-space indentation; one blank line between top-level
// declarations (consecutive consts keep their grouping); blank lines
// inside bodies kept, collapsed to one; a body written on one line with at
// most one item and no comment stays on one line; in runs of consecutive
// one-line `name = value` items the `=` signs are aligned, and in runs of
// param/buffer declarations the types and `=` signs too, gofmt style
// (a blank line or an item of another kind ends a run; comment lines do
// not). Expressions get canonical spacing and keep the parentheses and
// the line breaks between list elements and around binary operators that
// the source has. Every comment is kept: trailing ones on their line,
// others on their own line. Layout decisions read only source line
// numbers that the output preserves, which makes Format idempotent.

// Format prints f in canonical form.
func Format(f *File) []byte {
	p := &printer{comments: f.Comments, lineStart: true}
	p.file(f)
	return p.out
}

type printer struct {
	out       []byte
	comments  []*Comment
	ci        int  // next comment to print
	indent    int  // spaces at the start of a new line
	col       int  // column of the next byte, 0-based
	lastLine  int  // source line where the last printed element ends
	lineStart bool // nothing written on the current output line yet
	needNL    bool // a line comment was written: break before more text
	spaceNext bool // a block comment was written inline: space before a token
	wantBlank bool // the next own-line element gets a blank line before it
}

// ---------------------------------------------------------------------
// Output primitives

func (p *printer) write(s string) {
	if s == "" {
		return
	}
	if p.needNL {
		p.newline()
		p.needNL = false
	}
	if p.lineStart {
		p.out = append(p.out, strings.Repeat(" ", p.indent)...)
		p.col = p.indent
		p.lineStart = false
	} else if p.spaceNext && !strings.ContainsAny(s[:1], ",)]}") && !strings.HasPrefix(s, " ") {
		p.out = append(p.out, ' ')
		p.col++
	}
	p.spaceNext = false
	p.out = append(p.out, s...)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		p.col = len(s) - i - 1
	} else {
		p.col += len(s)
	}
}

// tok writes s, the text of a source element that ends on line.
func (p *printer) tok(s string, end diag.Pos) {
	p.write(s)
	if end.Line > p.lastLine {
		p.lastLine = end.Line
	}
}

func (p *printer) newline() {
	p.needNL = false
	p.spaceNext = false
	if !p.lineStart {
		p.out = append(p.out, '\n')
		p.lineStart = true
		p.col = 0
	}
}

func (p *printer) blank() {
	p.newline()
	if len(p.out) > 0 && !strings.HasSuffix(string(p.out[max(0, len(p.out)-2):]), "\n\n") {
		p.out = append(p.out, '\n')
	}
}

// lineBreak starts a new output line for an element that begins on
// source line `line`, with a blank line before it when the source has one
// (or wantBlank asks for one).
func (p *printer) lineBreak(line int) {
	p.newline()
	if len(p.out) > 0 && (p.wantBlank || (p.lastLine > 0 && p.blankBetween(p.lastLine, line))) {
		p.blank()
	}
	p.wantBlank = false
}

// blankBetween reports whether a source line strictly between lines a and
// b holds neither code nor comment.
func (p *printer) blankBetween(a, b int) bool {
	if b-a < 2 {
		return false
	}
	// Comments are sorted; find those that overlap (a, b).
	i := sort.Search(len(p.comments), func(i int) bool { return p.comments[i].End().Line > a })
	next := a + 1
	for ; i < len(p.comments) && p.comments[i].Pos().Line < b; i++ {
		c := p.comments[i]
		if c.Pos().Line > next {
			return true
		}
		next = max(next, c.End().Line+1)
	}
	return next < b
}

// hasComment reports whether a comment starts in [start, end).
func (p *printer) hasComment(start, end int) bool {
	i := sort.Search(len(p.comments), func(i int) bool { return p.comments[i].Pos().Offset >= start })
	return i < len(p.comments) && p.comments[i].Pos().Offset < end
}

// comments prints the comments that start before offset off: on the
// current line when the source has them on the line of the last printed
// element, else on their own lines.
func (p *printer) flush(off int) {
	for p.ci < len(p.comments) && p.comments[p.ci].Pos().Offset < off {
		c := p.comments[p.ci]
		p.ci++
		if !p.lineStart && !p.needNL && c.Pos().Line == p.lastLine {
			p.spaceNext = false
			p.write(" " + c.Text)
		} else {
			p.lineBreak(c.Pos().Line)
			p.write(c.Text)
		}
		p.lastLine = c.End().Line
		if strings.HasPrefix(c.Text, "//") {
			p.needNL = true
		} else {
			p.spaceNext = true
		}
	}
}

// trailing prints the comments that start on the line where the last
// printed element ends and before offset limit.
func (p *printer) trailing(limit int) {
	for p.ci < len(p.comments) {
		c := p.comments[p.ci]
		if c.Pos().Line != p.lastLine || c.Pos().Offset >= limit {
			return
		}
		p.flush(c.Pos().Offset + 1)
	}
}

// ---------------------------------------------------------------------
// Declarations and bodies

func (p *printer) file(f *File) {
	for _, im := range f.Imports {
		p.flush(im.Pos().Offset)
		p.lineBreak(im.Pos().Line)
		p.write("import ")
		p.tok(strconv.Quote(im.Path), im.End())
		p.trailing(f.End().Offset)
	}
	if len(f.Imports) > 0 {
		p.wantBlank = true
	}
	items := make([]Node, len(f.Decls))
	for i, d := range f.Decls {
		items[i] = d
	}
	pads := p.alignment(items, func(q *printer, n Node, pd pad) { q.decl(n.(Decl), pd) })
	for i, d := range f.Decls {
		p.flush(d.Pos().Offset)
		p.lineBreak(d.Pos().Line)
		p.decl(d, pads[i])
		p.trailing(f.End().Offset)
		_, isConst := d.(*ConstDecl)
		nextConst := false
		if i+1 < len(f.Decls) {
			_, nextConst = f.Decls[i+1].(*ConstDecl)
		}
		p.wantBlank = !(isConst && nextConst)
	}
	p.wantBlank = false
	p.flush(f.End().Offset + 1)
	if len(p.out) > 0 {
		p.newline()
	}
}

// A pad aligns one item of a run: spaces after the name (before "=") or,
// for a param/buffer, after the "name:" and after the type.
type pad struct {
	name, typ int
}

// alignClass returns how an item aligns: 1 for `name = value` items, 2
// for param/buffer declarations, 0 for none.
func alignClass(n Node) (int, string) {
	switch n := n.(type) {
	case *Field:
		return 1, n.Name.Name
	case *SubLayer:
		return 1, n.Name.Name
	case *AssignStmt:
		return 1, n.Name.Name
	case *ConstDecl:
		return 1, "const " + n.Name.Name
	case *ParamDecl:
		return 2, paramPrefix(n)
	}
	return 0, ""
}

func paramPrefix(n *ParamDecl) string {
	if n.Buffer {
		return "buffer " + n.Name.Name + ":"
	}
	return "param " + n.Name.Name + ":"
}

// alignment computes the pads of the items of one body; item prints one.
func (p *printer) alignment(items []Node, item func(*printer, Node, pad)) []pad {
	pads := make([]pad, len(items))
	for i := 0; i < len(items); {
		class, _ := alignClass(items[i])
		j := i + 1
		if class != 0 && p.alignable(items[i], class, item) {
			for j < len(items) {
				c, _ := alignClass(items[j])
				if c != class || !p.alignable(items[j], class, item) ||
					p.blankBetween(items[j-1].End().Line, items[j].Pos().Line) {
					break
				}
				j++
			}
		}
		p.alignRun(items[i:j], pads[i:j], class)
		i = j
	}
	return pads
}

// alignable reports whether n can join a run: it prints on one line
// (judged on the output, since the printer joins some lines of the
// source) and, for a param, holds no comment.
func (p *printer) alignable(n Node, class int, item func(*printer, Node, pad)) bool {
	if class == 2 && p.hasComment(n.Pos().Offset, n.End().Offset) {
		return false
	}
	q := &printer{comments: p.comments, lineStart: true}
	q.ci = sort.Search(len(p.comments), func(i int) bool { return p.comments[i].Pos().Offset >= n.Pos().Offset })
	q.lastLine = n.Pos().Line
	item(q, n, pad{})
	return !q.needNL && !strings.Contains(string(q.out), "\n")
}

func (p *printer) alignRun(items []Node, pads []pad, class int) {
	if len(items) < 2 {
		return
	}
	nameW, typeW := 0, 0
	for _, n := range items {
		_, name := alignClass(n)
		nameW = max(nameW, len(name))
		if pd, ok := n.(*ParamDecl); ok && pd.Init != nil {
			typeW = max(typeW, len(typeString(pd.Type)))
		}
	}
	for i, n := range items {
		_, name := alignClass(n)
		pads[i].name = nameW - len(name)
		if pd, ok := n.(*ParamDecl); ok && pd.Init != nil {
			pads[i].typ = typeW - len(typeString(pd.Type))
		}
	}
}

func typeString(t Type) string {
	q := &printer{lineStart: true}
	q.typ(t)
	return string(q.out)
}

// body prints `{ items }`: on one line when the source has it on one line
// with at most one item and no comment, and the item prints on one line
// (a one-line model whose forward has two statements does not: printing
// it on the model's line would not be idempotent), else one item per
// line. close is the offset of the closing brace, or -1 when unknown
// (then the body ends at limit).
func (p *printer) body(items []Node, oneLine bool, start, limit int, item func(q *printer, n Node, pd pad)) {
	if oneLine && len(items) <= 1 && !p.hasComment(start, limit) && (len(items) == 0 || p.alignable(items[0], 0, item)) {
		if len(items) == 0 {
			p.write("{}")
			return
		}
		p.write("{ ")
		item(p, items[0], pad{})
		p.write(" }")
		return
	}
	p.write("{")
	p.trailing(limit)
	saved := p.indent
	p.indent += 4
	pads := p.alignment(items, item)
	for i, n := range items {
		p.flush(n.Pos().Offset)
		p.lineBreak(n.Pos().Line)
		item(p, n, pads[i])
		p.trailing(limit)
	}
	p.flush(limit)
	p.indent = saved
	p.newline()
	p.write("}")
}

func (p *printer) decl(d Decl, pd pad) {
	switch d := d.(type) {
	case *ConstDecl:
		p.write("const ")
		p.ident(d.Name)
		p.assign(d.Value, pd.name)
	case *ModelDecl:
		p.write("model ")
		p.ident(d.Name)
		if d.HasParens {
			nodes := make([]Node, len(d.Params))
			for i, h := range d.Params {
				nodes[i] = h
			}
			p.list("(", ")", d.Name.End(), diag.Pos{}, nodes, func(n Node) { p.hyperParam(n.(*HyperParam)) })
		}
		p.write(" ")
		items := make([]Node, len(d.Members))
		for i, m := range d.Members {
			items[i] = m
		}
		p.body(items, d.Pos().Line == d.End().Line, d.Name.End().Offset, d.End().Offset-1, func(q *printer, n Node, pd pad) {
			q.member(n.(Member), pd)
		})
		p.tok("", d.End())
	case *DatasetDecl:
		p.write("dataset ")
		p.ident(d.Name)
		p.write(" ")
		items := make([]Node, len(d.Fields))
		for i, f := range d.Fields {
			items[i] = f
		}
		p.body(items, d.Pos().Line == d.End().Line, d.Name.End().Offset, d.End().Offset-1, func(q *printer, n Node, pd pad) {
			q.field(n.(*Field), pd)
		})
		p.lastLine = max(p.lastLine, d.End().Line)
	case *TrainDecl:
		p.write("train ")
		p.ident(d.Name)
		p.write(" ")
		items := make([]Node, len(d.Items))
		for i, it := range d.Items {
			items[i] = it
		}
		p.body(items, d.Pos().Line == d.End().Line, d.Name.End().Offset, d.End().Offset-1, func(q *printer, n Node, pd pad) {
			switch n := n.(type) {
			case *Field:
				q.field(n, pd)
			case *Phase:
				q.phase(n)
			}
		})
		p.lastLine = max(p.lastLine, d.End().Line)
	}
	p.lastLine = max(p.lastLine, d.End().Line)
}

func (p *printer) hyperParam(h *HyperParam) {
	p.ident(h.Name)
	if h.Type != nil {
		p.write(": ")
		p.typ(h.Type)
	}
	if h.Default != nil {
		p.write(" = ")
		p.expr(h.Default)
	}
}

// assign prints ` = value` after a name padded by n spaces; line breaks
// inside value indent by one level.
func (p *printer) assign(value Expr, n int) {
	p.write(strings.Repeat(" ", n) + " = ")
	p.cont(func() { p.expr(value) })
}

// cont runs print with continuation lines indented one level deeper.
func (p *printer) cont(print func()) {
	saved := p.indent
	p.indent += 4
	print()
	p.indent = saved
}

func (p *printer) field(f *Field, pd pad) {
	p.ident(f.Name)
	p.assign(f.Value, pd.name)
}

func (p *printer) phase(ph *Phase) {
	p.write("phase ")
	p.ident(ph.Name)
	if ph.Args != nil {
		p.write(" ")
		p.args(ph.Name.End(), diag.Pos{}, ph.Args)
	}
	p.write(" ")
	items := make([]Node, len(ph.Stmts))
	for i, s := range ph.Stmts {
		items[i] = s
	}
	p.body(items, ph.Pos().Line == ph.End().Line, ph.Name.End().Offset, ph.End().Offset-1, func(q *printer, n Node, pd pad) {
		switch n := n.(type) {
		case *Field:
			q.field(n, pd)
		case *Freeze:
			if n.Unfreeze {
				q.write("unfreeze ")
			} else {
				q.write("freeze ")
			}
			for i, pa := range n.Paths {
				if i > 0 {
					q.write(", ")
				}
				q.path(pa)
			}
		case *LRScale:
			q.write("lr_scale ")
			q.path(n.Path)
			q.assign(n.Value, 0)
		}
	})
	p.lastLine = max(p.lastLine, ph.End().Line)
}

func (p *printer) path(pa *Path) {
	p.flush(pa.Pos().Offset)
	if pa.Quoted {
		p.tok(strconv.Quote(pa.Text), pa.End())
	} else {
		p.tok(pa.Text, pa.End())
	}
}

func (p *printer) member(m Member, pd pad) {
	switch m := m.(type) {
	case *SubLayer:
		p.ident(m.Name)
		p.assign(m.Value, pd.name)
	case *ParamDecl:
		p.write(paramPrefix(m)[:len(paramPrefix(m))-len(m.Name.Name)-1])
		p.ident(m.Name)
		p.write(":" + strings.Repeat(" ", pd.name+1))
		p.typ(m.Type)
		if m.Init != nil {
			p.write(strings.Repeat(" ", pd.typ))
			p.assign(m.Init, 0)
		}
	case *ForwardDecl:
		p.write("forward")
		nodes := make([]Node, len(m.Params))
		for i, tp := range m.Params {
			nodes[i] = tp
		}
		p.list("(", ")", m.Pos(), diag.Pos{}, nodes, func(n Node) {
			tp := n.(*TensorParam)
			p.ident(tp.Name)
			p.write(": ")
			p.typ(tp.Type)
			if tp.Default != nil {
				p.write(" = ")
				p.expr(tp.Default)
			}
		})
		p.write(" -> ")
		if m.Named {
			nodes := make([]Node, len(m.Results))
			for i, r := range m.Results {
				nodes[i] = r
			}
			p.list("(", ")", m.Pos(), diag.Pos{}, nodes, func(n Node) {
				r := n.(*Result)
				p.ident(r.Name)
				p.write(": ")
				p.typ(r.Type)
			})
		} else if len(m.Results) > 0 {
			p.typ(m.Results[0].Type)
		}
		p.write(" ")
		p.block(m.Body)
	case *IfMember:
		p.ifMember(m)
	}
}

func (p *printer) ifMember(m *IfMember) {
	p.write("if ")
	p.cont(func() { p.expr(m.Cond) })
	p.write(" ")
	oneLine := m.Pos().Line == m.End().Line
	limit := m.End().Offset - 1
	switch {
	case m.ElseIf != nil:
		limit = m.ElseIf.Pos().Offset
	case len(m.Else) > 0:
		limit = m.Else[0].Pos().Offset
	}
	items := make([]Node, len(m.Then))
	for i, x := range m.Then {
		items[i] = x
	}
	p.body(items, oneLine, m.Cond.End().Offset, limit, func(q *printer, n Node, pd pad) { q.member(n.(Member), pd) })
	switch {
	case m.ElseIf != nil:
		p.write(" else ")
		p.ifMember(m.ElseIf)
	case m.HasElse:
		p.write(" else ")
		items := make([]Node, len(m.Else))
		for i, x := range m.Else {
			items[i] = x
		}
		start := limit
		p.body(items, oneLine, start, m.End().Offset-1, func(q *printer, n Node, pd pad) { q.member(n.(Member), pd) })
	}
	p.lastLine = max(p.lastLine, m.End().Line)
}

func (p *printer) block(b *Block) {
	items := make([]Node, len(b.Stmts))
	for i, s := range b.Stmts {
		items[i] = s
	}
	p.body(items, b.Pos().Line == b.End().Line, b.Pos().Offset, b.End().Offset-1, func(q *printer, n Node, pd pad) {
		q.stmt(n.(Stmt), pd)
	})
	p.lastLine = max(p.lastLine, b.End().Line)
}

func (p *printer) stmt(s Stmt, pd pad) {
	switch s := s.(type) {
	case *AssignStmt:
		p.ident(s.Name)
		p.assign(s.Value, pd.name)
	case *ReturnStmt:
		p.write("return ")
		p.cont(func() { p.expr(s.Value) })
	case *IfStmt:
		p.ifStmt(s)
	}
}

func (p *printer) ifStmt(s *IfStmt) {
	p.write("if ")
	p.cont(func() { p.expr(s.Cond) })
	p.write(" ")
	p.block(s.Then)
	switch {
	case s.ElseIf != nil:
		p.write(" else ")
		p.ifStmt(s.ElseIf)
	case s.Else != nil:
		p.write(" else ")
		p.block(s.Else)
	}
}

// ---------------------------------------------------------------------
// Types and expressions

func (p *printer) typ(t Type) {
	switch t := t.(type) {
	case *ScalarType:
		p.flush(t.Pos().Offset)
		p.tok(t.Name, t.End())
	case *TensorType:
		p.flush(t.Pos().Offset)
		p.write(t.DType)
		nodes := make([]Node, len(t.Dims))
		for i, d := range t.Dims {
			nodes[i] = d
		}
		p.list("[", "]", t.Pos(), diag.Pos{}, nodes, func(n Node) { p.expr(n.(Expr)) })
		p.tok("", t.End())
	}
}

func (p *printer) ident(id *Ident) {
	p.flush(id.Pos().Offset)
	p.tok(id.Name, id.End())
}

// list prints open, the elements separated by ", ", and close. Where the
// source breaks the line between two elements, so does the output: with
// the elements aligned after open when the first element is on the line
// of open, else indented one level. closePos, when valid, puts close on
// its own line when the source has it there.
func (p *printer) list(open, close string, openPos, closePos diag.Pos, elems []Node, elem func(Node)) {
	base := p.lineIndent()
	p.write(open)
	saved := p.indent
	if len(elems) > 0 && elems[0].Pos().Line > openPos.Line && openPos.IsValid() {
		p.indent = base + 4
		p.flush(elems[0].Pos().Offset)
		p.newline()
	} else {
		p.indent = p.col
	}
	for i, e := range elems {
		if i > 0 {
			p.write(",")
			p.flush(e.Pos().Offset)
			if e.Pos().Line > elems[i-1].End().Line {
				p.newline()
			} else {
				p.write(" ")
			}
		}
		elem(e)
	}
	if closePos.IsValid() {
		p.flush(closePos.Offset)
		if len(elems) > 0 && closePos.Line > elems[len(elems)-1].End().Line {
			p.indent = base
			p.newline()
		}
	}
	p.tok(close, closePos)
	p.indent = saved
}

// lineIndent returns the indentation of the current output line.
func (p *printer) lineIndent() int {
	if p.lineStart {
		return p.indent
	}
	i := bytes.LastIndexByte(p.out, '\n') + 1
	n := 0
	for i+n < len(p.out) && p.out[i+n] == ' ' {
		n++
	}
	return n
}

func (p *printer) args(openPos, closePos diag.Pos, args []*Arg) {
	nodes := make([]Node, len(args))
	for i, a := range args {
		nodes[i] = a
	}
	p.list("(", ")", openPos, closePos, nodes, func(n Node) {
		a := n.(*Arg)
		if a.Name != nil {
			p.ident(a.Name)
			p.write(": ")
		}
		p.expr(a.Value)
	})
}

// Precedence levels, lowest first, as in the grammar.
const (
	precPipe = iota + 1
	precOr
	precAnd
	precNot
	precCmp
	precSum
	precProd
	precNeg
	precPow
	precPostfix
)

func precOf(e Expr) int {
	switch e := e.(type) {
	case *BinaryExpr:
		switch e.Op {
		case "|>":
			return precPipe
		case "or":
			return precOr
		case "and":
			return precAnd
		case "==", "!=", "<", "<=", ">", ">=":
			return precCmp
		case "+", "-":
			return precSum
		case "*", "/", "@":
			return precProd
		case "**":
			return precPow
		}
	case *UnaryExpr:
		if e.Op == "not" {
			return precNot
		}
		return precNeg
	}
	return precPostfix
}

// sub prints e where the grammar needs at least precedence min, adding
// parentheses to trees not made by Parse (Parse keeps them as ParenExpr).
func (p *printer) sub(e Expr, min int) {
	if precOf(e) < min {
		p.write("(")
		p.expr(e)
		p.write(")")
		return
	}
	p.expr(e)
}

func (p *printer) expr(e Expr) {
	switch e := e.(type) {
	case *Ident:
		p.ident(e)
	case *BasicLit:
		p.flush(e.Pos().Offset)
		if e.Kind == StringLit {
			p.tok(strconv.Quote(e.Value), e.End())
		} else {
			p.tok(e.Value, e.End())
		}
	case *BinaryExpr:
		prec := precOf(e)
		if e.Op == "**" {
			p.sub(e.X, precPostfix)
		} else {
			p.sub(e.X, prec)
		}
		p.flush(e.OpPos.Offset)
		if e.OpPos.Line > e.X.End().Line && e.OpPos.IsValid() {
			p.newline()
		} else {
			p.write(" ")
		}
		p.tok(e.Op, diag.Pos{})
		if e.OpPos.IsValid() {
			p.lastLine = max(p.lastLine, e.OpPos.Line)
		}
		p.flush(e.Y.Pos().Offset)
		if e.Y.Pos().Line > e.OpPos.Line && e.OpPos.IsValid() {
			p.newline()
		} else {
			p.write(" ")
		}
		switch e.Op {
		case "**":
			p.sub(e.Y, precNeg)
		case "|>":
			p.sub(e.Y, precPostfix)
		default:
			p.sub(e.Y, prec+1)
		}
	case *UnaryExpr:
		p.flush(e.Pos().Offset)
		if e.Op == "not" {
			p.write("not ")
			p.sub(e.X, precNot)
		} else {
			p.write(e.Op)
			p.sub(e.X, precNeg)
		}
	case *ParenExpr:
		p.flush(e.Pos().Offset)
		p.write("(")
		p.expr(e.X)
		p.flush(e.End().Offset - 1)
		p.tok(")", e.End())
	case *CallExpr:
		p.sub(e.Fun, precPostfix)
		p.args(e.Fun.End(), e.Rparen, e.Args)
		p.tok("", e.End())
	case *SelectorExpr:
		p.sub(e.X, precPostfix)
		if lit, ok := e.X.(*BasicLit); ok && lit.Kind == IntLit && e.Sel.Name[0] >= '0' && e.Sel.Name[0] <= '9' {
			p.write(" ") // `0.1` would lex as a float
		}
		p.write(".")
		p.ident(e.Sel)
	case *IndexExpr:
		p.sub(e.X, precPostfix)
		nodes := make([]Node, len(e.Indices))
		for i, x := range e.Indices {
			nodes[i] = x
		}
		p.list("[", "]", e.X.End(), endMinus1(e.End()), nodes, func(n Node) { p.expr(n.(Expr)) })
	case *SliceExpr:
		if e.Lo != nil {
			p.expr(e.Lo)
		}
		p.flush(e.Pos().Offset + 1)
		p.write(":")
		if e.Hi != nil {
			p.expr(e.Hi)
		}
	case *ListExpr:
		p.flush(e.Pos().Offset)
		nodes := make([]Node, len(e.Elems))
		for i, x := range e.Elems {
			nodes[i] = x
		}
		p.list("[", "]", e.Pos(), endMinus1(e.End()), nodes, func(n Node) { p.expr(n.(Expr)) })
	case *MapExpr:
		p.flush(e.Pos().Offset)
		if len(e.Entries) == 0 {
			p.write("{")
			p.flush(e.End().Offset - 1)
			p.tok("}", e.End())
			return
		}
		nodes := make([]Node, len(e.Entries))
		for i, x := range e.Entries {
			nodes[i] = x
		}
		last := e.Entries[len(e.Entries)-1].End()
		closeOwnLine := e.End().Line > last.Line
		open, close := "{ ", " }"
		if closeOwnLine {
			close = "}"
		}
		if e.Entries[0].Pos().Line > e.Pos().Line {
			open = "{"
		}
		p.list(open, close, e.Pos(), endMinus1(e.End()), nodes, func(n Node) {
			en := n.(*MapEntry)
			p.flush(en.Pos().Offset)
			if en.Quoted {
				p.tok(strconv.Quote(en.Key), en.Pos())
			} else {
				p.tok(en.Key, en.Pos())
			}
			p.write(": ")
			p.expr(en.Value)
		})
	}
}

// endMinus1 is the position of the closing bracket of a node that ends
// with one.
func endMinus1(end diag.Pos) diag.Pos {
	if !end.IsValid() {
		return end
	}
	end.Offset--
	end.Col--
	return end
}
