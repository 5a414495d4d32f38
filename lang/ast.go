package lang

import "github.com/encc-lang/encc/internal/diag"

// This file implements the syntax tree of a .enc file. Parse produces it
// from the participle grammar (grammar.go); the compiler and Format read
// it. Every node knows its start and end position.

// A Node is any node of the syntax tree.
type Node interface {
	Pos() diag.Pos // first character of the node
	End() diag.Pos // position just after the node
}

// A Span is embedded in every node to record where it is.
type Span struct {
	Start  diag.Pos
	EndPos diag.Pos
}

func (s Span) Pos() diag.Pos { return s.Start }
func (s Span) End() diag.Pos { return s.EndPos }

// ---------------------------------------------------------------------
// File and declarations

// A File is one parsed .enc source file.
type File struct {
	Span
	Name     string     // file name as given to Parse
	Imports  []*Import  // in source order
	Decls    []Decl     // const, model, dataset, train; in source order
	Comments []*Comment // every comment, in source order
}

// A Comment is a // line comment or a /* */ block comment, text included.
type Comment struct {
	Span
	Text string
}

// An Import names another .enc file by a path relative to this file.
type Import struct {
	Span
	Path    string
	PathPos diag.Pos
}

// A Decl is a top-level declaration: *ConstDecl, *ModelDecl,
// *DatasetDecl or *TrainDecl.
type Decl interface {
	Node
	DeclName() *Ident
	decl()
}

// A ConstDecl is `const NAME = expr`.
type ConstDecl struct {
	Span
	Name  *Ident
	Value Expr
}

// A ModelDecl is `model Name(params) { members }`.
type ModelDecl struct {
	Span
	Name      *Ident
	HasParens bool // `model Net() {` rather than `model Net {`
	Params    []*HyperParam
	Members   []Member
}

// A HyperParam is a model hyper-parameter `name: type = default`.
type HyperParam struct {
	Span
	Name    *Ident
	Type    Type // *ScalarType or *TensorType; nil when omitted
	Default Expr // nil when none
}

// A DatasetDecl is `dataset name { field = expr ... }`.
type DatasetDecl struct {
	Span
	Name   *Ident
	Fields []*Field
}

// A TrainDecl is `train name { fields phases }`.
type TrainDecl struct {
	Span
	Name  *Ident
	Items []TrainItem // *Field or *Phase, in source order
}

// A TrainItem is a *Field or a *Phase inside a train block.
type TrainItem interface {
	Node
	trainItem()
}

// A Field is `name = expr` inside a dataset, train or phase.
type Field struct {
	Span
	Name  *Ident
	Value Expr
}

// A Phase is `phase name (args) { stmts }` inside a train.
type Phase struct {
	Span
	Name  *Ident
	Args  []*Arg // (epochs: 3)
	Stmts []PhaseStmt
}

// A PhaseStmt is *Freeze, *LRScale or *Field.
type PhaseStmt interface {
	Node
	phaseStmt()
}

// A Freeze is `freeze paths` or `unfreeze paths`.
type Freeze struct {
	Span
	Unfreeze bool
	Paths    []*Path
}

// An LRScale is `lr_scale path = expr`.
type LRScale struct {
	Span
	Path  *Path
	Value Expr
}

// A Path names parameters: a bare dotted name `encoder.fc1` or a string
// holding an index or glob `"blocks.0.*"`.
type Path struct {
	Span
	Text   string // dotted text, without quotes
	Quoted bool   // written as a string literal
}

func (*ConstDecl) decl()   {}
func (*ModelDecl) decl()   {}
func (*DatasetDecl) decl() {}
func (*TrainDecl) decl()   {}

func (d *ConstDecl) DeclName() *Ident   { return d.Name }
func (d *ModelDecl) DeclName() *Ident   { return d.Name }
func (d *DatasetDecl) DeclName() *Ident { return d.Name }
func (d *TrainDecl) DeclName() *Ident   { return d.Name }

func (*Field) trainItem() {}
func (*Phase) trainItem() {}

func (*Freeze) phaseStmt()  {}
func (*LRScale) phaseStmt() {}
func (*Field) phaseStmt()   {}

// ---------------------------------------------------------------------
// Model members

// A Member is one item of a model body: *SubLayer, *ParamDecl,
// *ForwardDecl or *IfMember.
type Member interface {
	Node
	member()
}

// A SubLayer is `name = Ctor(args)` or `name = repeat(n, Ctor(args))`.
type SubLayer struct {
	Span
	Name  *Ident
	Value Expr
}

// A ParamDecl is `param name: type = init` or `buffer name: type = init`.
type ParamDecl struct {
	Span
	Buffer bool
	Name   *Ident
	Type   *TensorType
	Init   Expr // nil when omitted
}

// A ForwardDecl is `forward(params) -> results { body }`.
type ForwardDecl struct {
	Span
	Params  []*TensorParam
	Results []*Result // one unnamed result, or several named ones
	Named   bool      // results written as `(name: type, ...)`
	Body    *Block
}

// A TensorParam is one argument of forward: `x: f32[B, 64]`, or an
// optional one with a default: `mask: bool[B, T] = none`.
type TensorParam struct {
	Span
	Name    *Ident
	Type    Type
	Default Expr // nil when the input is required
}

// A Result is one output of forward. Name is nil for a single unnamed
// result.
type Result struct {
	Span
	Name *Ident
	Type Type
}

// An IfMember is a compile-time `if cond { members } else ...` in a model
// body. Else is nil, an *IfMember (else if) or a plain member list.
type IfMember struct {
	Span
	Cond    Expr
	Then    []Member
	ElseIf  *IfMember
	Else    []Member
	HasElse bool
}

func (*SubLayer) member()    {}
func (*ParamDecl) member()   {}
func (*ForwardDecl) member() {}
func (*IfMember) member()    {}

// ---------------------------------------------------------------------
// Statements

// A Block is `{ stmts }`.
type Block struct {
	Span
	Stmts []Stmt
}

// A Stmt is *AssignStmt, *ReturnStmt or *IfStmt.
type Stmt interface {
	Node
	stmt()
}

// An AssignStmt is `name = expr`.
type AssignStmt struct {
	Span
	Name  *Ident
	Value Expr
}

// A ReturnStmt is `return expr`. For a forward with named results the
// value is a map `return { z: h, recon: r }`.
type ReturnStmt struct {
	Span
	Value Expr
}

// An IfStmt is a compile-time `if cond { } else if ... else { }`.
type IfStmt struct {
	Span
	Cond   Expr
	Then   *Block
	ElseIf *IfStmt // else if
	Else   *Block  // plain else
}

func (*AssignStmt) stmt() {}
func (*ReturnStmt) stmt() {}
func (*IfStmt) stmt()     {}

// ---------------------------------------------------------------------
// Types

// A Type is *ScalarType or *TensorType.
type Type interface {
	Node
	typ()
}

// A ScalarType is a hyper-parameter type: int, float, bool or string.
type ScalarType struct {
	Span
	Name string
}

// A TensorType is `f32[B, 64]`; Dims is empty for a scalar `f32[]`.
type TensorType struct {
	Span
	DType string // f32 f16 bf16 i32 i64 bool
	Dims  []Expr
}

func (*ScalarType) typ() {}
func (*TensorType) typ() {}

// ---------------------------------------------------------------------
// Expressions

// An Expr is an expression.
type Expr interface {
	Node
	expr()
}

// An Ident is a name.
type Ident struct {
	Span
	Name string
}

// A BasicLit is an int, float, string or bool literal. Value is the
// source text (for strings, the unquoted value).
type BasicLit struct {
	Span
	Kind  LitKind
	Value string
}

// LitKind is the kind of a BasicLit.
type LitKind int

const (
	IntLit LitKind = iota
	FloatLit
	StringLit
	BoolLit
)

// A BinaryExpr is `X op Y`. Op is one of
// |> or and == != < <= > >= + - * / @ **.
// For |>, Y is an *Ident, *SelectorExpr or *CallExpr of one of those.
type BinaryExpr struct {
	Span
	Op    string
	OpPos diag.Pos
	X, Y  Expr
}

// A UnaryExpr is `-X` or `not X`.
type UnaryExpr struct {
	Span
	Op string
	X  Expr
}

// A ParenExpr is `(X)`.
type ParenExpr struct {
	Span
	X Expr
}

// A CallExpr is `Fun(args)`.
type CallExpr struct {
	Span
	Fun    Expr
	Args   []*Arg
	Rparen diag.Pos
}

// An Arg is a positional (Name nil) or named argument.
type Arg struct {
	Span
	Name  *Ident
	Value Expr
}

// A SelectorExpr is `X.Sel`; Sel may be a number for stacks (`blocks.0`).
type SelectorExpr struct {
	Span
	X   Expr
	Sel *Ident
}

// An IndexExpr is `X[i, lo:hi, :]`.
type IndexExpr struct {
	Span
	X       Expr
	Indices []Expr // each an Expr or a *SliceExpr
}

// A SliceExpr is `lo:hi` inside an index; Lo and Hi may be nil.
type SliceExpr struct {
	Span
	Lo, Hi Expr
}

// A ListExpr is `[a, b]`.
type ListExpr struct {
	Span
	Elems []Expr
}

// A MapExpr is `{ key: value, ... }`.
type MapExpr struct {
	Span
	Entries []*MapEntry
}

// A MapEntry is `key: value`; the key is a name or a string.
type MapEntry struct {
	Span
	Key    string
	Quoted bool
	Value  Expr
}

func (*Ident) expr()        {}
func (*BasicLit) expr()     {}
func (*BinaryExpr) expr()   {}
func (*UnaryExpr) expr()    {}
func (*ParenExpr) expr()    {}
func (*CallExpr) expr()     {}
func (*SelectorExpr) expr() {}
func (*IndexExpr) expr()    {}
func (*SliceExpr) expr()    {}
func (*ListExpr) expr()     {}
func (*MapExpr) expr()      {}

// Unparen strips parentheses around e.
func Unparen(e Expr) Expr {
	for {
		p, ok := e.(*ParenExpr)
		if !ok {
			return e
		}
		e = p.X
	}
}

// DottedName returns the dotted text of an *Ident or a chain of
// *SelectorExpr over an *Ident (`blocks.0.attn`), and whether e is one.
func DottedName(e Expr) (string, bool) {
	switch e := e.(type) {
	case *Ident:
		return e.Name, true
	case *SelectorExpr:
		x, ok := DottedName(e.X)
		if !ok {
			return "", false
		}
		return x + "." + e.Sel.Name, true
	}
	return "", false
}
