// Package lang is the front end of encc: it turns the text of a .enc file
// into a syntax tree with positions, and prints a tree back in canonical
// form. It knows nothing of shapes or names; the compiler package checks
// the tree.
//
// Where to begin:
//
//   - ast.go: the syntax tree (File, Decl, Member, Stmt, Type, Expr). Every
//     node embeds a Span (start and end diag.Pos) and is what the compiler,
//     the formatter and the LSP read.
//   - grammar.go: the lexer table and the participle grammar, one
//     parse-only struct per production, with the reference EBNF in a
//     comment (TestEBNF keeps it in step with the parser). The grammar is
//     LL(1) and reserves no word in the lexer.
//   - parse.go: Parse, which lexes once (collecting comments into
//     File.Comments and reporting bad characters, unterminated strings and
//     comments), runs the grammar and converts the parse tree into the
//     syntax tree, building binary-operator trees by precedence.
//   - errors.go: the one layer that rewrites participle's messages, which
//     name grammar rules, into user words (`expected "=" after "batch"`).
//     A syntax error is always exactly one diagnostic, at the offending
//     token.
//   - walk.go: Inspect (visit every node) and PathTo (the nodes around a
//     byte offset, for hover and go-to-definition).
//   - format.go: Format, the canonical printer of `encc fmt`.
//   - dump.go: Dump and ExprString, a compact s-expression form of the
//     tree for golden tests and debugging.
//
// Tests: parse_test.go (every example parses; a table of syntax errors
// with positions and messages; golden AST dumps in testdata/ast; position
// checks of every node), format_test.go (golden formatting of every
// example in testdata/format, a table of layouts, round trips),
// fuzz_test.go (FuzzParse: parse → format → parse gives the same tree and
// formatting is idempotent; crashers in testdata/fuzz). Rewrite the
// golden files with `go test ./lang -update`.
package lang
