package compiler

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/encc-lang/encc/internal/diag"
	"github.com/encc-lang/encc/ir"
	"github.com/encc-lang/encc/lang"
)

// This file implements the values the checker computes. Hyper-parameters
// and constants are evaluated to plain values; tensors are known by their
// type only (their dimensions may be symbolic); layers and models are
// values too, so `x |> fc1` and `blocks.0` are ordinary evaluation.

// A Value is the result of evaluating an expression at compile time.
type Value interface {
	// Kind is a short word for messages: "int", "tensor", "layer"...
	Kind() string
}

type (
	// IntV is an int hyper-parameter or a constant dimension.
	IntV struct{ V int64 }
	// FloatV is a float hyper-parameter.
	FloatV struct{ V float64 }
	// BoolV is a bool.
	BoolV struct{ V bool }
	// StrV is a string.
	StrV struct{ V string }
	// DimV is a symbolic dimension (B, T * 4); a constant one is an IntV.
	DimV struct{ D Dim }
	// ListV is [a, b].
	ListV struct{ Elems []Value }
	// MapV is { key: value }.
	MapV struct {
		Keys []string
		Vals map[string]Value
		Pos  map[string]diag.Pos
	}
	// TensorV is a tensor known by its type. Node is its IR value while
	// lowering; Num is set instead for a number that stands for a tensor
	// operand (the 1 of x + 1), lowered to a constant of dtype T.DType.
	TensorV struct {
		T    TensorType
		Node *ir.Value
		Num  Value // IntV, FloatV or BoolV
	}
	// RecordV holds the named outputs of a multi-output forward.
	RecordV struct {
		Names []string
		Vals  map[string]Value
	}
	// FuncV is a built-in function, maybe with arguments already bound
	// (`maxpool2d(kernel: 2)` on the right of |>).
	FuncV struct {
		E    *Entry
		Args []*argVal // bound arguments, x still missing
	}
	// ConfigV is a call of a built-in that configures something:
	// Adam(lr: 1e-3), cosine(...), builtin("digits"), kaiming_uniform().
	ConfigV struct {
		E    *Entry
		Args map[string]Value
		Pos  diag.Pos
		Arg  map[string]diag.Pos
	}
	// LayerV is an instance of a built-in layer: Linear(64, 10).
	LayerV struct {
		E    *Entry
		Args map[string]Value
		Path string // dotted path in the parameter tree
		Pos  diag.Pos
	}
	// StackV is repeat(n, Ctor(...)): layers applied in order.
	StackV struct {
		Layers []Value
		Path   string
	}
	// InstanceV is an instance of a model: a parameter subtree.
	InstanceV struct{ I *Instance }
	// ModelV is a model declaration, callable to make an instance.
	ModelV struct{ M *modelDecl }
	// DatasetV names a dataset declaration.
	DatasetV struct{ D *datasetDecl }
	// TrainV names a train declaration.
	TrainV struct{ T *trainDecl }
	// InvalidV is the result of an expression that had an error; anything
	// computed from it is invalid too and reports nothing more.
	InvalidV struct{}
)

func (IntV) Kind() string       { return "int" }
func (FloatV) Kind() string     { return "float" }
func (BoolV) Kind() string      { return "bool" }
func (StrV) Kind() string       { return "string" }
func (DimV) Kind() string       { return "dimension" }
func (*ListV) Kind() string     { return "list" }
func (*MapV) Kind() string      { return "map" }
func (*TensorV) Kind() string   { return "tensor" }
func (*RecordV) Kind() string   { return "outputs" }
func (*FuncV) Kind() string     { return "function" }
func (*ConfigV) Kind() string   { return "configuration" }
func (*LayerV) Kind() string    { return "layer" }
func (*StackV) Kind() string    { return "layer stack" }
func (*InstanceV) Kind() string { return "model instance" }
func (*ModelV) Kind() string    { return "model" }
func (*DatasetV) Kind() string  { return "dataset" }
func (*TrainV) Kind() string    { return "train" }
func (InvalidV) Kind() string   { return "invalid" }

// An argVal is an argument as written: its name (or ""), value, position.
type argVal struct {
	name string
	v    Value
	pos  diag.Pos
	end  diag.Pos
	expr lang.Expr
}

// dimOf converts an int or dimension value to a Dim.
func dimOf(v Value) (Dim, bool) {
	switch v := v.(type) {
	case IntV:
		return ConstDim(v.V), true
	case DimV:
		return v.D, true
	}
	return Dim{}, false
}

// dimValue makes a Value from a Dim: IntV when constant.
func dimValue(d Dim) Value {
	if n, ok := d.Const(); ok {
		return IntV{n}
	}
	return DimV{d}
}

// floatOf converts an int or float value to float64.
func floatOf(v Value) (float64, bool) {
	switch v := v.(type) {
	case IntV:
		return float64(v.V), true
	case FloatV:
		return v.V, true
	}
	return 0, false
}

// valueString prints a value for messages and summaries.
func valueString(v Value) string {
	switch v := v.(type) {
	case IntV:
		return strconv.FormatInt(v.V, 10)
	case FloatV:
		return strconv.FormatFloat(v.V, 'g', -1, 64)
	case BoolV:
		return strconv.FormatBool(v.V)
	case StrV:
		return strconv.Quote(v.V)
	case DimV:
		return v.D.String()
	case *ListV:
		parts := make([]string, len(v.Elems))
		for i, e := range v.Elems {
			parts[i] = valueString(e)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case *MapV:
		parts := make([]string, len(v.Keys))
		for i, k := range v.Keys {
			parts[i] = k + ": " + valueString(v.Vals[k])
		}
		return "{" + strings.Join(parts, ", ") + "}"
	case *TensorV:
		return v.T.String()
	case *ConfigV:
		return v.E.Name + "(" + argsString(v.E, v.Args) + ")"
	case *LayerV:
		return v.E.Name + "(" + argsString(v.E, v.Args) + ")"
	case *InstanceV:
		return v.I.String()
	case *ModelV:
		return v.M.name
	case *DatasetV:
		return v.D.name
	case *TrainV:
		return v.T.name
	case *FuncV:
		return v.E.Name
	}
	return v.Kind()
}

func argsString(e *Entry, args map[string]Value) string {
	var parts []string
	for _, p := range e.Params {
		if v, ok := args[p.Name]; ok && !p.isDefault(v) {
			parts = append(parts, p.Name+": "+valueString(v))
		}
	}
	return strings.Join(parts, ", ")
}

// sortedKeys returns the keys of m in order.
func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

func plural(n int, one, many string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, one)
	}
	return fmt.Sprintf("%d %s", n, many)
}
