package lang

import (
	"github.com/alecthomas/participle/v2"
	"github.com/alecthomas/participle/v2/lexer"
)

// This file implements the parser of declarations, members and
// statements: hand-written recursive descent over the grammar of
// grammar.go, filling the same parse structs that participle filled. It
// replaced participle's reflective parser, whose grammar alone took a
// millisecond to build when a process started, more than the rest of
// checking a file.
//
// It runs the grammar exactly as participle ran it with
// UseLookahead(0): the first token decides every branch (a literal
// matches a token by its text, a token kind such as <ident> by its
// kind), a branch that consumed a token is committed, and a required
// part that does not match fails with participle's UnexpectedTokenError
// at the next token, its Expect the first element of the EBNF that
// participle would print for the rest of the sequence (`"="`, `<ident>`,
// `TypeExpr`, `(IfStmt`...): errors.go reads only that element. A
// struct's Pos is its first token's, its EndPos the position of the
// token after it. Expressions and call arguments are parsed by
// exprparse.go. TestReference and FuzzReference check the trees,
// positions and diagnostics against the participle parser kept in
// lang/internal/refparse; TestEBNF checks that grammar.go's participle
// grammar, built only there, is still the one in its comment.

type declParser struct {
	lex *lexer.PeekingLexer
}

// parseDecls parses a file's significant tokens.
func parseDecls(lex *lexer.PeekingLexer) (*file, error) {
	d := &declParser{lex: lex}
	return d.file()
}

func (d *declParser) peek() *lexer.Token { return d.lex.Peek() }

func (d *declParser) pos() lexer.Position { return d.lex.Peek().Pos }

// is reports whether the next token is the literal s.
func (d *declParser) is(s string) bool { return d.lex.Peek().Value == s }

// fail returns participle's error for a required part, first, that does
// not match the next token.
func (d *declParser) fail(first string) error {
	return &participle.UnexpectedTokenError{Unexpected: *d.lex.Peek(), Expect: first}
}

// lit consumes the literal s or fails.
func (d *declParser) lit(s string) error {
	if !d.is(s) {
		return d.fail(`"` + s + `"`)
	}
	d.lex.Next()
	return nil
}

// token consumes a token of kind typ (named rule in the EBNF) or fails.
func (d *declParser) token(typ lexer.TokenType, rule string) (lexer.Token, error) {
	t := d.lex.Peek()
	if t.Type != typ {
		return lexer.Token{}, d.fail(rule)
	}
	d.lex.Next()
	return *t, nil
}

func (d *declParser) ident() (lexer.Token, error) { return d.token(symIdent, "<ident>") }

// expr parses an expression; ok is false when the next token starts none.
func (d *declParser) expr() (e *expr, ok bool, err error) {
	e = &expr{}
	err = e.Parse(d.lex)
	if err == participle.NextMatch {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	return e, true, nil
}

// mustExpr parses a required expression.
func (d *declParser) mustExpr() (*expr, error) {
	e, ok, err := d.expr()
	if err == nil && !ok {
		err = d.fail("expr")
	}
	return e, err
}

func (d *declParser) file() (*file, error) {
	f := &file{Pos: d.pos()}
	for d.is("import") {
		im := &importDecl{Pos: d.pos()}
		d.lex.Next()
		t, err := d.token(symString, "<string>")
		if err != nil {
			return nil, err
		}
		im.Path, im.EndPos = t.Value, d.pos()
		f.Imports = append(f.Imports, im)
	}
	for {
		var dc decl
		var err error
		switch {
		case d.is("const"):
			dc, err = d.constDecl()
		case d.is("model"):
			dc, err = d.modelDecl()
		case d.is("dataset"):
			dc, err = d.datasetDecl()
		case d.is("train"):
			dc, err = d.trainDecl()
		}
		if err != nil {
			return nil, err
		}
		if dc == nil {
			break
		}
		f.Decls = append(f.Decls, dc)
	}
	f.EndPos = d.pos()
	if !d.peek().EOF() {
		return nil, &participle.UnexpectedTokenError{Unexpected: *d.peek()}
	}
	return f, nil
}

func (d *declParser) constDecl() (*constDecl, error) {
	c := &constDecl{Pos: d.pos()}
	d.lex.Next()
	var err error
	if c.Name, err = d.ident(); err != nil {
		return nil, err
	}
	if err = d.lit("="); err != nil {
		return nil, err
	}
	if c.Value, err = d.mustExpr(); err != nil {
		return nil, err
	}
	c.EndPos = d.pos()
	return c, nil
}

func (d *declParser) modelDecl() (*modelDecl, error) {
	m := &modelDecl{Pos: d.pos()}
	d.lex.Next()
	var err error
	if m.Name, err = d.ident(); err != nil {
		return nil, err
	}
	if d.is("(") {
		if m.Params, err = d.hyperParams(); err != nil {
			return nil, err
		}
	}
	if m.Members, err = d.memberBlock(); err != nil {
		return nil, err
	}
	m.EndPos = d.pos()
	return m, nil
}

// hyperParams parses `(a, b: int = 3)`; the next token is "(".
func (d *declParser) hyperParams() (*hyperParams, error) {
	h := &hyperParams{Pos: d.pos()}
	d.lex.Next()
	if d.peek().Type == symIdent {
		for {
			hp, err := d.hyperParam()
			if err != nil {
				return nil, err
			}
			h.Params = append(h.Params, hp)
			if !d.is(",") {
				break
			}
			d.lex.Next()
			if d.peek().Type != symIdent {
				return nil, d.fail("HyperParam")
			}
		}
	}
	if err := d.lit(")"); err != nil {
		return nil, err
	}
	h.EndPos = d.pos()
	return h, nil
}

// hyperParam parses `name (: type)? (= default)?`; the next token is an
// identifier.
func (d *declParser) hyperParam() (*hyperParam, error) {
	hp := &hyperParam{Pos: d.pos(), Name: *d.lex.Next()}
	var err error
	if d.is(":") {
		d.lex.Next()
		if hp.Type, err = d.mustTypeExpr(); err != nil {
			return nil, err
		}
	}
	if d.is("=") {
		d.lex.Next()
		if hp.Default, err = d.mustExpr(); err != nil {
			return nil, err
		}
	}
	hp.EndPos = d.pos()
	return hp, nil
}

// mustTypeExpr parses a required `name dims?`.
func (d *declParser) mustTypeExpr() (*typeExpr, error) {
	if d.peek().Type != symIdent {
		return nil, d.fail("TypeExpr")
	}
	t := &typeExpr{Pos: d.pos(), Name: *d.lex.Next()}
	if d.is("[") {
		var err error
		if t.Dims, err = d.dims(); err != nil {
			return nil, err
		}
	}
	t.EndPos = d.pos()
	return t, nil
}

// dims parses `[e, ...]`; the next token is "[".
func (d *declParser) dims() (*dims, error) {
	ds := &dims{Pos: d.pos()}
	d.lex.Next()
	e, ok, err := d.expr()
	if err != nil {
		return nil, err
	}
	if ok {
		ds.Dims = append(ds.Dims, e)
		for d.is(",") {
			d.lex.Next()
			if e, err = d.mustExpr(); err != nil {
				return nil, err
			}
			ds.Dims = append(ds.Dims, e)
		}
	}
	if err := d.lit("]"); err != nil {
		return nil, err
	}
	ds.EndPos = d.pos()
	return ds, nil
}

// memberBlock parses `{ member* }`.
func (d *declParser) memberBlock() ([]member, error) {
	if err := d.lit("{"); err != nil {
		return nil, err
	}
	ms, err := d.members()
	if err != nil {
		return nil, err
	}
	if err := d.lit("}"); err != nil {
		return nil, err
	}
	return ms, nil
}

// members parses member* up to the first token that starts none.
func (d *declParser) members() ([]member, error) {
	var out []member
	for {
		var m member
		var err error
		switch t := d.peek(); {
		case t.Value == "param" || t.Value == "buffer":
			m, err = d.paramDecl()
		case t.Value == "forward":
			m, err = d.forwardDecl()
		case t.Value == "if":
			m, err = d.ifMember()
		case t.Type == symIdent:
			s := &subLayer{Pos: d.pos(), Name: *d.lex.Next()}
			s.Value, s.EndPos, err = d.assignment()
			m = s
		default:
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
}

// assignment parses `= expr` after a name, and returns the position of
// the token after it.
func (d *declParser) assignment() (*expr, lexer.Position, error) {
	if err := d.lit("="); err != nil {
		return nil, lexer.Position{}, err
	}
	e, err := d.mustExpr()
	if err != nil {
		return nil, lexer.Position{}, err
	}
	return e, d.pos(), nil
}

func (d *declParser) paramDecl() (*paramDecl, error) {
	p := &paramDecl{Pos: d.pos(), Kind: d.lex.Next().Value}
	var err error
	if p.Name, err = d.ident(); err != nil {
		return nil, err
	}
	if err = d.lit(":"); err != nil {
		return nil, err
	}
	if p.DType, err = d.ident(); err != nil {
		return nil, err
	}
	if !d.is("[") {
		return nil, d.fail("Dims")
	}
	if p.Dims, err = d.dims(); err != nil {
		return nil, err
	}
	if d.is("=") {
		d.lex.Next()
		if p.Init, err = d.mustExpr(); err != nil {
			return nil, err
		}
	}
	p.EndPos = d.pos()
	return p, nil
}

func (d *declParser) forwardDecl() (*forwardDecl, error) {
	f := &forwardDecl{Pos: d.pos()}
	d.lex.Next()
	if err := d.lit("("); err != nil {
		return nil, err
	}
	if d.peek().Type == symIdent {
		for {
			tp, err := d.tensorParam()
			if err != nil {
				return nil, err
			}
			f.Params = append(f.Params, tp)
			if !d.is(",") {
				break
			}
			d.lex.Next()
			if d.peek().Type != symIdent {
				return nil, d.fail("TensorParam")
			}
		}
	}
	if err := d.lit(")"); err != nil {
		return nil, err
	}
	if err := d.lit("->"); err != nil {
		return nil, err
	}
	var err error
	if f.Results, err = d.results(); err != nil {
		return nil, err
	}
	if !d.is("{") {
		return nil, d.fail("Block")
	}
	if f.Body, err = d.block(); err != nil {
		return nil, err
	}
	f.EndPos = d.pos()
	return f, nil
}

// tensorParam parses `name: type (= default)?`; the next token is an
// identifier.
func (d *declParser) tensorParam() (*tensorParam, error) {
	tp := &tensorParam{Pos: d.pos(), Name: *d.lex.Next()}
	var err error
	if err = d.lit(":"); err != nil {
		return nil, err
	}
	if tp.Type, err = d.mustTypeExpr(); err != nil {
		return nil, err
	}
	if d.is("=") {
		d.lex.Next()
		if tp.Default, err = d.mustExpr(); err != nil {
			return nil, err
		}
	}
	tp.EndPos = d.pos()
	return tp, nil
}

// results parses a forward's `(name: type, ...)` or `type`.
func (d *declParser) results() (*results, error) {
	r := &results{Pos: d.pos()}
	var err error
	switch {
	case d.is("("):
		d.lex.Next()
		for {
			if d.peek().Type != symIdent {
				return nil, d.fail("ResultParam")
			}
			rp := &resultParam{Pos: d.pos(), Name: *d.lex.Next()}
			if err = d.lit(":"); err != nil {
				return nil, err
			}
			if rp.Type, err = d.mustTypeExpr(); err != nil {
				return nil, err
			}
			rp.EndPos = d.pos()
			r.Named = append(r.Named, rp)
			if !d.is(",") {
				break
			}
			d.lex.Next()
		}
		if err = d.lit(")"); err != nil {
			return nil, err
		}
	case d.peek().Type == symIdent:
		if r.Single, err = d.mustTypeExpr(); err != nil {
			return nil, err
		}
	default:
		return nil, d.fail("Results")
	}
	r.EndPos = d.pos()
	return r, nil
}

// block parses `{ stmt* }`; the next token is "{".
func (d *declParser) block() (*block, error) {
	b := &block{Pos: d.pos()}
	d.lex.Next()
	for {
		var s stmt
		var err error
		switch t := d.peek(); {
		case t.Value == "return":
			r := &returnStmt{Pos: d.pos()}
			d.lex.Next()
			if r.Value, err = d.mustExpr(); err == nil {
				r.EndPos = d.pos()
			}
			s = r
		case t.Value == "if":
			s, err = d.ifStmt()
		case t.Type == symIdent:
			a := &assignStmt{Pos: d.pos(), Name: *d.lex.Next()}
			a.Value, a.EndPos, err = d.assignment()
			s = a
		}
		if err != nil {
			return nil, err
		}
		if s == nil {
			break
		}
		b.Stmts = append(b.Stmts, s)
	}
	if err := d.lit("}"); err != nil {
		return nil, err
	}
	b.EndPos = d.pos()
	return b, nil
}

// ifStmt parses `if cond { } (else (if ... | { }))?`; the next token is
// "if".
func (d *declParser) ifStmt() (*ifStmt, error) {
	s := &ifStmt{Pos: d.pos()}
	d.lex.Next()
	var err error
	if s.Cond, err = d.mustExpr(); err != nil {
		return nil, err
	}
	if !d.is("{") {
		return nil, d.fail("Block")
	}
	if s.Then, err = d.block(); err != nil {
		return nil, err
	}
	if d.is("else") {
		d.lex.Next()
		switch {
		case d.is("if"):
			s.ElseIf, err = d.ifStmt()
		case d.is("{"):
			s.Else, err = d.block()
		default:
			err = d.fail("(IfStmt")
		}
		if err != nil {
			return nil, err
		}
	}
	s.EndPos = d.pos()
	return s, nil
}

// ifMember parses `if cond { member* } (else ElseMember)?`; the next
// token is "if".
func (d *declParser) ifMember() (*ifMember, error) {
	m := &ifMember{Pos: d.pos()}
	d.lex.Next()
	var err error
	if m.Cond, err = d.mustExpr(); err != nil {
		return nil, err
	}
	if m.Then, err = d.memberBlock(); err != nil {
		return nil, err
	}
	if d.is("else") {
		d.lex.Next()
		e := &elseMember{Pos: d.pos()}
		switch {
		case d.is("if"):
			e.If, err = d.ifMember()
		case d.is("{"):
			e.Block = true
			e.Members, err = d.memberBlock()
		default:
			err = d.fail("ElseMember")
		}
		if err != nil {
			return nil, err
		}
		e.EndPos = d.pos()
		m.Else = e
	}
	m.EndPos = d.pos()
	return m, nil
}

func (d *declParser) datasetDecl() (*datasetDecl, error) {
	ds := &datasetDecl{Pos: d.pos()}
	d.lex.Next()
	var err error
	if ds.Name, err = d.ident(); err != nil {
		return nil, err
	}
	if err = d.lit("{"); err != nil {
		return nil, err
	}
	for d.peek().Type == symIdent {
		f, err := d.field()
		if err != nil {
			return nil, err
		}
		ds.Fields = append(ds.Fields, f)
	}
	if err = d.lit("}"); err != nil {
		return nil, err
	}
	ds.EndPos = d.pos()
	return ds, nil
}

// field parses `name = expr`; the next token is an identifier.
func (d *declParser) field() (*field, error) {
	f := &field{Pos: d.pos(), Name: *d.lex.Next()}
	var err error
	f.Value, f.EndPos, err = d.assignment()
	if err != nil {
		return nil, err
	}
	return f, nil
}

func (d *declParser) trainDecl() (*trainDecl, error) {
	t := &trainDecl{Pos: d.pos()}
	d.lex.Next()
	var err error
	if t.Name, err = d.ident(); err != nil {
		return nil, err
	}
	if err = d.lit("{"); err != nil {
		return nil, err
	}
	for {
		var it trainItem
		switch tok := d.peek(); {
		case tok.Value == "phase":
			it, err = d.phase()
		case tok.Type == symIdent:
			it, err = d.field()
		}
		if err != nil {
			return nil, err
		}
		if it == nil {
			break
		}
		t.Items = append(t.Items, it)
	}
	if err = d.lit("}"); err != nil {
		return nil, err
	}
	t.EndPos = d.pos()
	return t, nil
}

func (d *declParser) phase() (*phase, error) {
	ph := &phase{Pos: d.pos()}
	d.lex.Next()
	var err error
	if ph.Name, err = d.ident(); err != nil {
		return nil, err
	}
	args := &callArgs{}
	switch err := args.Parse(d.lex); err {
	case nil:
		ph.Args = args
	case participle.NextMatch:
	default:
		return nil, err
	}
	if err = d.lit("{"); err != nil {
		return nil, err
	}
	for {
		var s phaseStmt
		switch tok := d.peek(); {
		case tok.Value == "freeze" || tok.Value == "unfreeze":
			s, err = d.freezeStmt()
		case tok.Value == "lr_scale":
			s, err = d.lrScaleStmt()
		case tok.Type == symIdent:
			s, err = d.field()
		}
		if err != nil {
			return nil, err
		}
		if s == nil {
			break
		}
		ph.Stmts = append(ph.Stmts, s)
	}
	if err = d.lit("}"); err != nil {
		return nil, err
	}
	ph.EndPos = d.pos()
	return ph, nil
}

func (d *declParser) freezeStmt() (*freezeStmt, error) {
	f := &freezeStmt{Pos: d.pos(), Kind: d.lex.Next().Value}
	for {
		p, err := d.path()
		if err != nil {
			return nil, err
		}
		f.Paths = append(f.Paths, p)
		if !d.is(",") {
			break
		}
		d.lex.Next()
	}
	f.EndPos = d.pos()
	return f, nil
}

func (d *declParser) lrScaleStmt() (*lrScaleStmt, error) {
	l := &lrScaleStmt{Pos: d.pos()}
	d.lex.Next()
	var err error
	if l.Path, err = d.path(); err != nil {
		return nil, err
	}
	if err = d.lit("="); err != nil {
		return nil, err
	}
	if l.Value, err = d.mustExpr(); err != nil {
		return nil, err
	}
	l.EndPos = d.pos()
	return l, nil
}

// path parses a required `"quoted"` or `name(.part)*`.
func (d *declParser) path() (*path, error) {
	p := &path{Pos: d.pos()}
	switch t := d.peek(); t.Type {
	case symString:
		v := d.lex.Next().Value
		p.Quoted = &v
	case symIdent:
		v := d.lex.Next().Value
		p.First = &v
		for d.is(".") {
			d.lex.Next()
			switch t := d.peek(); t.Type {
			case symIdent, symInt, symFloat:
				p.Rest = append(p.Rest, d.lex.Next().Value)
			default:
				return nil, d.fail("(<ident>")
			}
		}
	default:
		return nil, d.fail("Path")
	}
	p.EndPos = d.pos()
	return p, nil
}
