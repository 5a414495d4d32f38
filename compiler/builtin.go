package compiler

import (
	"fmt"
	"sort"
	"strings"

	"github.com/encc-lang/encc/internal/diag"
	"github.com/encc-lang/encc/ir"
	"github.com/encc-lang/encc/lang"
)

// This file implements the machinery of the built-in catalog: entries,
// argument binding and type checking, and calls of built-in layers and
// functions. The entries themselves are in catalog.go.

// Kind classifies catalog entries.
type Kind int

const (
	KLayer     Kind = iota // Linear, Conv2d: has parameters, called on tensors
	KFunc                  // relu, reshape, softmax: tensor functions
	KLoss                  // cross_entropy, mse: tensor functions giving f32[]
	KInit                  // zeros(), kaiming_uniform(): parameter initializers
	KOptimizer             // SGD, Adam, AdamW, RMSprop
	KSchedule              // constant, step, cosine, linear, warmup, one_cycle
	KMetric                // accuracy, top_k, f1, loss
	KSource                // builtin, csv, idx, jsonl, json_dir
	KTokenizer             // words, chars
	KOption                // standard, minmax
	KWeights               // from, load: initial weights of a train
	KRepeat                // repeat(n, Ctor(...))
	KObjective             // skipgram: what a train without a model optimizes
	KQuantize              // int8: a train's quantize field (quantize.go)
	KPrune                 // magnitude: a phase's prune field (prune.go)
	KAdapter               // lora: parameter-efficient fine-tuning of a train
	KQAT                   // fake_int8: a phase's qat field (qat.go)
)

var kindNames = [...]string{"layer", "function", "loss", "initializer", "optimizer", "schedule", "metric", "data source", "tokenizer", "option", "weights", "repeat", "objective", "quantization", "pruning", "adapter", "quantization-aware training"}

func (k Kind) String() string { return kindNames[k] }

// A ParamSpec describes one argument of a built-in.
type ParamSpec struct {
	Name     string
	Type     string // tensor int float bool string dim axes any map list
	Default  Value  // nil: required unless Optional
	Optional bool   // may be left out, with no default value
	Doc      string
}

// A LayerParam is one tensor owned by a built-in layer.
type LayerParam struct {
	Name          string
	Type          TensorType
	Buffer        bool
	FanIn, FanOut int
	Init          Value // *ConfigV of the default initializer
}

// An Entry is one built-in: its arguments, shape rule and documentation.
// The LSP and `encc summary` read the same entries.
type Entry struct {
	Name   string
	Kind   Kind
	Params []ParamSpec // construction arguments (layers) or call arguments
	In     []ParamSpec // layers: forward inputs
	Rest   *ParamSpec  // variadic trailing positional arguments
	Doc    string
	Sig    string // shape rule in words: "f32[..., in] -> f32[..., out]"
	// Torch, when set, is the PyTorch function that computes this
	// built-in with the same argument names and defaults, its first
	// input first (a torch.nn.functional name): exporters write a call of it where they
	// have no form of their own.
	Torch string

	params    func(args map[string]Value) []LayerParam
	validate  func(k *callCtx) bool                    // layers: checks of argument values; false after reporting
	fn        func(k *callCtx) Value                   // shape rule of a call, which emits its lowering
	optimizer func(args map[string]Value) ir.Optimizer // optimizers: the IR optimizer (weight decay is added)
}

// argFloat returns the number argument name of args as a float64.
func argFloat(args map[string]Value, name string) float64 {
	f, _ := floatOf(args[name])
	return f
}

// layerParams lists the parameter tensors of a layer built with args.
func (e *Entry) layerParams(args map[string]Value) []LayerParam {
	if e.params == nil {
		return nil
	}
	return e.params(args)
}

// defaults returns the default arguments of e.
func (e *Entry) defaults() map[string]Value {
	m := make(map[string]Value, len(e.Params))
	for _, p := range e.Params {
		if p.Default != nil {
			m[p.Name] = p.Default
		}
	}
	return m
}

// Signature renders the entry as it is called: Linear(in: int, out: int, bias: bool = true).
func (e *Entry) Signature() string {
	var parts []string
	in := e.In
	if e.Kind == KLayer {
		in = nil // a layer is constructed with Params and called on In
	}
	for _, p := range append(append([]ParamSpec(nil), in...), e.Params...) {
		s := p.Name + ": " + p.Type
		if p.Default != nil {
			s += " = " + valueString(p.Default)
		}
		parts = append(parts, s)
	}
	if e.Rest != nil {
		parts = append(parts, e.Rest.Name+": "+e.Rest.Type+"...")
	}
	return e.Name + "(" + strings.Join(parts, ", ") + ")"
}

func (p ParamSpec) isDefault(v Value) bool {
	return p.Default != nil && valueString(p.Default) == valueString(v)
}

// catalogSize is room for every entry, so that registering them at
// start-up does not grow the maps (TestCatalogSize).
const catalogSize = 128

var catalog = make(map[string]*Entry, catalogSize)

// builtinScope holds every catalog entry by name; it is the outermost
// scope of every file.
var builtinScope = &scope{names: make(map[string]*binding, catalogSize)}

func register(es ...*Entry) {
	for _, e := range es {
		if _, dup := catalog[e.Name]; dup {
			panic("catalog: duplicate entry " + e.Name)
		}
		catalog[e.Name] = e
		builtinScope.names[e.Name] = &binding{v: &FuncV{E: e}}
	}
}

// Lookup returns the catalog entry named name.
func Lookup(name string) (*Entry, bool) {
	e, ok := catalog[name]
	return e, ok
}

// Entries returns every catalog entry sorted by kind, then name.
func Entries() []*Entry {
	out := make([]*Entry, 0, len(catalog))
	for _, e := range catalog {
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Kind != out[j].Kind {
			return out[i].Kind < out[j].Kind
		}
		return out[i].Name < out[j].Name
	})
	return out
}

// A callCtx is one call of a built-in with its arguments bound.
type callCtx struct {
	c     *checker
	e     *Entry
	n     lang.Node // the call or pipe expression
	name  string    // the callee as written
	en    *env
	args  map[string]Value
	at    map[string]*argVal
	rest  []*argVal
	layer *LayerV // for layer forwards
}

func (k *callCtx) tensor(name string) *TensorV { t, _ := k.args[name].(*TensorV); return t }
func (k *callCtx) int(name string) int64       { v, _ := k.args[name].(IntV); return v.V }
func (k *callCtx) float(name string) float64   { f, _ := floatOf(k.args[name]); return f }
func (k *callCtx) str(name string) string      { v, _ := k.args[name].(StrV); return v.V }
func (k *callCtx) bool(name string) bool       { v, _ := k.args[name].(BoolV); return v.V }
func (k *callCtx) has(name string) bool        { _, ok := k.args[name]; return ok }

// emit makes the result of the call, of type out; while lowering, lower
// emits its IR from the lowered ins (see checker.emit).
func (k *callCtx) emit(out TensorType, lower lowerFunc, ins ...*TensorV) *TensorV {
	return k.c.emit(k.n, out, lower, ins...)
}

// param returns the tensor name of the layer being called (weight,
// bias) as an input of its lowering: a layer passes its tensors to its
// lowering. Only a lowering reads it, so it is nil while checking.
func (k *callCtx) param(name string) *TensorV {
	if k.c.lw == nil {
		return nil
	}
	path := joinPath(k.layer.Path, name)
	t := &TensorV{Node: k.c.lw.param(path)} // fails when the layer has no such tensor
	if p, ok := k.c.lw.params[path]; ok {
		t.T = p.Type
	}
	return t
}

// node returns where an error about argument name points: the argument
// when it was written, else the callee.
func (k *callCtx) node(name string) (diag.Pos, diag.Pos) {
	if a, ok := k.at[name]; ok && a.pos.IsValid() {
		return a.pos, a.end
	}
	n := calleeNode(k.n)
	return n.Pos(), n.End()
}

// errorf reports an error at argument name ("" for the callee).
func (k *callCtx) errorf(name, format string, args ...any) Value {
	p, e := k.node(name)
	k.c.errorf(p, format, args...).WithEnd(e)
	return InvalidV{}
}

// bind matches args to specs: positional first, then named, then
// defaults; it checks and converts each argument's type.
func (c *checker) bind(fn string, specs []ParamSpec, rest *ParamSpec, args []*argVal, n lang.Node) (map[string]Value, map[string]*argVal, []*argVal, bool) {
	return c.bindN(fn, specs, len(specs), rest, args, n)
}

// bindN is bind where only the first npos specs take positional
// arguments; the others are named only (concat(a, b, axis: 1): a and b
// go to rest, not to axis).
func (c *checker) bindN(fn string, specs []ParamSpec, npos int, rest *ParamSpec, args []*argVal, n lang.Node) (map[string]Value, map[string]*argVal, []*argVal, bool) {
	out := make(map[string]Value, len(specs))
	at := make(map[string]*argVal, len(args))
	var restArgs []*argVal
	pos := 0
	seenNamed := false
	for _, a := range args {
		if _, bad := a.v.(InvalidV); bad {
			return nil, nil, nil, false
		}
		if _, none := a.v.(NoneV); none && a.name != "" && optional(specs, a.name) {
			seenNamed = true // a named argument given as none is left out
			continue
		}
		if a.name == "" {
			if seenNamed {
				c.errorf(a.pos, "positional argument after named arguments").WithEnd(a.end)
				return nil, nil, nil, false
			}
			if pos < npos {
				out[specs[pos].Name], at[specs[pos].Name] = a.v, a
				pos++
				continue
			}
			if rest != nil {
				restArgs = append(restArgs, a)
				continue
			}
			c.errorf(a.pos, "%s takes %s, got %d", fn, plural(len(specs), "argument", "arguments"), countPositional(args)).WithEnd(a.end)
			return nil, nil, nil, false
		}
		seenNamed = true
		found := false
		for _, s := range specs {
			if s.Name == a.name {
				found = true
			}
		}
		if !found {
			names := make([]string, len(specs))
			for i, s := range specs {
				names[i] = s.Name
			}
			c.errorf(a.pos, "%s has no argument %q%s", fn, a.name, suggestSuffix(a.name, names)).WithEnd(a.end)
			return nil, nil, nil, false
		}
		if _, dup := out[a.name]; dup {
			c.errorf(a.pos, "argument %q given twice", a.name).WithEnd(a.end)
			return nil, nil, nil, false
		}
		out[a.name], at[a.name] = a.v, a
	}
	for _, s := range specs {
		v, given := out[s.Name]
		if !given {
			if s.Optional {
				continue
			}
			if s.Default == nil {
				c.errorAt(calleeNode(n), "%s needs argument %q", fn, s.Name)
				return nil, nil, nil, false
			}
			out[s.Name] = s.Default
			continue
		}
		cv, ok := coerce(s.Type, v)
		if !ok {
			a := at[s.Name]
			c.errorf(a.pos, "argument %s of %s must be %s, got %s", s.Name, fn, typeWord(s.Type), describe(v)).WithEnd(a.end)
			return nil, nil, nil, false
		}
		out[s.Name] = cv
	}
	if rest != nil {
		for _, a := range restArgs {
			cv, ok := coerce(rest.Type, a.v)
			if !ok {
				c.errorf(a.pos, "argument of %s must be %s, got %s", fn, typeWord(rest.Type), describe(a.v)).WithEnd(a.end)
				return nil, nil, nil, false
			}
			a.v = cv
		}
	}
	return out, at, restArgs, true
}

// optional reports whether the parameter called name may be left out.
func optional(specs []ParamSpec, name string) bool {
	for _, sp := range specs {
		if sp.Name == name {
			return sp.Optional || sp.Default != nil
		}
	}
	return false
}

func countPositional(args []*argVal) int {
	n := 0
	for _, a := range args {
		if a.name == "" {
			n++
		}
	}
	return n
}

func describe(v Value) string {
	switch v.(type) {
	case *TensorV, IntV, FloatV, BoolV, StrV, DimV:
		return kindOrType(v) + " " + valueString(v)
	}
	return "a " + v.Kind()
}

func typeWord(t string) string {
	switch t {
	case "tensor":
		return "a tensor"
	case "int":
		return "an int"
	case "float", "bool", "string", "map", "list":
		return "a " + t
	case "dim":
		return "an int dimension"
	case "axes":
		return "an int or a list of ints"
	case "ints":
		return "a list of ints"
	case "layer":
		return "a layer or model instance"
	case "train":
		return "the name of a train"
	case "schedule":
		return "a schedule such as cosine(...)"
	case "paths":
		return "a path string or a list of them"
	}
	return t
}

// coerce checks v against a parameter type and converts ints to floats.
func coerce(t string, v Value) (Value, bool) {
	switch t {
	case "any":
		return v, true
	case "tensor":
		_, ok := v.(*TensorV)
		return v, ok
	case "int":
		_, ok := v.(IntV)
		return v, ok
	case "float":
		f, ok := floatOf(v)
		return FloatV{f}, ok
	case "bool":
		_, ok := v.(BoolV)
		return v, ok
	case "string":
		_, ok := v.(StrV)
		return v, ok
	case "dim":
		_, ok := dimOf(v)
		return v, ok
	case "map":
		_, ok := v.(*MapV)
		return v, ok
	case "list":
		_, ok := v.(*ListV)
		return v, ok
	case "axes":
		switch v := v.(type) {
		case IntV:
			return v, true
		case *ListV:
			for _, e := range v.Elems {
				if _, ok := e.(IntV); !ok {
					return v, false
				}
			}
			return v, true
		}
		return v, false
	case "paths":
		switch v := v.(type) {
		case StrV:
			return v, true
		case *ListV:
			for _, e := range v.Elems {
				if _, ok := e.(StrV); !ok {
					return v, false
				}
			}
			return v, true
		}
		return v, false
	case "layer":
		switch v.(type) {
		case *LayerV, *InstanceV, *StackV:
			return v, true
		}
		return v, false
	case "train":
		_, ok := v.(*TrainV)
		return v, ok
	case "schedule":
		switch v := v.(type) {
		case *ConfigV:
			return v, v.E.Kind == KSchedule
		case *FuncV:
			if v.E.Kind == KSchedule {
				return &ConfigV{E: v.E, Args: v.E.defaults()}, true
			}
		}
		return v, false
	}
	panic("catalog: unknown parameter type " + t)
}

// callBuiltin calls a catalog entry.
func (c *checker) callBuiltin(f *FuncV, args []*argVal, n lang.Node, en *env) Value {
	e := f.E
	name := c.callName(n)
	switch e.Kind {
	case KLayer:
		if !en.hyper && en.inst != nil {
			c.errorAt(calleeNode(n), "cannot create a %s inside forward: declare it as a sub-layer (name = %s(...))", e.Name, e.Name)
			return InvalidV{}
		}
		vals, _, _, ok := c.bind(e.Name, e.Params, nil, args, n)
		if !ok {
			return InvalidV{}
		}
		l := &LayerV{E: e, Args: vals, Pos: n.Pos()}
		if err := c.validateLayer(l, n); err || !c.checkLayerSize(l, n) {
			return InvalidV{}
		}
		return l
	case KFunc, KLoss:
		specs := append(append([]ParamSpec(nil), e.In...), e.Params...)
		npos := len(specs)
		if e.Rest != nil {
			npos = len(e.In)
		}
		vals, at, rest, ok := c.bindN(e.Name, specs, npos, e.Rest, args, n)
		if !ok {
			return InvalidV{}
		}
		k := &callCtx{c: c, e: e, n: n, name: name, en: en, args: vals, at: at, rest: rest}
		return e.fn(k)
	case KRepeat:
		c.errorAt(calleeNode(n), "repeat(n, Layer(...)) is only allowed as a sub-layer")
		return InvalidV{}
	}
	// Configuration entries: optimizers, schedules, inits, sources...
	vals, at, _, ok := c.bind(e.Name, e.Params, nil, args, n)
	if !ok {
		return InvalidV{}
	}
	cv := &ConfigV{E: e, Args: vals, Pos: n.Pos(), Arg: map[string]diag.Pos{}}
	for k, a := range at {
		cv.Arg[k] = a.pos
	}
	if e.fn != nil {
		k := &callCtx{c: c, e: e, n: n, name: name, en: en, args: vals, at: at}
		if v := e.fn(k); v != nil {
			return v
		}
	}
	return cv
}

// validateLayer checks layer arguments that have ranges: int arguments
// are positive (padding: not negative), and the entry's own validate.
func (c *checker) validateLayer(l *LayerV, n lang.Node) bool {
	k := &callCtx{c: c, e: l.E, n: n, args: l.Args, at: map[string]*argVal{}}
	for _, p := range l.E.Params {
		if p.Type != "int" {
			continue
		}
		v := k.int(p.Name)
		if p.Name == "padding" && v < 0 {
			c.errorAt(calleeNode(n), "%s: padding must not be negative, got %d", l.E.Name, v)
			return true
		}
		if p.Name != "padding" && v <= 0 {
			c.errorAt(calleeNode(n), "%s: %s must be positive, got %d", l.E.Name, p.Name, v)
			return true
		}
	}
	return l.E.validate != nil && !l.E.validate(k)
}

// callLayer runs the forward rule of a built-in layer.
func (c *checker) callLayer(l *LayerV, args []*argVal, n lang.Node, en *env) Value {
	if en.hyper {
		c.errorAt(calleeNode(n), "cannot run %s here: layer calls belong in forward, loss or metrics", c.callName(n))
		return InvalidV{}
	}
	vals, at, _, ok := c.bind(c.callName(n), l.E.In, nil, args, n)
	if !ok {
		return InvalidV{}
	}
	for k, v := range l.Args {
		vals[k] = v
	}
	k := &callCtx{c: c, e: l.E, n: n, name: c.callName(n), en: en, args: vals, at: at, layer: l}
	done := c.traceEnter(l.Path, l.E.Name, args)
	out := l.E.fn(k)
	done(out)
	return out
}

func fmtFloat(f float64) string { return fmt.Sprintf("%g", f) }
