// Package refparse is the parser of package lang as it was before the
// fast one: participle's regular-expression lexer and a participle
// struct for every level of expression precedence. Nothing uses it but
// the tests of lang, which check that lang.Parse gives the same tree,
// positions and diagnostics as this reference (TestReference and
// FuzzReference in lang/reference_test.go). Its grammar.go, parse.go and
// errors.go are the old files, unchanged but for the package name.
package refparse

import "github.com/encc-lang/encc/lang"

type (
	File         = lang.File
	Span         = lang.Span
	Comment      = lang.Comment
	Import       = lang.Import
	Decl         = lang.Decl
	ConstDecl    = lang.ConstDecl
	ModelDecl    = lang.ModelDecl
	HyperParam   = lang.HyperParam
	DatasetDecl  = lang.DatasetDecl
	TrainDecl    = lang.TrainDecl
	Field        = lang.Field
	Phase        = lang.Phase
	Freeze       = lang.Freeze
	LRScale      = lang.LRScale
	Path         = lang.Path
	Member       = lang.Member
	SubLayer     = lang.SubLayer
	ParamDecl    = lang.ParamDecl
	ForwardDecl  = lang.ForwardDecl
	TensorParam  = lang.TensorParam
	Result       = lang.Result
	IfMember     = lang.IfMember
	Block        = lang.Block
	Stmt         = lang.Stmt
	AssignStmt   = lang.AssignStmt
	ReturnStmt   = lang.ReturnStmt
	IfStmt       = lang.IfStmt
	Type         = lang.Type
	ScalarType   = lang.ScalarType
	TensorType   = lang.TensorType
	Expr         = lang.Expr
	Ident        = lang.Ident
	BasicLit     = lang.BasicLit
	BinaryExpr   = lang.BinaryExpr
	UnaryExpr    = lang.UnaryExpr
	ParenExpr    = lang.ParenExpr
	CallExpr     = lang.CallExpr
	Arg          = lang.Arg
	SelectorExpr = lang.SelectorExpr
	IndexExpr    = lang.IndexExpr
	SliceExpr    = lang.SliceExpr
	ListExpr     = lang.ListExpr
	MapExpr      = lang.MapExpr
	MapEntry     = lang.MapEntry
)

const (
	IntLit    = lang.IntLit
	FloatLit  = lang.FloatLit
	StringLit = lang.StringLit
	BoolLit   = lang.BoolLit
)

// DottedName is lang.DottedName.
func DottedName(e Expr) (string, bool) { return lang.DottedName(e) }
