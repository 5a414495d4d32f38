package lang

import (
	"bytes"
	"os"
	"sync"
	"sync/atomic"

	"github.com/alecthomas/participle/v2"
	"github.com/alecthomas/participle/v2/lexer"

	"github.com/encc-lang/encc/internal/diag"
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
// Expressions are parsed by hand (exprparse.go, whose comment gives
// their rules, the same as before): participle sees them as the
// Parseable nodes expr and callArgs. The reference grammar of the rest,
// as participle prints it (TestEBNF checks that this comment and the
// parser agree):
//
// BEGIN EBNF
// File = ImportDecl* Decl* .
// ImportDecl = "import" <string> .
// Decl = ConstDecl | ModelDecl | DatasetDecl | TrainDecl .
// ConstDecl = "const" <ident> "=" expr .
// ModelDecl = "model" <ident> HyperParams? "{" Member* "}" .
// HyperParams = "(" (HyperParam ("," HyperParam)*)? ")" .
// HyperParam = <ident> (":" TypeExpr)? ("=" expr)? .
// TypeExpr = <ident> Dims? .
// Dims = "[" (expr ("," expr)*)? "]" .
// Member = ParamDecl | ForwardDecl | IfMember | SubLayer .
// ParamDecl = ("param" | "buffer") <ident> ":" <ident> Dims ("=" expr)? .
// ForwardDecl = "forward" "(" (TensorParam ("," TensorParam)*)? ")" "->" Results Block .
// TensorParam = <ident> ":" TypeExpr ("=" expr)? .
// Results = ("(" ResultParam ("," ResultParam)* ")") | TypeExpr .
// ResultParam = <ident> ":" TypeExpr .
// Block = "{" Stmt* "}" .
// Stmt = ReturnStmt | IfStmt | AssignStmt .
// ReturnStmt = "return" expr .
// IfStmt = "if" expr Block ("else" (IfStmt | Block))? .
// AssignStmt = <ident> "=" expr .
// IfMember = "if" expr "{" Member* "}" ("else" ElseMember)? .
// ElseMember = IfMember | ("{" Member* "}") .
// SubLayer = <ident> "=" expr .
// DatasetDecl = "dataset" <ident> "{" Field* "}" .
// Field = <ident> "=" expr .
// TrainDecl = "train" <ident> "{" TrainItem* "}" .
// TrainItem = Phase | Field .
// Phase = "phase" <ident> callArgs? "{" PhaseStmt* "}" .
// PhaseStmt = FreezeStmt | LrScaleStmt | Field .
// FreezeStmt = ("freeze" | "unfreeze") Path ("," Path)* .
// Path = <string> | (<ident> ("." (<ident> | <int> | <float>))*) .
// LrScaleStmt = "lr_scale" Path "=" expr .
// END EBNF

// grammar returns the participle parser of the grammar, building it on
// first use. Building it (reflection over the structs below) takes about
// a millisecond, as long as the rest of checking a small file, so a
// process pays it only when it parses, and a command that will parse can
// start it early on another core with Prewarm.
var grammar = sync.OnceValue(buildGrammar)

// Prewarm starts building the parser in the background, so that the first
// Parse finds it ready (or waits only for the rest of the build). It is
// for the start of a process that will parse: cmd/encc calls it while the
// other packages initialize. It returns at once; calling it again does
// nothing.
//
// After the build the goroutine parses file, the .enc file the command
// names, when it is a regular file of at most prewarmMaxSize bytes: the
// first Parse with that file name and the same content takes that tree
// instead of parsing (waiting for the goroutine if it is still at work),
// so on a machine with a free core the parse is off the command's path.
// With file "" or unreadable, it parses a small file through every
// production instead, which takes the first use of the parse path (its
// code and reflection caches, ~0.1 ms) off the first real Parse.
func Prewarm(file string) {
	prewarmOnce.Do(func() {
		var pre *prewarmed
		if file != "" {
			pre = &prewarmed{name: file, done: make(chan struct{})}
			prewarmedFile.Store(pre)
		}
		go func() {
			grammar()
			if pre != nil {
				pre.read()
				if pre.src != nil {
					pre.file, pre.errs = parse(pre.name, pre.src)
					close(pre.done)
					return
				}
				close(pre.done)
			}
			Parse("prewarm.enc", []byte(prewarmSource))
		}()
	})
}

// prewarmMaxSize is the largest file Prewarm parses ahead.
const prewarmMaxSize = 1 << 20

// A prewarmed is the file Prewarm parses ahead and its result. name and
// done are set before the goroutine starts; the rest is written by it
// before done is closed.
type prewarmed struct {
	name string
	done chan struct{}
	src  []byte // nil: not read
	file *File
	errs diag.List
}

// prewarmedFile is the file Prewarm parses ahead, until a Parse takes it.
var prewarmedFile atomic.Pointer[prewarmed]

// read reads the file when it is a regular file (not a FIFO, whose data
// would be taken from the command) of at most prewarmMaxSize bytes.
func (p *prewarmed) read() {
	st, err := os.Stat(p.name)
	if err != nil || !st.Mode().IsRegular() || st.Size() > prewarmMaxSize {
		return
	}
	if src, err := os.ReadFile(p.name); err == nil && len(src) <= prewarmMaxSize {
		p.src = src
	}
}

// takePrewarmed returns the tree Prewarm parsed ahead if it is of filename
// with content src, once.
func takePrewarmed(filename string, src []byte) (*File, diag.List, bool) {
	p := prewarmedFile.Load()
	if p == nil || p.name != filename {
		return nil, nil, false
	}
	<-p.done
	if p.src == nil || !bytes.Equal(p.src, src) || !prewarmedFile.CompareAndSwap(p, nil) {
		return nil, nil, false
	}
	return p.file, p.errs, true
}

var prewarmOnce sync.Once

// prewarmSource uses every production of the grammar.
const prewarmSource = `import "a.enc"
const N = 2
model M(d: int = 4, t: f32[2]) {
    param w: f32[d] = zeros()
    l = Linear(d, d)
    if d > 1 { k = 1 } else { k = 2 }
    forward(x: f32[B, d], y: f32[B] = none) -> (a: f32[B, d], b: f32) {
        if y == none { return {a: x, b: 1.0} } else { z = x[0, :] |> l }
        return {a: x, b: -1}
    }
}
dataset D { source = "d.csv" }
train T {
    model = M()
    phase p(epochs: 1) { freeze l.weight, "w" lr_scale l = 0.1 lr = 1e-3 }
}
`

func buildGrammar() *participle.Parser[file] {
	return participle.MustBuild[file](
		participle.Lexer(scanDef{symbols}),
		participle.Elide("Whitespace", "Comment"),
		participle.Union[decl](&constDecl{}, &modelDecl{}, &datasetDecl{}, &trainDecl{}),
		participle.Union[member](&paramDecl{}, &forwardDecl{}, &ifMember{}, &subLayer{}),
		participle.Union[stmt](&returnStmt{}, &ifStmt{}, &assignStmt{}),
		participle.Union[trainItem](&phase{}, &field{}),
		participle.Union[phaseStmt](&freezeStmt{}, &lrScaleStmt{}, &field{}),
		participle.UseLookahead(0),
	)
}

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
	Name   lexer.Token `parser:"\"const\" @Ident"`
	Value  *expr       `parser:"\"=\" @@"`
}

type modelDecl struct {
	Pos     lexer.Position
	EndPos  lexer.Position
	Name    lexer.Token  `parser:"\"model\" @Ident"`
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
	Name    lexer.Token `parser:"@Ident"`
	Type    *typeExpr   `parser:"(\":\" @@)?"`
	Default *expr       `parser:"(\"=\" @@)?"`
}

type typeExpr struct {
	Pos    lexer.Position
	EndPos lexer.Position
	Name   lexer.Token `parser:"@Ident"`
	Dims   *dims       `parser:"@@?"`
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
	Name   lexer.Token `parser:"@Ident \"=\""`
	Value  *expr       `parser:"@@"`
}

type paramDecl struct {
	Pos    lexer.Position
	EndPos lexer.Position
	Kind   string      `parser:"@(\"param\" | \"buffer\")"`
	Name   lexer.Token `parser:"@Ident \":\""`
	DType  lexer.Token `parser:"@Ident"`
	Dims   *dims       `parser:"@@"`
	Init   *expr       `parser:"(\"=\" @@)?"`
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
	Name    lexer.Token `parser:"@Ident \":\""`
	Type    *typeExpr   `parser:"@@"`
	Default *expr       `parser:"(\"=\" @@)?"`
}

type resultParam struct {
	Pos    lexer.Position
	EndPos lexer.Position
	Name   lexer.Token `parser:"@Ident \":\""`
	Type   *typeExpr   `parser:"@@"`
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
	Name   lexer.Token `parser:"@Ident \"=\""`
	Value  *expr       `parser:"@@"`
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
	Name   lexer.Token `parser:"\"dataset\" @Ident"`
	Fields []*field    `parser:"\"{\" @@* \"}\""`
}

type field struct {
	Pos    lexer.Position
	EndPos lexer.Position
	Name   lexer.Token `parser:"@Ident \"=\""`
	Value  *expr       `parser:"@@"`
}

type trainDecl struct {
	Pos    lexer.Position
	EndPos lexer.Position
	Name   lexer.Token `parser:"\"train\" @Ident"`
	Items  []trainItem `parser:"\"{\" @@* \"}\""`
}

type trainItem interface{ grammarTrainItem() }

func (*field) grammarTrainItem() {}
func (*phase) grammarTrainItem() {}

type phase struct {
	Pos    lexer.Position
	EndPos lexer.Position
	Name   lexer.Token `parser:"\"phase\" @Ident"`
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

// The expression nodes expr and callArgs are parsed by hand: see
// exprparse.go.
