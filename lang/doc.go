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
//   - scan.go: the scanner, hand-written for speed; lexdef_test.go holds
//     the token table it implements, as participle regular expressions,
//     and the tests check one against the other.
//   - grammar.go: the participle grammar of declarations, members and
//     statements, one parse-only struct per production, with the
//     reference EBNF in a comment (TestEBNF keeps it in step with the
//     parser). The grammar is LL(1) and reserves no word in the lexer.
//   - exprparse.go: expressions, parsed by a hand-written precedence
//     parser that participle calls through its Parseable interface; it
//     builds the syntax tree directly. lang/internal/refparse keeps the
//     participle-only parser it replaced, and TestReference and
//     FuzzReference (reference_test.go) check that both give the same
//     trees, positions and diagnostics. BenchmarkParse1MB times it.
//   - parse.go: Parse, which lexes once (collecting comments into
//     File.Comments and reporting bad characters, unterminated strings and
//     comments), runs the grammar on the significant tokens and converts
//     the parse tree into the syntax tree.
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
