package refparse

import (
	"bytes"
	"errors"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/alecthomas/participle/v2"
	"github.com/alecthomas/participle/v2/lexer"

	"github.com/encc-lang/encc/internal/diag"
)

// This file implements Parse: lexing, running the grammar and converting
// the parse tree into the syntax tree. The rewriting of participle's
// messages into user words is in errors.go.

// Parse parses one .enc file. It always returns a non-nil *File; when the
// source has a syntax error, the list holds exactly one diagnostic, at the
// offending token, and the File holds only the name, the span and the
// comments.
func Parse(filename string, src []byte) (*File, diag.List) {
	p := &parser{filename: filename, src: src, lines: lineStarts(src)}
	f := &File{Name: filename, Span: Span{Start: p.at(0), EndPos: p.at(len(src))}}

	lx, err := lexDef.Lex(filename, bytes.NewReader(src))
	var toks []lexer.Token
	if err == nil {
		toks, err = lexer.ConsumeAll(lx)
	}
	if err != nil { // the Invalid rule makes this unreachable in practice
		p.errs.Errorf(p.at(0), "%v", err)
		return f, p.errs
	}
	for _, t := range toks {
		switch t.Type {
		case symComment:
			f.Comments = append(f.Comments, &Comment{Span: p.span(t.Pos, t.Pos.Offset+len(t.Value)), Text: t.Value})
		case symUnterminatedComment:
			p.errs.Errorf(p.at(t.Pos.Offset), "comment not terminated")
		case symUnterminatedString:
			p.errs.Errorf(p.at(t.Pos.Offset), "string not terminated")
		case symInvalid:
			p.errs.Errorf(p.at(t.Pos.Offset), "invalid character %s", quoteChar(t.Value))
		case symWhitespace:
			if t.Value == bom && t.Pos.Offset > 0 { // a byte order mark only starts a file
				p.errs.Errorf(p.at(t.Pos.Offset), "invalid character %s", quoteChar(t.Value))
			}
		}
		if len(p.errs) > 0 {
			return f, p.errs
		}
	}
	if off, ok := tooDeep(toks); !ok {
		p.errs.Errorf(p.at(off), "expression nested too deeply (more than %d levels of brackets and operators)", MaxNesting)
		return f, p.errs
	}
	p.toks = toks

	pl, err := lexer.Upgrade(&sliceLexer{toks: toks}, symWhitespace, symComment)
	if err != nil {
		p.errs.Errorf(p.at(0), "%v", err)
		return f, p.errs
	}
	g, err := grammar.ParseFromLexer(pl)
	if err != nil {
		p.errs.Add(p.syntaxError(err))
		return f, p.errs
	}
	p.convertFile(f, g)
	if len(p.errs) > 0 {
		p.errs = p.errs[:1] // one error per problem: the first
		return &File{Name: f.Name, Span: f.Span, Comments: f.Comments}, p.errs
	}
	return f, nil
}

var (
	symComment             = lexDef.Symbols()["Comment"]
	symUnterminatedComment = lexDef.Symbols()["UnterminatedComment"]
	symWhitespace          = lexDef.Symbols()["Whitespace"]
	symFloat               = lexDef.Symbols()["Float"]
	symInt                 = lexDef.Symbols()["Int"]
	symString              = lexDef.Symbols()["String"]
	symUnterminatedString  = lexDef.Symbols()["UnterminatedString"]
	symIdent               = lexDef.Symbols()["Ident"]
	symInvalid             = lexDef.Symbols()["Invalid"]
)

// A sliceLexer replays tokens lexed once, so comments can be collected
// without lexing twice.
type sliceLexer struct {
	toks []lexer.Token
	i    int
}

func (l *sliceLexer) Next() (lexer.Token, error) {
	t := l.toks[l.i]
	if l.i < len(l.toks)-1 {
		l.i++
	}
	return t, nil
}

func quoteChar(s string) string {
	if s == "\x00" || !isPrint(s) {
		return strconv.QuoteToASCII(s)
	}
	return strconv.Quote(s)
}

func isPrint(s string) bool {
	for _, r := range s {
		if !strconv.IsPrint(r) || r == 0xFFFD {
			return false
		}
	}
	return true
}

// A parser holds the state of one Parse call.
type parser struct {
	filename string
	src      []byte
	lines    []int // offsets of line starts
	toks     []lexer.Token
	errs     diag.List
}

// lineStarts returns the offsets at which lines start. A line ends at
// "\n", "\r\n" or a lone "\r", as the lexer's comments and whitespace do.
func lineStarts(src []byte) []int {
	lines := []int{0}
	for i, c := range src {
		if c == '\n' || c == '\r' && (i+1 == len(src) || src[i+1] != '\n') {
			lines = append(lines, i+1)
		}
	}
	return lines
}

// bom is the byte order mark some editors put at the start of a file.
const bom = "\uFEFF"

// MaxNesting bounds how deeply brackets, prefix operators and chains of
// operators may nest in one expression. The grammar and every pass over
// the tree recurse once per level; without a bound, a file of 100000
// "(" overflows the stack and kills the process (and the language
// server) instead of reporting an error.
const MaxNesting = 1000

// tooDeep reports the offset of the first token at which the nesting of
// toks passes MaxNesting, and ok = false there. It over-approximates the
// depth of the parser's recursion and of the syntax tree: each open
// bracket is a level, and so is each operator (prefix, binary, "**",
// ".", "|>") and "else" since the last "=", "," or "return" inside the
// innermost open bracket, where a new expression starts.
func tooDeep(toks []lexer.Token) (off int, ok bool) {
	counts := []int{0} // operators since the last expression start, per open bracket
	depth := 0         // open brackets plus the sum of counts
	for _, t := range toks {
		top := len(counts) - 1
		switch t.Type {
		case symWhitespace, symComment:
			continue
		case symIdent:
			switch t.Value {
			case "return":
				depth -= counts[top]
				counts[top] = 0
			case "else", "not", "and", "or":
				counts[top]++
				depth++
			}
		default:
			switch t.Value {
			case "(", "[", "{":
				counts = append(counts, 0)
				depth++
			case ")", "]", "}":
				if top > 0 {
					depth -= counts[top] + 1
					counts = counts[:top]
				}
			case "=", ",", ":":
				depth -= counts[top]
				counts[top] = 0
			case "-", "+", "*", "/", "@", "**", ".", "|>", "==", "!=", "<=", ">=", "<", ">":
				counts[top]++
				depth++
			}
		}
		if depth > MaxNesting {
			return t.Pos.Offset, false
		}
	}
	return 0, true
}

// at returns the position of byte offset off.
func (p *parser) at(off int) diag.Pos {
	line := sort.Search(len(p.lines), func(i int) bool { return p.lines[i] > off }) - 1
	return diag.Pos{File: p.filename, Offset: off, Line: line + 1, Col: off - p.lines[line] + 1}
}

func (p *parser) span(start lexer.Position, end int) Span {
	return Span{Start: p.at(start.Offset), EndPos: p.at(end)}
}

func (p *parser) sp(start, end lexer.Position) Span {
	return Span{Start: p.at(start.Offset), EndPos: p.at(end.Offset)}
}

// ---------------------------------------------------------------------
// Conversion of the parse tree

func (p *parser) convertFile(f *File, g *file) {
	for _, im := range g.Imports {
		raw := im.EndPos.Offset - len(im.Path)
		f.Imports = append(f.Imports, &Import{
			Span:    p.sp(im.Pos, im.EndPos),
			Path:    p.unquote(im.Path, raw),
			PathPos: p.at(raw),
		})
	}
	for _, d := range g.Decls {
		f.Decls = append(f.Decls, p.decl(d))
	}
}

func (p *parser) unquote(raw string, off int) string {
	s, err := strconv.Unquote(raw)
	if err != nil {
		p.errs.Errorf(p.at(off), "invalid escape sequence in string %s", raw)
		return strings.Trim(raw, `"`)
	}
	return s
}

func (p *parser) ident(n *name) *Ident {
	return &Ident{Span: p.sp(n.Pos, n.EndPos), Name: n.Name}
}

func (p *parser) decl(d decl) Decl {
	switch d := d.(type) {
	case *constDecl:
		return &ConstDecl{Span: p.sp(d.Pos, d.EndPos), Name: p.ident(d.Name), Value: p.expr(d.Value)}
	case *modelDecl:
		m := &ModelDecl{Span: p.sp(d.Pos, d.EndPos), Name: p.ident(d.Name), HasParens: d.Params != nil}
		if d.Params != nil {
			for _, hp := range d.Params.Params {
				h := &HyperParam{Span: p.sp(hp.Pos, hp.EndPos), Name: p.ident(hp.Name)}
				if hp.Type != nil {
					h.Type = p.typ(hp.Type)
				}
				if hp.Default != nil {
					h.Default = p.expr(hp.Default)
				}
				m.Params = append(m.Params, h)
			}
		}
		m.Members = p.members(d.Members)
		return m
	case *datasetDecl:
		ds := &DatasetDecl{Span: p.sp(d.Pos, d.EndPos), Name: p.ident(d.Name)}
		for _, fl := range d.Fields {
			ds.Fields = append(ds.Fields, p.field(fl))
		}
		return ds
	case *trainDecl:
		t := &TrainDecl{Span: p.sp(d.Pos, d.EndPos), Name: p.ident(d.Name)}
		for _, it := range d.Items {
			switch it := it.(type) {
			case *field:
				t.Items = append(t.Items, p.field(it))
			case *phase:
				t.Items = append(t.Items, p.phase(it))
			}
		}
		return t
	}
	panic("lang: unknown declaration in parse tree")
}

func (p *parser) field(f *field) *Field {
	return &Field{Span: p.sp(f.Pos, f.EndPos), Name: p.ident(f.Name), Value: p.expr(f.Value)}
}

func (p *parser) phase(ph *phase) *Phase {
	out := &Phase{Span: p.sp(ph.Pos, ph.EndPos), Name: p.ident(ph.Name)}
	if ph.Args != nil {
		out.Args = p.args(ph.Args)
	}
	for _, s := range ph.Stmts {
		switch s := s.(type) {
		case *field:
			out.Stmts = append(out.Stmts, p.field(s))
		case *freezeStmt:
			fr := &Freeze{Span: p.sp(s.Pos, s.EndPos), Unfreeze: s.Kind == "unfreeze"}
			for _, pa := range s.Paths {
				fr.Paths = append(fr.Paths, p.path(pa))
			}
			out.Stmts = append(out.Stmts, fr)
		case *lrScaleStmt:
			out.Stmts = append(out.Stmts, &LRScale{Span: p.sp(s.Pos, s.EndPos), Path: p.path(s.Path), Value: p.expr(s.Value)})
		}
	}
	return out
}

func (p *parser) path(pa *path) *Path {
	out := &Path{Span: p.sp(pa.Pos, pa.EndPos)}
	if pa.Quoted != nil {
		out.Text, out.Quoted = p.unquote(*pa.Quoted, pa.Pos.Offset), true
		return out
	}
	out.Text = strings.Join(append([]string{*pa.First}, pa.Rest...), ".")
	return out
}

func (p *parser) typ(t *typeExpr) Type {
	if t.Dims == nil {
		return &ScalarType{Span: p.sp(t.Pos, t.EndPos), Name: t.Name.Name}
	}
	return p.tensorType(t.Name, t.Dims)
}

func (p *parser) tensorType(dtype *name, d *dims) *TensorType {
	tt := &TensorType{Span: p.sp(dtype.Pos, d.EndPos), DType: dtype.Name}
	for _, e := range d.Dims {
		tt.Dims = append(tt.Dims, p.expr(e))
	}
	return tt
}

func (p *parser) members(ms []member) []Member {
	var out []Member
	for _, m := range ms {
		out = append(out, p.member(m))
	}
	return out
}

func (p *parser) member(m member) Member {
	switch m := m.(type) {
	case *subLayer:
		return &SubLayer{Span: p.sp(m.Pos, m.EndPos), Name: p.ident(m.Name), Value: p.expr(m.Value)}
	case *paramDecl:
		pd := &ParamDecl{Span: p.sp(m.Pos, m.EndPos), Buffer: m.Kind == "buffer", Name: p.ident(m.Name),
			Type: p.tensorType(m.DType, m.Dims)}
		if m.Init != nil {
			pd.Init = p.expr(m.Init)
		}
		return pd
	case *forwardDecl:
		fd := &ForwardDecl{Span: p.sp(m.Pos, m.EndPos)}
		for _, tp := range m.Params {
			prm := &TensorParam{Span: p.sp(tp.Pos, tp.EndPos), Name: p.ident(tp.Name), Type: p.typ(tp.Type)}
			if tp.Default != nil {
				prm.Default = p.expr(tp.Default)
			}
			fd.Params = append(fd.Params, prm)
		}
		if m.Results.Single != nil {
			t := p.typ(m.Results.Single)
			fd.Results = []*Result{{Span: Span{Start: t.Pos(), EndPos: t.End()}, Type: t}}
		} else {
			fd.Named = true
			for _, r := range m.Results.Named {
				fd.Results = append(fd.Results, &Result{Span: p.sp(r.Pos, r.EndPos), Name: p.ident(r.Name), Type: p.typ(r.Type)})
			}
		}
		fd.Body = p.block(m.Body)
		return fd
	case *ifMember:
		return p.ifMember(m)
	}
	panic("lang: unknown member in parse tree")
}

func (p *parser) ifMember(m *ifMember) *IfMember {
	im := &IfMember{Span: p.sp(m.Pos, m.EndPos), Cond: p.expr(m.Cond), Then: p.members(m.Then)}
	if m.Else != nil {
		if m.Else.If != nil {
			im.ElseIf = p.ifMember(m.Else.If)
		} else {
			im.HasElse = true
			im.Else = p.members(m.Else.Members)
		}
	}
	return im
}

func (p *parser) block(b *block) *Block {
	out := &Block{Span: p.sp(b.Pos, b.EndPos)}
	for _, s := range b.Stmts {
		out.Stmts = append(out.Stmts, p.stmt(s))
	}
	return out
}

func (p *parser) stmt(s stmt) Stmt {
	switch s := s.(type) {
	case *assignStmt:
		return &AssignStmt{Span: p.sp(s.Pos, s.EndPos), Name: p.ident(s.Name), Value: p.expr(s.Value)}
	case *returnStmt:
		return &ReturnStmt{Span: p.sp(s.Pos, s.EndPos), Value: p.expr(s.Value)}
	case *ifStmt:
		return p.ifStmt(s)
	}
	panic("lang: unknown statement in parse tree")
}

func (p *parser) ifStmt(s *ifStmt) *IfStmt {
	out := &IfStmt{Span: p.sp(s.Pos, s.EndPos), Cond: p.expr(s.Cond), Then: p.block(s.Then)}
	if s.ElseIf != nil {
		out.ElseIf = p.ifStmt(s.ElseIf)
	}
	if s.Else != nil {
		out.Else = p.block(s.Else)
	}
	return out
}

// ---------------------------------------------------------------------
// Expressions

func (p *parser) binary(op string, opPos lexer.Position, x, y Expr) Expr {
	return &BinaryExpr{Span: Span{Start: x.Pos(), EndPos: y.End()}, Op: op, OpPos: p.at(opPos.Offset), X: x, Y: y}
}

func (p *parser) expr(e *expr) Expr {
	x := p.orExpr(e.X)
	for _, st := range e.Pipe {
		var y Expr = p.ident(st.Fun)
		for _, s := range st.Sels {
			y = p.selector(y, s)
		}
		if st.Args != nil {
			y = p.call(y, st.Args)
		}
		x = p.binary("|>", st.Pos, x, y)
	}
	return x
}

func (p *parser) orExpr(e *orExpr) Expr {
	x := p.andExpr(e.X)
	for _, t := range e.Rest {
		x = p.binary(t.Op, t.Pos, x, p.andExpr(t.Y))
	}
	return x
}

func (p *parser) andExpr(e *andExpr) Expr {
	x := p.notExpr(e.X)
	for _, t := range e.Rest {
		x = p.binary(t.Op, t.Pos, x, p.notExpr(t.Y))
	}
	return x
}

func (p *parser) notExpr(e *notExpr) Expr {
	if e.Not != nil {
		x := p.notExpr(e.Not)
		return &UnaryExpr{Span: Span{Start: p.at(e.Pos.Offset), EndPos: x.End()}, Op: "not", X: x}
	}
	return p.cmpExpr(e.X)
}

func (p *parser) cmpExpr(e *cmpExpr) Expr {
	x := p.sumExpr(e.X)
	for _, t := range e.Rest {
		x = p.binary(t.Op, t.Pos, x, p.sumExpr(t.Y))
	}
	return x
}

func (p *parser) sumExpr(e *sumExpr) Expr {
	x := p.prodExpr(e.X)
	for _, t := range e.Rest {
		x = p.binary(t.Op, t.Pos, x, p.prodExpr(t.Y))
	}
	return x
}

func (p *parser) prodExpr(e *prodExpr) Expr {
	x := p.unaryExpr(e.X)
	for _, t := range e.Rest {
		x = p.binary(t.Op, t.Pos, x, p.unaryExpr(t.Y))
	}
	return x
}

func (p *parser) unaryExpr(e *unaryExpr) Expr {
	if e.Neg != nil {
		x := p.unaryExpr(e.Neg)
		return &UnaryExpr{Span: Span{Start: p.at(e.Pos.Offset), EndPos: x.End()}, Op: "-", X: x}
	}
	x := p.postfix(e.X.X)
	if e.X.Exp != nil {
		x = p.binary("**", e.X.Exp.Pos, x, p.unaryExpr(e.X.Exp.Y))
	}
	return x
}

func (p *parser) postfix(e *postfixExpr) Expr {
	x := p.primary(e.X)
	for _, s := range e.Suffixes {
		switch s := s.(type) {
		case *callArgs:
			x = p.call(x, s)
		case *index:
			ix := &IndexExpr{Span: Span{Start: x.Pos(), EndPos: p.at(s.EndPos.Offset)}, X: x}
			for _, el := range s.Elems {
				ix.Indices = append(ix.Indices, p.indexElem(el))
			}
			x = ix
		case *selector:
			x = p.selector(x, s)
		}
	}
	return x
}

var twoSelectors = regexp.MustCompile(`^([0-9]+)\.([0-9]+)$`)

// selector applies `.name` to x. A float token `0.1` after a dot is two
// numeric selectors (`blocks.0.1`).
func (p *parser) selector(x Expr, s *selector) Expr {
	n := s.Sel
	if n.Name[0] >= '0' && n.Name[0] <= '9' && strings.ContainsAny(n.Name, ".eE") {
		m := twoSelectors.FindStringSubmatch(n.Name)
		if m == nil {
			p.errs.Errorf(p.at(n.Pos.Offset), "invalid member name %s", n.Name)
			return x
		}
		mid := n.Pos.Offset + len(m[1])
		first := &Ident{Span: Span{Start: p.at(n.Pos.Offset), EndPos: p.at(mid)}, Name: m[1]}
		x = &SelectorExpr{Span: Span{Start: x.Pos(), EndPos: first.End()}, X: x, Sel: first}
		second := &Ident{Span: Span{Start: p.at(mid + 1), EndPos: p.at(n.EndPos.Offset)}, Name: m[2]}
		return &SelectorExpr{Span: Span{Start: x.Pos(), EndPos: second.End()}, X: x, Sel: second}
	}
	sel := &Ident{Span: p.sp(n.Pos, n.EndPos), Name: n.Name}
	return &SelectorExpr{Span: Span{Start: x.Pos(), EndPos: sel.End()}, X: x, Sel: sel}
}

func (p *parser) call(fun Expr, a *callArgs) *CallExpr {
	return &CallExpr{Span: Span{Start: fun.Pos(), EndPos: p.at(a.EndPos.Offset)}, Fun: fun, Args: p.args(a),
		Rparen: p.at(a.EndPos.Offset - 1)}
}

func (p *parser) args(a *callArgs) []*Arg {
	out := []*Arg{}
	for _, g := range a.Args {
		arg := &Arg{Span: p.sp(g.Pos, g.EndPos), Value: p.expr(g.Value)}
		if g.Named != nil {
			id, ok := arg.Value.(*Ident)
			if !ok {
				p.errs.Errorf(arg.Value.Pos(), "argument name must be a plain name, not %s", describe(arg.Value))
			}
			arg.Name, arg.Value = id, p.expr(g.Named)
		}
		out = append(out, arg)
	}
	return out
}

func (p *parser) indexElem(el *indexElem) Expr {
	if !el.Colon && el.Lo == nil {
		// `x[]` or `x[a, ]`: the grammar lets an element be empty.
		p.errs.Errorf(p.at(el.Pos.Offset), "expected an index or a slice inside [ ]")
		return &Ident{Span: p.sp(el.Pos, el.EndPos), Name: "_"}
	}
	if !el.Colon {
		return p.expr(el.Lo)
	}
	s := &SliceExpr{Span: p.sp(el.Pos, el.EndPos)}
	if el.Lo != nil {
		s.Lo = p.expr(el.Lo)
	}
	if el.Hi != nil {
		s.Hi = p.expr(el.Hi)
	}
	return s
}

func (p *parser) primary(e *primary) Expr {
	sp := p.sp(e.Pos, e.EndPos)
	switch {
	case e.Float != nil:
		return &BasicLit{Span: sp, Kind: FloatLit, Value: *e.Float}
	case e.Int != nil:
		return &BasicLit{Span: sp, Kind: IntLit, Value: *e.Int}
	case e.String != nil:
		return &BasicLit{Span: sp, Kind: StringLit, Value: p.unquote(*e.String, e.Pos.Offset)}
	case e.Bool != nil:
		return &BasicLit{Span: sp, Kind: BoolLit, Value: *e.Bool}
	case e.Ident != nil:
		return &Ident{Span: sp, Name: *e.Ident}
	case e.Paren != nil:
		return &ParenExpr{Span: sp, X: p.expr(e.Paren)}
	case e.List != nil:
		l := &ListExpr{Span: sp, Elems: []Expr{}}
		for _, x := range e.List.Elems {
			l.Elems = append(l.Elems, p.expr(x))
		}
		return l
	case e.Map != nil:
		m := &MapExpr{Span: sp, Entries: []*MapEntry{}}
		for _, en := range e.Map.Entries {
			me := &MapEntry{Span: p.sp(en.Pos, en.EndPos), Value: p.expr(en.Value)}
			if en.Quoted != nil {
				me.Key, me.Quoted = p.unquote(*en.Quoted, en.Pos.Offset), true
			} else {
				me.Key = *en.Key
			}
			m.Entries = append(m.Entries, me)
		}
		return m
	}
	panic("lang: empty primary in parse tree")
}

// syntaxError turns a participle error into one diagnostic in user words.
func (p *parser) syntaxError(err error) *diag.Diagnostic {
	var ute *participle.UnexpectedTokenError
	if errors.As(err, &ute) {
		return p.rewrite(ute.Unexpected, expectedOf(ute.Message()))
	}
	var perr participle.Error
	if errors.As(err, &perr) {
		tok := p.tokenAt(perr.Position().Offset)
		return p.rewrite(tok, expectedOf(perr.Message()))
	}
	return diag.Errorf(p.at(0), "%v", err)
}
