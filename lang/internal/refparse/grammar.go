package refparse

import (
	"github.com/alecthomas/participle/v2"
	"github.com/alecthomas/participle/v2/lexer"
)

// This file implements the participle grammar of .enc files: the lexer
// table and one parse-only struct per production. Parse (parse.go) runs it
// and converts the parse tree once into the syntax tree of ast.go; nothing
// outside this package sees these structs.
//
// The grammar is LL(1): the next token decides every branch, and it needs
// no separators, because no expression is ever directly followed by an
// identifier and no member, field or statement starts with a token that
// could continue an expression. It runs with participle.UseLookahead(0):
// participle's lookahead n lets a failed branch back out after consuming
// n tokens, and with n = 1 the error inside `batch 32` (a field without
// "=") is lost in the repetition of fields and reported as `expected "}"`
// at "batch"; with 0 a branch that consumed one token is committed, so
// every error is reported at the offending token. The price is small:
// named arguments are parsed as `Expr (":" Expr)?` (parse.go checks the
// name), lists have no trailing comma, and where a keyword-led
// alternative and `name = ...` compete the keyword comes first, so a
// keyword (`forward`, `param`, `phase`, `freeze`...) cannot name a member
// or field there. Other keywords are ordinary identifiers matched by
// value: `model`, `from`, `in` stay usable as names where they fit.
//
// The reference grammar, as participle prints it (TestEBNF checks that
// this comment and the parser agree):
//
// BEGIN EBNF
// File = ImportDecl* Decl* .
// ImportDecl = "import" <string> .
// Decl = ConstDecl | ModelDecl | DatasetDecl | TrainDecl .
// ConstDecl = "const" Name "=" Expr .
// Name = <ident> .
// Expr = OrExpr PipeStage* .
// OrExpr = AndExpr OrTail* .
// AndExpr = NotExpr AndTail* .
// NotExpr = ("not" NotExpr) | CmpExpr .
// CmpExpr = SumExpr CmpTail* .
// SumExpr = ProdExpr SumTail* .
// ProdExpr = UnaryExpr ProdTail* .
// UnaryExpr = ("-" UnaryExpr) | PowExpr .
// PowExpr = PostfixExpr PowTail? .
// PostfixExpr = Primary Suffix* .
// Primary = <float> | <int> | <string> | ("true" | "false") | <ident> | ("(" Expr ")") | ListExpr | MapExpr .
// ListExpr = "[" (Expr ("," Expr)*)? "]" .
// MapExpr = "{" (MapEntry ("," MapEntry)*)? "}" .
// MapEntry = (<ident> | <string>) ":" Expr .
// Suffix = CallArgs | Index | Selector .
// CallArgs = "(" (Arg ("," Arg)*)? ")" .
// Arg = Expr (":" Expr)? .
// Index = "[" IndexElem ("," IndexElem)* "]" .
// IndexElem = Expr? (":" Expr?)? .
// Selector = "." SelName .
// SelName = (<ident> | <int> | <float>) .
// PowTail = "**" UnaryExpr .
// ProdTail = ("*" | "/" | "@") UnaryExpr .
// SumTail = ("+" | "-") ProdExpr .
// CmpTail = ("==" | "!=" | "<=" | ">=" | "<" | ">") SumExpr .
// AndTail = "and" NotExpr .
// OrTail = "or" AndExpr .
// PipeStage = "|>" Name Selector* CallArgs? .
// ModelDecl = "model" Name HyperParams? "{" Member* "}" .
// HyperParams = "(" (HyperParam ("," HyperParam)*)? ")" .
// HyperParam = Name (":" TypeExpr)? ("=" Expr)? .
// TypeExpr = Name Dims? .
// Dims = "[" (Expr ("," Expr)*)? "]" .
// Member = ParamDecl | ForwardDecl | IfMember | SubLayer .
// ParamDecl = ("param" | "buffer") Name ":" Name Dims ("=" Expr)? .
// ForwardDecl = "forward" "(" (TensorParam ("," TensorParam)*)? ")" "->" Results Block .
// TensorParam = Name ":" TypeExpr ("=" Expr)? .
// Results = ("(" ResultParam ("," ResultParam)* ")") | TypeExpr .
// ResultParam = Name ":" TypeExpr .
// Block = "{" Stmt* "}" .
// Stmt = ReturnStmt | IfStmt | AssignStmt .
// ReturnStmt = "return" Expr .
// IfStmt = "if" Expr Block ("else" (IfStmt | Block))? .
// AssignStmt = Name "=" Expr .
// IfMember = "if" Expr "{" Member* "}" ("else" ElseMember)? .
// ElseMember = IfMember | ("{" Member* "}") .
// SubLayer = Name "=" Expr .
// DatasetDecl = "dataset" Name "{" Field* "}" .
// Field = Name "=" Expr .
// TrainDecl = "train" Name "{" TrainItem* "}" .
// TrainItem = Phase | Field .
// Phase = "phase" Name CallArgs? "{" PhaseStmt* "}" .
// PhaseStmt = FreezeStmt | LrScaleStmt | Field .
// FreezeStmt = ("freeze" | "unfreeze") Path ("," Path)* .
// Path = <string> | (<ident> ("." (<ident> | <int> | <float>))*) .
// LrScaleStmt = "lr_scale" Path "=" Expr .
// END EBNF

// lexDef is the token table. Order matters: the first rule that matches
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

var grammar = participle.MustBuild[file](
	participle.Lexer(lexDef),
	participle.Elide("Whitespace", "Comment"),
	participle.Union[decl](&constDecl{}, &modelDecl{}, &datasetDecl{}, &trainDecl{}),
	participle.Union[member](&paramDecl{}, &forwardDecl{}, &ifMember{}, &subLayer{}),
	participle.Union[stmt](&returnStmt{}, &ifStmt{}, &assignStmt{}),
	participle.Union[trainItem](&phase{}, &field{}),
	participle.Union[phaseStmt](&freezeStmt{}, &lrScaleStmt{}, &field{}),
	participle.Union[suffix](&callArgs{}, &index{}, &selector{}),
	participle.UseLookahead(0),
)

// ---------------------------------------------------------------------
// File and declarations

type file struct {
	Pos     lexer.Position
	EndPos  lexer.Position
	Imports []*importDecl `parser:"@@*"`
	Decls   []decl        `parser:"@@*"`
}

type importDecl struct {
	Pos    lexer.Position
	EndPos lexer.Position
	Path   string `parser:"\"import\" @String"`
}

type decl interface{ grammarDecl() }

func (*constDecl) grammarDecl()   {}
func (*modelDecl) grammarDecl()   {}
func (*datasetDecl) grammarDecl() {}
func (*trainDecl) grammarDecl()   {}

type constDecl struct {
	Pos    lexer.Position
	EndPos lexer.Position
	Name   *name `parser:"\"const\" @@"`
	Value  *expr `parser:"\"=\" @@"`
}

type name struct {
	Pos    lexer.Position
	EndPos lexer.Position
	Name   string `parser:"@Ident"`
}

type modelDecl struct {
	Pos     lexer.Position
	EndPos  lexer.Position
	Name    *name        `parser:"\"model\" @@"`
	Params  *hyperParams `parser:"@@?"`
	Members []member     `parser:"\"{\" @@* \"}\""`
}

type hyperParams struct {
	Pos    lexer.Position
	EndPos lexer.Position
	Params []*hyperParam `parser:"\"(\" (@@ (\",\" @@)*)? \")\""`
}

type hyperParam struct {
	Pos     lexer.Position
	EndPos  lexer.Position
	Name    *name     `parser:"@@"`
	Type    *typeExpr `parser:"(\":\" @@)?"`
	Default *expr     `parser:"(\"=\" @@)?"`
}

type typeExpr struct {
	Pos    lexer.Position
	EndPos lexer.Position
	Name   *name `parser:"@@"`
	Dims   *dims `parser:"@@?"`
}

type dims struct {
	Pos    lexer.Position
	EndPos lexer.Position
	Dims   []*expr `parser:"\"[\" (@@ (\",\" @@)*)? \"]\""`
}

// ---------------------------------------------------------------------
// Model members and statements

type member interface{ grammarMember() }

func (*subLayer) grammarMember()    {}
func (*paramDecl) grammarMember()   {}
func (*forwardDecl) grammarMember() {}
func (*ifMember) grammarMember()    {}

type subLayer struct {
	Pos    lexer.Position
	EndPos lexer.Position
	Name   *name `parser:"@@ \"=\""`
	Value  *expr `parser:"@@"`
}

type paramDecl struct {
	Pos    lexer.Position
	EndPos lexer.Position
	Kind   string `parser:"@(\"param\" | \"buffer\")"`
	Name   *name  `parser:"@@ \":\""`
	DType  *name  `parser:"@@"`
	Dims   *dims  `parser:"@@"`
	Init   *expr  `parser:"(\"=\" @@)?"`
}

type forwardDecl struct {
	Pos     lexer.Position
	EndPos  lexer.Position
	Params  []*tensorParam `parser:"\"forward\" \"(\" (@@ (\",\" @@)*)? \")\""`
	Results *results       `parser:"\"->\" @@"`
	Body    *block         `parser:"@@"`
}

type tensorParam struct {
	Pos     lexer.Position
	EndPos  lexer.Position
	Name    *name     `parser:"@@ \":\""`
	Type    *typeExpr `parser:"@@"`
	Default *expr     `parser:"(\"=\" @@)?"`
}

type resultParam struct {
	Pos    lexer.Position
	EndPos lexer.Position
	Name   *name     `parser:"@@ \":\""`
	Type   *typeExpr `parser:"@@"`
}

type results struct {
	Pos    lexer.Position
	EndPos lexer.Position
	Named  []*resultParam `parser:"\"(\" @@ (\",\" @@)* \")\""`
	Single *typeExpr      `parser:"| @@"`
}

type block struct {
	Pos    lexer.Position
	EndPos lexer.Position
	Stmts  []stmt `parser:"\"{\" @@* \"}\""`
}

type stmt interface{ grammarStmt() }

func (*assignStmt) grammarStmt() {}
func (*returnStmt) grammarStmt() {}
func (*ifStmt) grammarStmt()     {}

type assignStmt struct {
	Pos    lexer.Position
	EndPos lexer.Position
	Name   *name `parser:"@@ \"=\""`
	Value  *expr `parser:"@@"`
}

type returnStmt struct {
	Pos    lexer.Position
	EndPos lexer.Position
	Value  *expr `parser:"\"return\" @@"`
}

type ifStmt struct {
	Pos    lexer.Position
	EndPos lexer.Position
	Cond   *expr   `parser:"\"if\" @@"`
	Then   *block  `parser:"@@"`
	ElseIf *ifStmt `parser:"(\"else\" (@@"`
	Else   *block  `parser:"| @@))?"`
}

type ifMember struct {
	Pos    lexer.Position
	EndPos lexer.Position
	Cond   *expr       `parser:"\"if\" @@"`
	Then   []member    `parser:"\"{\" @@* \"}\""`
	Else   *elseMember `parser:"(\"else\" @@)?"`
}

type elseMember struct {
	Pos     lexer.Position
	EndPos  lexer.Position
	If      *ifMember `parser:"@@"`
	Block   bool      `parser:"| (@\"{\""`
	Members []member  `parser:"@@* \"}\")"`
}

// ---------------------------------------------------------------------
// Datasets and training

type datasetDecl struct {
	Pos    lexer.Position
	EndPos lexer.Position
	Name   *name    `parser:"\"dataset\" @@"`
	Fields []*field `parser:"\"{\" @@* \"}\""`
}

type field struct {
	Pos    lexer.Position
	EndPos lexer.Position
	Name   *name `parser:"@@ \"=\""`
	Value  *expr `parser:"@@"`
}

type trainDecl struct {
	Pos    lexer.Position
	EndPos lexer.Position
	Name   *name       `parser:"\"train\" @@"`
	Items  []trainItem `parser:"\"{\" @@* \"}\""`
}

type trainItem interface{ grammarTrainItem() }

func (*field) grammarTrainItem() {}
func (*phase) grammarTrainItem() {}

type phase struct {
	Pos    lexer.Position
	EndPos lexer.Position
	Name   *name       `parser:"\"phase\" @@"`
	Args   *callArgs   `parser:"@@?"`
	Stmts  []phaseStmt `parser:"\"{\" @@* \"}\""`
}

type phaseStmt interface{ grammarPhaseStmt() }

func (*field) grammarPhaseStmt()       {}
func (*freezeStmt) grammarPhaseStmt()  {}
func (*lrScaleStmt) grammarPhaseStmt() {}

type freezeStmt struct {
	Pos    lexer.Position
	EndPos lexer.Position
	Kind   string  `parser:"@(\"freeze\" | \"unfreeze\")"`
	Paths  []*path `parser:"@@ (\",\" @@)*"`
}

type path struct {
	Pos    lexer.Position
	EndPos lexer.Position
	Quoted *string  `parser:"@String"`
	First  *string  `parser:"| (@Ident"`
	Rest   []string `parser:"(\".\" @(Ident | Int | Float))*)"`
}

type lrScaleStmt struct {
	Pos    lexer.Position
	EndPos lexer.Position
	Path   *path `parser:"\"lr_scale\" @@"`
	Value  *expr `parser:"\"=\" @@"`
}

// ---------------------------------------------------------------------
// Expressions, one level of precedence per production, lowest first.

type expr struct {
	Pos    lexer.Position
	EndPos lexer.Position
	X      *orExpr      `parser:"@@"`
	Pipe   []*pipeStage `parser:"@@*"`
}

// A pipeStage is `|> f`, `|> blocks.0` or `|> f(args)`.
type pipeStage struct {
	Pos    lexer.Position
	EndPos lexer.Position
	Fun    *name       `parser:"\"|>\" @@"`
	Sels   []*selector `parser:"@@*"`
	Args   *callArgs   `parser:"@@?"`
}

type orExpr struct {
	Pos    lexer.Position
	EndPos lexer.Position
	X      *andExpr  `parser:"@@"`
	Rest   []*orTail `parser:"@@*"`
}

type orTail struct {
	Pos    lexer.Position
	EndPos lexer.Position
	Op     string   `parser:"@\"or\""`
	Y      *andExpr `parser:"@@"`
}

type andExpr struct {
	Pos    lexer.Position
	EndPos lexer.Position
	X      *notExpr   `parser:"@@"`
	Rest   []*andTail `parser:"@@*"`
}

type andTail struct {
	Pos    lexer.Position
	EndPos lexer.Position
	Op     string   `parser:"@\"and\""`
	Y      *notExpr `parser:"@@"`
}

type notExpr struct {
	Pos    lexer.Position
	EndPos lexer.Position
	Not    *notExpr `parser:"\"not\" @@"`
	X      *cmpExpr `parser:"| @@"`
}

type cmpExpr struct {
	Pos    lexer.Position
	EndPos lexer.Position
	X      *sumExpr   `parser:"@@"`
	Rest   []*cmpTail `parser:"@@*"`
}

type cmpTail struct {
	Pos    lexer.Position
	EndPos lexer.Position
	Op     string   `parser:"@(\"==\" | \"!=\" | \"<=\" | \">=\" | \"<\" | \">\")"`
	Y      *sumExpr `parser:"@@"`
}

type sumExpr struct {
	Pos    lexer.Position
	EndPos lexer.Position
	X      *prodExpr  `parser:"@@"`
	Rest   []*sumTail `parser:"@@*"`
}

type sumTail struct {
	Pos    lexer.Position
	EndPos lexer.Position
	Op     string    `parser:"@(\"+\" | \"-\")"`
	Y      *prodExpr `parser:"@@"`
}

type prodExpr struct {
	Pos    lexer.Position
	EndPos lexer.Position
	X      *unaryExpr  `parser:"@@"`
	Rest   []*prodTail `parser:"@@*"`
}

type prodTail struct {
	Pos    lexer.Position
	EndPos lexer.Position
	Op     string     `parser:"@(\"*\" | \"/\" | \"@\")"`
	Y      *unaryExpr `parser:"@@"`
}

type unaryExpr struct {
	Pos    lexer.Position
	EndPos lexer.Position
	Neg    *unaryExpr `parser:"\"-\" @@"`
	X      *powExpr   `parser:"| @@"`
}

type powExpr struct {
	Pos    lexer.Position
	EndPos lexer.Position
	X      *postfixExpr `parser:"@@"`
	Exp    *powTail     `parser:"@@?"`
}

type powTail struct {
	Pos    lexer.Position
	EndPos lexer.Position
	Y      *unaryExpr `parser:"\"**\" @@"`
}

type postfixExpr struct {
	Pos      lexer.Position
	EndPos   lexer.Position
	X        *primary `parser:"@@"`
	Suffixes []suffix `parser:"@@*"`
}

type primary struct {
	Pos    lexer.Position
	EndPos lexer.Position
	Float  *string   `parser:"@Float"`
	Int    *string   `parser:"| @Int"`
	String *string   `parser:"| @String"`
	Bool   *string   `parser:"| @(\"true\" | \"false\")"`
	Ident  *string   `parser:"| @Ident"`
	Paren  *expr     `parser:"| \"(\" @@ \")\""`
	List   *listExpr `parser:"| @@"`
	Map    *mapExpr  `parser:"| @@"`
}

type listExpr struct {
	Pos    lexer.Position
	EndPos lexer.Position
	Elems  []*expr `parser:"\"[\" (@@ (\",\" @@)*)? \"]\""`
}

type mapExpr struct {
	Pos     lexer.Position
	EndPos  lexer.Position
	Entries []*mapEntry `parser:"\"{\" (@@ (\",\" @@)*)? \"}\""`
}

type mapEntry struct {
	Pos    lexer.Position
	EndPos lexer.Position
	Key    *string `parser:"(@Ident"`
	Quoted *string `parser:"| @String) \":\""`
	Value  *expr   `parser:"@@"`
}

type suffix interface{ grammarSuffix() }

func (*callArgs) grammarSuffix() {}
func (*index) grammarSuffix()    {}
func (*selector) grammarSuffix() {}

type callArgs struct {
	Pos    lexer.Position
	EndPos lexer.Position
	Args   []*arg `parser:"\"(\" (@@ (\",\" @@)*)? \")\""`
}

type arg struct {
	Pos    lexer.Position
	EndPos lexer.Position
	Value  *expr `parser:"@@"`
	Named  *expr `parser:"(\":\" @@)?"`
}

type index struct {
	Pos    lexer.Position
	EndPos lexer.Position
	Elems  []*indexElem `parser:"\"[\" @@ (\",\" @@)* \"]\""`
}

type indexElem struct {
	Pos    lexer.Position
	EndPos lexer.Position
	Lo     *expr `parser:"@@?"`
	Colon  bool  `parser:"(@\":\""`
	Hi     *expr `parser:"@@?)?"`
}

type selector struct {
	Pos    lexer.Position
	EndPos lexer.Position
	Sel    *selName `parser:"\".\" @@"`
}

// A selName is a member name; a number selects from a stack (`blocks.0`)
// and a float token such as `0.1` stands for two of them.
type selName struct {
	Pos    lexer.Position
	EndPos lexer.Position
	Name   string `parser:"@(Ident | Int | Float)"`
}
