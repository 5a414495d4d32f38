package lang

import "github.com/alecthomas/participle/v2/lexer"

// lexDef is the token table, the specification of the hand-written
// scanner of scan.go (TestScanMatchesLexDef and FuzzParse check that
// they agree). Order matters: the first rule that matches
// wins. Whitespace and comments are elided from parsing (comments are
// collected into File.Comments); Unterminated*, and Invalid exist only so
// that Parse can name those mistakes itself.
var lexDef = lexer.MustSimple([]lexer.SimpleRule{
	{Name: "Comment", Pattern: `//[^\r\n]*|/\*(?s:.*?)\*/`},
	{Name: "UnterminatedComment", Pattern: `/\*(?s:.*)`},
	{Name: "Whitespace", Pattern: `[ \t\r\n]+|\x{FEFF}`},
	{Name: "Float", Pattern: `[0-9]+\.[0-9]+([eE][-+]?[0-9]+)?|[0-9]+[eE][-+]?[0-9]+`},
	{Name: "Int", Pattern: `[0-9]+`},
	{Name: "String", Pattern: `"(\\.|[^"\\\n])*"`},
	{Name: "UnterminatedString", Pattern: `"`},
	{Name: "Ident", Pattern: `[A-Za-z_][A-Za-z0-9_]*`},
	{Name: "Operator", Pattern: `\|>|->|\*\*|==|!=|<=|>=`},
	{Name: "Punct", Pattern: `[-+*/@(){}\[\],.:=<>]`},
	{Name: "Invalid", Pattern: `.`},
})
