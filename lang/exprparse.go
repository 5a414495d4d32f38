package lang

import (
	"strconv"
	"strings"

	"github.com/alecthomas/participle/v2"
	"github.com/alecthomas/participle/v2/lexer"

	"github.com/encc-lang/encc/internal/diag"
)

// This file implements the expression parser: a hand-written
// precedence-climbing parser plugged into the participle grammar through
// participle's Parseable interface (expr and callArgs implement it), so
// participle parses the declarations and this parses every expression.
// Participle's one struct per level of precedence cost a dozen reflective
// struct parses per operand; this builds the syntax tree directly.
//
// It accepts exactly the grammar participle ran before (the expression
// rules below, with lookahead 0: the first token decides every branch
// and a branch that consumed a token is committed), stops at the same
// token, and fails with the same "expected" rule names, which errors.go
// turns into user words. lang/internal/refparse keeps the participle
// parser, and TestReference and FuzzReference check that both give the
// same trees, positions and diagnostics.
//
//	Expr        = OrExpr PipeStage* .
//	PipeStage   = "|>" Name Selector* CallArgs? .
//	OrExpr      = AndExpr ("or" AndExpr)* .
//	AndExpr     = NotExpr ("and" NotExpr)* .
//	NotExpr     = ("not" NotExpr) | CmpExpr .
//	CmpExpr     = SumExpr (("==" | "!=" | "<=" | ">=" | "<" | ">") SumExpr)* .
//	SumExpr     = ProdExpr (("+" | "-") ProdExpr)* .
//	ProdExpr    = UnaryExpr (("*" | "/" | "@") UnaryExpr)* .
//	UnaryExpr   = ("-" UnaryExpr) | PowExpr .
//	PowExpr     = PostfixExpr ("**" UnaryExpr)? .
//	PostfixExpr = Primary (CallArgs | Index | Selector)* .
//	Primary     = <float> | <int> | <string> | "true" | "false" | <ident>
//	            | "(" Expr ")" | ListExpr | MapExpr .
//	ListExpr    = "[" (Expr ("," Expr)*)? "]" .
//	MapExpr     = "{" (MapEntry ("," MapEntry)*)? "}" .
//	MapEntry    = (<ident> | <string>) ":" Expr .
//	CallArgs    = "(" (Arg ("," Arg)*)? ")" .
//	Arg         = Expr (":" Expr)? .
//	Index       = "[" IndexElem ("," IndexElem)* "]" .
//	IndexElem   = Expr? (":" Expr?)? .
//	Selector    = "." (<ident> | <int> | <float>) .
//
// Positions come from the tokens: scan gives them the line and column of
// diag.Pos. Problems that are not syntax errors (a bad escape in a
// string, `x.1e5`, `f(a.b: 1)`, `x[]`) are collected in order and
// reported by Parse in the order of the tree.

// expr is the grammar's expression node.
type expr struct {
	X    Expr
	errs diag.List
}

// Parse implements participle.Parseable.
func (e *expr) Parse(lex *lexer.PeekingLexer) error {
	p := exprParser{lex: lex}
	if !p.startsExpr() {
		return participle.NextMatch
	}
	x, err := p.expr()
	e.X, e.errs = x, p.errs
	return err
}

// callArgs is the grammar's argument list `(a, name: b)`, after a phase
// name.
type callArgs struct {
	Args []*Arg
	errs diag.List
}

// Parse implements participle.Parseable.
func (c *callArgs) Parse(lex *lexer.PeekingLexer) error {
	if lex.Peek().Value != "(" || lex.Peek().Type != symPunct {
		return participle.NextMatch
	}
	p := exprParser{lex: lex}
	args, _, err := p.callArgs()
	c.Args, c.errs = args, p.errs
	return err
}

type exprParser struct {
	lex  *lexer.PeekingLexer
	last *lexer.Token // the last token consumed
	errs diag.List
}

// next consumes the next token.
func (p *exprParser) next() *lexer.Token {
	p.last = p.lex.Next()
	return p.last
}

func posOf(p lexer.Position) diag.Pos {
	return diag.Pos{File: p.Filename, Offset: p.Offset, Line: p.Line, Col: p.Column}
}

// peek returns the next token.
func (p *exprParser) peek() *lexer.Token { return p.lex.Peek() }

// is reports whether the next token is the operator or punctuation s.
func (p *exprParser) is(s string) bool {
	t := p.lex.Peek()
	return t.Value == s && (t.Type == symPunct || t.Type == symOperator)
}

// isWord reports whether the next token is the identifier w.
func (p *exprParser) isWord(w string) bool {
	t := p.lex.Peek()
	return t.Type == symIdent && t.Value == w
}

// end returns the position just after the last token consumed.
func (p *exprParser) end() diag.Pos { return endOf(p.last) }

// endOf returns the position just after t. Only a string can hold a line
// break (a "\r": "\n" ends a string), so most tokens end on their line.
func endOf(t *lexer.Token) diag.Pos {
	p := posOf(t.Pos)
	p.Offset += len(t.Value)
	i := strings.LastIndexByte(t.Value, '\r')
	if i < 0 {
		p.Col += len(t.Value)
		return p
	}
	p.Line += strings.Count(t.Value, "\r")
	p.Col = len(t.Value) - i
	return p
}

// fail returns the error participle gives when the grammar expected
// rule at the next token.
func (p *exprParser) fail(rule string) error {
	return &participle.UnexpectedTokenError{Unexpected: *p.lex.Peek(), Expect: rule}
}

// expect consumes the punctuation s or fails.
func (p *exprParser) expect(s string) error {
	if !p.is(s) {
		return p.fail(strconv.Quote(s))
	}
	p.next()
	return nil
}

// startsExpr reports whether the next token can start an expression.
func (p *exprParser) startsExpr() bool {
	t := p.lex.Peek()
	switch t.Type {
	case symFloat, symInt, symString, symIdent:
		return true
	case symPunct:
		switch t.Value {
		case "-", "(", "[", "{":
			return true
		}
	}
	return false
}

// operand parses the operand rule after an operator; a missing operand
// is the error "expected rule".
func (p *exprParser) operand(rule string, parse func() (Expr, error)) (Expr, error) {
	if !p.startsExpr() {
		return nil, p.fail(rule)
	}
	return parse()
}

func binary(op string, opPos diag.Pos, x, y Expr) Expr {
	return &BinaryExpr{Span: Span{Start: x.Pos(), EndPos: y.End()}, Op: op, OpPos: opPos, X: x, Y: y}
}

// expr parses Expr; the next token starts an expression.
func (p *exprParser) expr() (Expr, error) {
	x, err := p.orExpr()
	for err == nil && p.is("|>") {
		opPos := posOf(p.next().Pos)
		t := p.peek()
		if t.Type != symIdent {
			return x, p.fail("Name")
		}
		p.next()
		var y Expr = &Ident{Span: Span{Start: posOf(t.Pos), EndPos: p.end()}, Name: t.Value}
		for err == nil && p.is(".") {
			y, err = p.selector(y)
		}
		if err == nil && p.is("(") {
			y, err = p.call(y)
		}
		if err == nil {
			x = binary("|>", opPos, x, y)
		}
	}
	return x, err
}

// A level of left-associative binary operators: its operators, the rule
// its operands are parsed by, and that rule's name.
func (p *exprParser) binaryLevel(ops func(*lexer.Token) bool, rule string, next func() (Expr, error)) (Expr, error) {
	x, err := next()
	for err == nil && ops(p.peek()) {
		t := p.next()
		var y Expr
		if y, err = p.operand(rule, next); err == nil {
			x = binary(t.Value, posOf(t.Pos), x, y)
		}
	}
	return x, err
}

func isWordTok(w string) func(*lexer.Token) bool {
	return func(t *lexer.Token) bool { return t.Type == symIdent && t.Value == w }
}

func isCmp(t *lexer.Token) bool {
	switch t.Value {
	case "==", "!=", "<=", ">=":
		return t.Type == symOperator
	case "<", ">":
		return t.Type == symPunct
	}
	return false
}

func isSum(t *lexer.Token) bool {
	return t.Type == symPunct && (t.Value == "+" || t.Value == "-")
}

func isProd(t *lexer.Token) bool {
	return t.Type == symPunct && (t.Value == "*" || t.Value == "/" || t.Value == "@")
}

var (
	isOr  = isWordTok("or")
	isAnd = isWordTok("and")
)

func (p *exprParser) orExpr() (Expr, error)  { return p.binaryLevel(isOr, "AndExpr", p.andExpr) }
func (p *exprParser) andExpr() (Expr, error) { return p.binaryLevel(isAnd, "NotExpr", p.notExpr) }
func (p *exprParser) cmpExpr() (Expr, error) { return p.binaryLevel(isCmp, "SumExpr", p.sumExpr) }
func (p *exprParser) sumExpr() (Expr, error) { return p.binaryLevel(isSum, "ProdExpr", p.prodExpr) }
func (p *exprParser) prodExpr() (Expr, error) {
	return p.binaryLevel(isProd, "UnaryExpr", p.unaryExpr)
}

// prefix parses `op X` where X is parsed by rule.
func (p *exprParser) prefix(rule string, parse func() (Expr, error)) (Expr, error) {
	t := p.next()
	x, err := p.operand(rule, parse)
	if err != nil {
		return x, err
	}
	return &UnaryExpr{Span: Span{Start: posOf(t.Pos), EndPos: x.End()}, Op: t.Value, X: x}, nil
}

func (p *exprParser) notExpr() (Expr, error) {
	if p.isWord("not") {
		return p.prefix("NotExpr", p.notExpr)
	}
	return p.cmpExpr()
}

func (p *exprParser) unaryExpr() (Expr, error) {
	if p.is("-") {
		return p.prefix("UnaryExpr", p.unaryExpr)
	}
	x, err := p.postfix()
	if err == nil && p.is("**") {
		t := p.next()
		var y Expr
		if y, err = p.operand("UnaryExpr", p.unaryExpr); err == nil {
			x = binary("**", posOf(t.Pos), x, y)
		}
	}
	return x, err
}

// postfix parses PostfixExpr; a primary must start at the next token.
func (p *exprParser) postfix() (Expr, error) {
	x, err := p.primary()
	for err == nil {
		switch {
		case p.is("("):
			x, err = p.call(x)
		case p.is("["):
			x, err = p.index(x)
		case p.is("."):
			x, err = p.selector(x)
		default:
			return x, nil
		}
	}
	return x, err
}

func (p *exprParser) primary() (Expr, error) {
	t := p.peek()
	start := posOf(t.Pos)
	switch t.Type {
	case symFloat, symInt:
		p.next()
		kind := IntLit
		if t.Type == symFloat {
			kind = FloatLit
		}
		return &BasicLit{Span: Span{Start: start, EndPos: p.end()}, Kind: kind, Value: t.Value}, nil
	case symString:
		p.next()
		return &BasicLit{Span: Span{Start: start, EndPos: p.end()}, Kind: StringLit, Value: p.unquote(t.Value, start)}, nil
	case symIdent:
		p.next()
		if t.Value == "true" || t.Value == "false" {
			return &BasicLit{Span: Span{Start: start, EndPos: p.end()}, Kind: BoolLit, Value: t.Value}, nil
		}
		return &Ident{Span: Span{Start: start, EndPos: p.end()}, Name: t.Value}, nil
	}
	switch {
	case p.is("("):
		p.next()
		if !p.startsExpr() {
			return nil, p.fail("Expr")
		}
		x, err := p.expr()
		if err == nil {
			err = p.expect(")")
		}
		if err != nil {
			return nil, err
		}
		return &ParenExpr{Span: Span{Start: start, EndPos: p.end()}, X: x}, nil
	case p.is("["):
		p.next()
		l := &ListExpr{Elems: []Expr{}}
		if p.startsExpr() {
			for {
				x, err := p.expr()
				if err != nil {
					return nil, err
				}
				l.Elems = append(l.Elems, x)
				if !p.is(",") {
					break
				}
				p.next()
				if !p.startsExpr() {
					return nil, p.fail("Expr")
				}
			}
		}
		if err := p.expect("]"); err != nil {
			return nil, err
		}
		l.Span = Span{Start: start, EndPos: p.end()}
		return l, nil
	case p.is("{"):
		p.next()
		m := &MapExpr{Entries: []*MapEntry{}}
		if p.startsMapEntry() {
			for {
				en, err := p.mapEntry()
				if err != nil {
					return nil, err
				}
				m.Entries = append(m.Entries, en)
				if !p.is(",") {
					break
				}
				p.next()
				if !p.startsMapEntry() {
					return nil, p.fail("MapEntry")
				}
			}
		}
		if err := p.expect("}"); err != nil {
			return nil, err
		}
		m.Span = Span{Start: start, EndPos: p.end()}
		return m, nil
	}
	return nil, p.fail("Primary")
}

func (p *exprParser) startsMapEntry() bool {
	t := p.peek()
	return t.Type == symIdent || t.Type == symString
}

func (p *exprParser) mapEntry() (*MapEntry, error) {
	t := p.next()
	start := posOf(t.Pos)
	en := &MapEntry{Key: t.Value}
	if t.Type == symString {
		en.Key, en.Quoted = p.unquote(t.Value, start), true
	}
	if err := p.expect(":"); err != nil {
		return nil, err
	}
	if !p.startsExpr() {
		return nil, p.fail("Expr")
	}
	x, err := p.expr()
	if err != nil {
		return nil, err
	}
	en.Value, en.Span = x, Span{Start: start, EndPos: p.end()}
	return en, nil
}

// call parses the arguments of a call of fun.
func (p *exprParser) call(fun Expr) (Expr, error) {
	args, rparen, err := p.callArgs()
	if err != nil {
		return nil, err
	}
	return &CallExpr{Span: Span{Start: fun.Pos(), EndPos: p.end()}, Fun: fun, Args: args, Rparen: rparen}, nil
}

// callArgs parses `(args)`; the next token is "(". It returns the
// position of ")".
func (p *exprParser) callArgs() ([]*Arg, diag.Pos, error) {
	p.next()
	args := []*Arg{}
	if p.startsExpr() {
		for {
			start := posOf(p.peek().Pos)
			x, err := p.expr()
			if err != nil {
				return nil, diag.Pos{}, err
			}
			arg := &Arg{Value: x}
			if p.is(":") {
				id, ok := x.(*Ident)
				if !ok {
					p.errs.Errorf(x.Pos(), "argument name must be a plain name, not %s", describe(x))
				}
				p.next()
				if !p.startsExpr() {
					return nil, diag.Pos{}, p.fail("Expr")
				}
				if arg.Value, err = p.expr(); err != nil {
					return nil, diag.Pos{}, err
				}
				arg.Name = id
			}
			arg.Span = Span{Start: start, EndPos: p.end()}
			args = append(args, arg)
			if !p.is(",") {
				break
			}
			p.next()
			if !p.startsExpr() {
				return nil, diag.Pos{}, p.fail("Arg")
			}
		}
	}
	rparen := posOf(p.peek().Pos)
	if err := p.expect(")"); err != nil {
		return nil, diag.Pos{}, err
	}
	return args, rparen, nil
}

// index parses `[elems]` after x; the next token is "[".
func (p *exprParser) index(x Expr) (Expr, error) {
	p.next()
	ix := &IndexExpr{X: x}
	for {
		el, err := p.indexElem()
		if err != nil {
			return nil, err
		}
		ix.Indices = append(ix.Indices, el)
		if !p.is(",") {
			break
		}
		p.next()
	}
	if err := p.expect("]"); err != nil {
		return nil, err
	}
	ix.Span = Span{Start: x.Pos(), EndPos: p.end()}
	return ix, nil
}

// indexElem parses `i`, `lo:hi`, `lo:`, `:hi` or `:`. The grammar lets
// an element be empty (`x[]`, `x[a, ]`): that is reported here, at the
// next token, as participle's struct positions put it.
func (p *exprParser) indexElem() (Expr, error) {
	start := posOf(p.peek().Pos)
	var lo, hi Expr
	var err error
	if p.startsExpr() {
		if lo, err = p.expr(); err != nil {
			return nil, err
		}
	}
	colon := p.is(":")
	if colon {
		p.next()
		if p.startsExpr() {
			if hi, err = p.expr(); err != nil {
				return nil, err
			}
		}
	}
	sp := Span{Start: start, EndPos: p.end()}
	switch {
	case !colon && lo == nil:
		p.errs.Errorf(start, "expected an index or a slice inside [ ]")
		return &Ident{Span: sp, Name: "_"}, nil
	case !colon:
		return lo, nil
	}
	return &SliceExpr{Span: sp, Lo: lo, Hi: hi}, nil
}

// selector parses `.name` after x; the next token is ".". A number
// selects from a stack (`blocks.0`), and a float token `0.1` after a dot
// is two numeric selectors (`blocks.0.1`).
func (p *exprParser) selector(x Expr) (Expr, error) {
	p.next()
	t := p.peek()
	if t.Type != symIdent && t.Type != symInt && t.Type != symFloat {
		return nil, p.fail("SelName")
	}
	p.next()
	start, end := posOf(t.Pos), p.end()
	name := t.Value
	if t.Type == symFloat {
		a, b, ok := strings.Cut(name, ".")
		if !ok || strings.ContainsAny(b, "eE") {
			p.errs.Errorf(start, "invalid member name %s", name)
			return x, nil
		}
		mid := start
		mid.Offset, mid.Col = start.Offset+len(a), start.Col+len(a)
		first := &Ident{Span: Span{Start: start, EndPos: mid}, Name: a}
		x = &SelectorExpr{Span: Span{Start: x.Pos(), EndPos: mid}, X: x, Sel: first}
		mid.Offset, mid.Col = mid.Offset+1, mid.Col+1
		second := &Ident{Span: Span{Start: mid, EndPos: end}, Name: b}
		return &SelectorExpr{Span: Span{Start: x.Pos(), EndPos: end}, X: x, Sel: second}, nil
	}
	sel := &Ident{Span: Span{Start: start, EndPos: end}, Name: name}
	return &SelectorExpr{Span: Span{Start: x.Pos(), EndPos: end}, X: x, Sel: sel}, nil
}

// unquote returns the value of the string literal raw at pos.
func (p *exprParser) unquote(raw string, pos diag.Pos) string {
	s, err := strconv.Unquote(raw)
	if err != nil {
		p.errs.Errorf(pos, "invalid escape sequence in string %s", raw)
		return strings.Trim(raw, `"`)
	}
	return s
}
