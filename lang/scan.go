package lang

import (
	"bytes"
	"io"
	"unicode/utf8"

	"github.com/alecthomas/participle/v2/lexer"
)

// This file implements scan, the lexer Parse runs: a hand-written
// scanner that produces exactly the tokens of the lexDef table of
// lexdef_test.go, participle regular-expression lexer (same types, values
// and offsets; TestScanMatchesLexDef and FuzzParse check it against
// lexDef, which stays its specification). It exists for speed: lexDef's
// regular expressions took about a second and a half per MB and
// compiling them a millisecond at every start of encc; scan takes a few
// milliseconds per MB. participle's lexer generator (the participle
// command of its cmd/participle module) would be the usual lever, but
// that module is not published through the Go module proxy.
//
// Unlike lexDef, scan gives each token the line and column that
// diag.Pos uses: a line ends at "\n", "\r\n" or a lone "\r", and the
// column counts bytes from 1. So a token's position converts to a
// diag.Pos directly (posOf), without a search of the line table.

// The token types, numbered as participle numbers the rules of lexDef.
const (
	symComment lexer.TokenType = lexer.EOF - 1 - iota
	symUnterminatedComment
	symWhitespace
	symFloat
	symInt
	symString
	symUnterminatedString
	symIdent
	symOperator
	symPunct
	symInvalid
)

var symbols = map[string]lexer.TokenType{
	"EOF": lexer.EOF, "Comment": symComment, "UnterminatedComment": symUnterminatedComment,
	"Whitespace": symWhitespace, "Float": symFloat, "Int": symInt, "String": symString,
	"UnterminatedString": symUnterminatedString, "Ident": symIdent, "Operator": symOperator,
	"Punct": symPunct, "Invalid": symInvalid,
}

// scanDef is the lexer definition the grammar is built with: scan, and
// the names of its token types. It holds the map rather than reading the
// variable so that package initialization sets symbols before the
// grammar is built.
type scanDef struct{ symbols map[string]lexer.TokenType }

func (d scanDef) Symbols() map[string]lexer.TokenType { return d.symbols }

func (scanDef) Lex(filename string, r io.Reader) (lexer.Lexer, error) {
	src, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	return &sliceLexer{toks: scan(filename, src)}, nil
}

// scan returns the tokens of src, ending with an EOF token.
func scan(filename string, src []byte) []lexer.Token {
	s := scanner{filename: filename, src: src, line: 1}
	text := string(src) // one copy: token values are slices of it
	toks := make([]lexer.Token, 0, len(src)/3+1)
	for s.off < len(src) {
		start := s.off
		pos := lexer.Position{Filename: filename, Offset: start, Line: s.line, Column: start - s.lineStart + 1}
		typ := s.next()
		toks = append(toks, lexer.Token{Type: typ, Value: text[start:s.off], Pos: pos})
	}
	pos := lexer.Position{Filename: filename, Offset: s.off, Line: s.line, Column: s.off - s.lineStart + 1}
	return append(toks, lexer.EOFToken(pos))
}

type scanner struct {
	filename  string
	src       []byte
	off       int
	line      int // line of off
	lineStart int // offset of the start of that line
}

// newlines advances the line count over src[from:to].
func (s *scanner) newlines(from, to int) {
	for i := from; i < to; i++ {
		c := s.src[i]
		if c == '\n' || c == '\r' && (i+1 == len(s.src) || s.src[i+1] != '\n') {
			s.line++
			s.lineStart = i + 1
		}
	}
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func isIdentStart(c byte) bool { return c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }

func isIdentChar(c byte) bool { return isIdentStart(c) || isDigit(c) }

// digits returns the end of the run of digits starting at i.
func (s *scanner) digits(i int) int {
	for i < len(s.src) && isDigit(s.src[i]) {
		i++
	}
	return i
}

// exponent returns the end of `[eE][-+]?[0-9]+` at i, or -1.
func (s *scanner) exponent(i int) int {
	if i >= len(s.src) || s.src[i] != 'e' && s.src[i] != 'E' {
		return -1
	}
	i++
	if i < len(s.src) && (s.src[i] == '+' || s.src[i] == '-') {
		i++
	}
	if j := s.digits(i); j > i {
		return j
	}
	return -1
}

// next scans one token at s.off, in the order of the lexDef rules (the
// first rule that matches wins), and returns its type.
func (s *scanner) next() lexer.TokenType {
	src, i := s.src, s.off
	c := src[i]
	switch {
	case c == '/' && i+1 < len(src) && src[i+1] == '/':
		j := i + 2
		for j < len(src) && src[j] != '\n' && src[j] != '\r' {
			j++
		}
		s.off = j
		return symComment
	case c == '/' && i+1 < len(src) && src[i+1] == '*':
		typ := symComment
		j := bytes.Index(src[i+2:], []byte("*/"))
		if j < 0 {
			typ, j = symUnterminatedComment, len(src)
		} else {
			j += i + 4
		}
		s.newlines(i, j)
		s.off = j
		return typ
	case c == ' ' || c == '\t' || c == '\r' || c == '\n':
		j := i
		for j < len(src) && (src[j] == ' ' || src[j] == '\t' || src[j] == '\r' || src[j] == '\n') {
			j++
		}
		s.newlines(i, j)
		s.off = j
		return symWhitespace
	case bytes.HasPrefix(src[i:], []byte(bom)):
		s.off = i + len(bom)
		return symWhitespace
	case isDigit(c):
		j := s.digits(i)
		if j+1 < len(src) && src[j] == '.' && isDigit(src[j+1]) {
			j = s.digits(j + 1)
			if k := s.exponent(j); k > 0 {
				j = k
			}
			s.off = j
			return symFloat
		}
		if k := s.exponent(j); k > 0 {
			s.off = k
			return symFloat
		}
		s.off = j
		return symInt
	case c == '"':
		for j := i + 1; j < len(src); {
			switch src[j] {
			case '"':
				s.newlines(i, j) // a string may hold a "\r"
				s.off = j + 1
				return symString
			case '\n':
				j = len(src)
			case '\\':
				if j+1 >= len(src) || src[j+1] == '\n' {
					j = len(src)
					continue
				}
				_, n := utf8.DecodeRune(src[j+1:])
				j += 1 + n
			default:
				j++
			}
		}
		s.off = i + 1
		return symUnterminatedString
	case isIdentStart(c):
		j := i + 1
		for j < len(src) && isIdentChar(src[j]) {
			j++
		}
		s.off = j
		return symIdent
	}
	if i+1 < len(src) {
		switch string(src[i : i+2]) {
		case "|>", "->", "**", "==", "!=", "<=", ">=":
			s.off = i + 2
			return symOperator
		}
	}
	switch c {
	case '-', '+', '*', '/', '@', '(', ')', '{', '}', '[', ']', ',', '.', ':', '=', '<', '>':
		s.off = i + 1
		return symPunct
	}
	_, n := utf8.DecodeRune(src[i:])
	s.off = i + n
	return symInvalid
}
