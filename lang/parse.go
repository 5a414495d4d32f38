package lang

import (
	"errors"
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
	if f, errs, ok := takePrewarmed(filename, src); ok {
		return f, errs
	}
	return parse(filename, src)
}

func parse(filename string, src []byte) (*File, diag.List) {
	p := &parser{filename: filename, src: src, lines: lineStarts(src)}
	f := &File{Name: filename, Span: Span{p.at(0), p.at(len(src))}}

	toks := scan(filename, src)
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
	// The grammar sees only the significant tokens: participle copies
	// what it is given, and skipping whitespace costs it at every step.
	// So a struct's EndPos is the start of the token after it; endBefore
	// gives the end of the struct's last token.
	n := 0
	for _, t := range toks {
		if t.Type != symWhitespace && t.Type != symComment {
			n++
		}
	}
	sig := make([]lexer.Token, 0, n)
	for _, t := range toks {
		if t.Type != symWhitespace && t.Type != symComment {
			sig = append(sig, t)
		}
	}
	p.toks = sig

	pl, err := lexer.Upgrade(&sliceLexer{toks: sig})
	if err != nil {
		p.errs.Errorf(p.at(0), "%v", err)
		return f, p.errs
	}
	g, err := grammar().ParseFromLexer(pl)
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
	return Span{p.at(start.Offset), p.at(end)}
}

// sp returns the span of a grammar struct from its Pos and EndPos.
func (p *parser) sp(start, end lexer.Position) Span {
	return Span{posOf(start), p.endBefore(end)}
}

// endBefore returns the end of the significant token before the one at
// pos.
func (p *parser) endBefore(pos lexer.Position) diag.Pos {
	i := sort.Search(len(p.toks), func(i int) bool { return p.toks[i].Pos.Offset >= pos.Offset })
	if i == 0 {
		return posOf(pos)
	}
	return endOf(&p.toks[i-1])
}

// ---------------------------------------------------------------------
// Conversion of the parse tree

func (p *parser) convertFile(f *File, g *file) {
	for _, im := range g.Imports {
		sp := p.sp(im.Pos, im.EndPos)
		raw := sp.EndPos.Offset - len(im.Path)
		f.Imports = append(f.Imports, &Import{
			Span:    sp,
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

func (p *parser) ident(n lexer.Token) *Ident {
	return &Ident{Span: Span{posOf(n.Pos), endOf(&n)}, Name: n.Value}
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
		return &ScalarType{Span: p.sp(t.Pos, t.EndPos), Name: t.Name.Value}
	}
	return p.tensorType(t.Name, t.Dims)
}

func (p *parser) tensorType(dtype lexer.Token, d *dims) *TensorType {
	tt := &TensorType{Span: p.sp(dtype.Pos, d.EndPos), DType: dtype.Value}
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
			fd.Results = []*Result{{Span: Span{t.Pos(), t.End()}, Type: t}}
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
// Expressions (parsed into the syntax tree by exprparse.go)

// expr returns the tree of e, reporting the problems found in it in
// order.
func (p *parser) expr(e *expr) Expr {
	p.errs = append(p.errs, e.errs...)
	return e.X
}

func (p *parser) args(a *callArgs) []*Arg {
	p.errs = append(p.errs, a.errs...)
	return a.Args
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
