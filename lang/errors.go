package lang

import (
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/alecthomas/participle/v2/lexer"

	"github.com/encc-lang/encc/internal/diag"
)

// This file implements the rewriting of participle's syntax errors, which
// name grammar productions ("unexpected token "32" (expected "=" Expr)"),
// into user words ("expected "=" after "batch""). The grammar decides
// every branch on its first token, so the error is always at the
// offending token; this layer only chooses the words, from the expected
// production, the previous token and the innermost open bracket.

// ruleWords names the grammar productions of grammar.go in user words.
var ruleWords = map[string]string{
	"Expr": "expression", "OrExpr": "expression", "AndExpr": "expression",
	"NotExpr": "expression", "CmpExpr": "expression", "SumExpr": "expression",
	"ProdExpr": "expression", "UnaryExpr": "expression", "PowExpr": "expression",
	"PostfixExpr": "expression", "Primary": "expression", "expr": "expression",
	"Name":        "name",
	"SelName":     "member name",
	"HyperParam":  "parameter",
	"TensorParam": "parameter",
	"TypeExpr":    "type",
	"Dims":        `"["`,
	"Results":     "result type",
	"Block":       `"{"`,
	"Arg":         "argument",
	"MapEntry":    "map entry",
	"IndexElem":   "index",
	"Path":        "parameter path",
	"ElseMember":  `"if" or "{"`,
	"(IfStmt":     `"if" or "{"`,
	"<string>":    "string",
	"<ident>":     "name",
}

var binaryOps = map[string]bool{
	"+": true, "-": true, "*": true, "/": true, "@": true, "**": true,
	"==": true, "!=": true, "<": true, "<=": true, ">": true, ">=": true,
	"or": true, "and": true,
}

// keywords that may stand before "(" or "[" without being called or
// indexed.
var notOperand = map[string]bool{
	"if": true, "return": true, "not": true, "and": true, "or": true,
	"else": true, "forward": true,
}

var dtypes = map[string]bool{"f32": true, "f16": true, "bf16": true, "i32": true, "i64": true, "bool": true}

// expectedRE is compiled on the first syntax error.
var expectedRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`\(expected (.*)\)$`) })

// expectedOf extracts the "(expected ...)" part of a participle message.
func expectedOf(msg string) string {
	if m := expectedRE().FindStringSubmatch(msg); m != nil {
		return m[1]
	}
	return ""
}

// firstExpected returns the first element of an expected EBNF string:
// `"=" Expr` gives `"="`, `Name HyperParams? ...` gives `Name`.
func firstExpected(exp string) string {
	exp = strings.TrimSpace(exp)
	if exp == "" {
		return ""
	}
	if exp[0] == '"' {
		if i := strings.IndexByte(exp[1:], '"'); i >= 0 {
			return exp[:i+2]
		}
	}
	if i := strings.IndexAny(exp, " *?|)"); i > 0 {
		return exp[:i]
	}
	return exp
}

func (p *parser) tokenAt(off int) lexer.Token {
	i := sort.Search(len(p.toks), func(i int) bool { return p.toks[i].Pos.Offset >= off })
	if i < len(p.toks) {
		return p.toks[i]
	}
	return p.toks[len(p.toks)-1]
}

// significant returns the tokens that the grammar sees, up to and
// including the one at offset off.
func (p *parser) significant(off int) []lexer.Token {
	var out []lexer.Token
	for _, t := range p.toks {
		if t.Type == symWhitespace || t.Type == symComment {
			continue
		}
		if t.Pos.Offset > off {
			break
		}
		out = append(out, t)
		if t.EOF() {
			break
		}
	}
	return out
}

func tokDesc(t lexer.Token) string {
	switch {
	case t.EOF():
		return "end of file"
	case t.Type == symString:
		s := t.Value
		if len(s) > 24 {
			s = s[:20] + `..."`
		}
		return "string " + s
	}
	return strconv.Quote(t.Value)
}

func isOperandEnd(t lexer.Token) bool {
	switch {
	case t.Type == symIdent:
		return !notOperand[t.Value] && !binaryOps[t.Value]
	case t.Type == symInt || t.Type == symFloat || t.Type == symString:
		return true
	}
	return t.Value == ")" || t.Value == "]" || t.Value == "}"
}

// listContext names what a bracketed list at toks[open] holds: "argument",
// "parameter", "result", "index", "dimension", "element", "map entry",
// "expression" (a parenthesized one) or "" (a body).
func listContext(toks []lexer.Token, open int) string {
	var prev, prev2 lexer.Token
	if open > 0 {
		prev = toks[open-1]
	}
	if open > 1 {
		prev2 = toks[open-2]
	}
	switch toks[open].Value {
	case "(":
		switch {
		case prev.Value == "forward":
			return "parameter"
		case prev.Type == symIdent && prev2.Value == "model":
			return "parameter"
		case prev.Value == "->":
			return "result"
		case isOperandEnd(prev):
			return "argument"
		}
		return "expression"
	case "[":
		switch {
		case prev.Type == symIdent && dtypes[prev.Value]:
			return "dimension"
		case isOperandEnd(prev):
			return "index"
		}
		return "element"
	case "{":
		switch {
		case prev.Value == "=" || prev.Value == ":" || prev.Value == "(" || prev.Value == "," ||
			prev.Value == "[" || prev.Value == "return" || prev.Value == "|>" || binaryOps[prev.Value]:
			return "map entry"
		}
	}
	return ""
}

var closer = map[string]string{"(": ")", "[": "]", "{": "}"}

// rewrite builds the diagnostic for an unexpected token tok where the
// grammar expected the EBNF string exp.
func (p *parser) rewrite(tok lexer.Token, exp string) *diag.Diagnostic {
	pos := p.at(tok.Pos.Offset)
	toks := p.significant(tok.Pos.Offset)
	if len(toks) == 0 || toks[len(toks)-1].Pos.Offset != tok.Pos.Offset {
		toks = append(toks, tok)
	}
	at := len(toks) - 1
	var prev lexer.Token
	if at > 0 {
		prev = toks[at-1]
	}

	// The innermost open bracket before tok.
	var stack []int
	for i := 0; i < at; i++ {
		switch v := toks[i].Value; v {
		case "(", "[", "{":
			if toks[i].Type != symString {
				stack = append(stack, i)
			}
		case ")", "]", "}":
			if toks[i].Type != symString && len(stack) > 0 {
				stack = stack[:len(stack)-1]
			}
		}
	}
	open := -1
	if len(stack) > 0 {
		open = stack[len(stack)-1]
	}

	first := firstExpected(exp)
	want := first
	if w, ok := ruleWords[first]; ok {
		want = w
	}

	// At the top level participle only says the token is unexpected.
	if first == "" {
		switch {
		case tok.Value == "import":
			return diag.Errorf(pos, "unexpected \"import\": imports come before declarations")
		case tok.Type == symIdent:
			return diag.Errorf(pos, "unexpected %s, expected import, const, model, dataset or train", tokDesc(tok))
		}
		return diag.Errorf(pos, "unexpected %s", tokDesc(tok))
	}

	// "return z, recon", as Python writes two results.
	if tok.Value == "," && tok.Type != symString && p.afterReturn(toks, at) {
		return diag.Errorf(pos, "a forward returns one value: for several results, declare them by name (-> (z: ..., recon: ...)) and return a map: return { z: z, recon: ... }")
	}

	// A closing bracket where a list could also go on.
	if open >= 0 && first == strconv.Quote(closer[toks[open].Value]) {
		ctx := listContext(toks, open)
		switch {
		case tok.EOF():
			return diag.Errorf(pos, "unexpected end of file, expected %s", first).
				WithNote(p.at(toks[open].Pos.Offset), "%q opened here", toks[open].Value)
		case binaryOps[tok.Value] && p.afterPipe(toks, at):
			return pipeError(pos, tok)
		case ctx == "expression":
			return diag.Errorf(pos, "expected %s after expression", first)
		case ctx != "":
			return diag.Errorf(pos, "expected %s or \",\" after %s", first, ctx)
		}
		return diag.Errorf(pos, "unexpected %s", tokDesc(tok))
	}
	if tok.EOF() {
		return diag.Errorf(pos, "unexpected end of file, expected %s", want)
	}
	if first == "Name" && prev.Value == "|>" {
		return diag.Errorf(pos, "expected name after \"|>\": the right side of |> is a name or a call")
	}
	if prev.Value == "" {
		return diag.Errorf(pos, "expected %s, found %s", want, tokDesc(tok))
	}
	return diag.Errorf(pos, "expected %s after %s", want, tokDesc(prev))
}

// afterPipe reports whether toks[at] follows a |> stage of the same
// expression: the only place where a binary operator cannot go on.
func (p *parser) afterPipe(toks []lexer.Token, at int) bool {
	depth := 0
	for i := at - 1; i >= 0; i-- {
		switch toks[i].Value {
		case ")", "]", "}":
			depth++
		case "(", "[", "{":
			if depth == 0 {
				return false
			}
			depth--
		case "|>":
			if depth == 0 {
				return true
			}
		case "=", "return", ",", ":":
			if depth == 0 {
				return false
			}
		}
	}
	return false
}

// afterReturn reports whether toks[at] follows the expression of a
// return statement, outside any bracket of it.
func (p *parser) afterReturn(toks []lexer.Token, at int) bool {
	depth := 0
	for i := at - 1; i >= 0; i-- {
		switch toks[i].Value {
		case ")", "]", "}":
			depth++
		case "(", "[", "{":
			if depth == 0 {
				return false
			}
			depth--
		case "return":
			return depth == 0 && toks[i].Type == symIdent
		case "=", ",", ":":
			if depth == 0 {
				return false
			}
		}
	}
	return false
}

func pipeError(pos diag.Pos, tok lexer.Token) *diag.Diagnostic {
	return diag.Errorf(pos, "unexpected %s after a |> stage: the right side of |> is a name or a call; write (x |> f) %s y",
		tokDesc(tok), tok.Value)
}

// describe names the kind of an expression for messages.
func describe(e Expr) string {
	switch e := e.(type) {
	case *BasicLit:
		return "a literal"
	case *CallExpr:
		return "a call"
	case *SelectorExpr:
		if _, ok := DottedName(e); ok {
			return "a dotted name"
		}
	}
	return "an expression"
}
