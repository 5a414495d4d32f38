package compiler

import (
	"math"
	"strconv"
	"strings"
	"unicode"

	"github.com/encc-lang/encc/internal/diag"
	"github.com/encc-lang/encc/lang"
)

// This file implements evaluation of expressions: hyper-parameter
// arithmetic, calls of layers and models, and tensor operations known by
// their types. The same evaluator checks a program and, with a lowerer
// attached, emits its IR.

// An env is the context of an evaluation.
type env struct {
	sc    *scope    // names, innermost first
	hyper bool      // hyper-parameter context: no tensors, no forward
	inst  *Instance // the instance whose forward runs, if any
	dims  map[string]Dim
	file  string
}

func (e *env) child() *env {
	n := *e
	n.sc = newScope(e.sc)
	return &n
}

// text returns the source text of a node, for messages.
func (c *checker) text(n lang.Node) string {
	src := c.sources[n.Pos().File]
	s, e := n.Pos().Offset, n.End().Offset
	if src == nil || s < 0 || e > len(src) || s >= e {
		return ""
	}
	return string(src[s:e])
}

// record notes the value of a node of the root file for hover
// (Program.Types). The check of the root file's models also runs the
// code of the models they use, from the stdlib or imports, whose nodes
// no hover asks for: those are not noted.
func (c *checker) record(n lang.Node, v Value) {
	if !c.recording || c.root == nil || n.Pos().File != c.root.name {
		return
	}
	if _, ok := c.types[n]; !ok {
		c.types[n] = v
	}
}

// eval computes the value of e.
func (c *checker) eval(e lang.Expr, en *env) Value {
	var v Value
	if c.tr != nil {
		v = c.traceEval(func() Value { return c.eval1(e, en) })
	} else {
		v = c.eval1(e, en)
	}
	c.record(e, v)
	return v
}

func (c *checker) eval1(e lang.Expr, en *env) Value {
	switch e := e.(type) {
	case *lang.Ident:
		return c.evalIdent(e, en)
	case *lang.BasicLit:
		return c.evalLit(e)
	case *lang.ParenExpr:
		return c.eval(e.X, en)
	case *lang.UnaryExpr:
		return c.evalUnary(e, en)
	case *lang.BinaryExpr:
		if e.Op == "|>" {
			return c.evalPipe(e, en)
		}
		x := c.eval(e.X, en)
		y := c.eval(e.Y, en)
		return c.binary(e, e.Op, x, y, en)
	case *lang.CallExpr:
		f := c.eval(e.Fun, en)
		if fv, ok := f.(*FuncV); ok && fv.E.Kind == KRepeat {
			return c.evalRepeat(e, en)
		}
		args := c.evalArgs(e.Args, en)
		return c.call(f, args, e, en)
	case *lang.SelectorExpr:
		x := c.eval(e.X, en)
		return c.selector(x, e, en)
	case *lang.IndexExpr:
		return c.evalIndex(e, en)
	case *lang.ListExpr:
		l := &ListV{}
		for _, x := range e.Elems {
			l.Elems = append(l.Elems, c.eval(x, en))
		}
		return l
	case *lang.MapExpr:
		m := &MapV{Vals: map[string]Value{}, Pos: map[string]diag.Pos{}}
		for _, ent := range e.Entries {
			if _, dup := m.Vals[ent.Key]; dup {
				c.errorAt(ent, "duplicate key %q", ent.Key)
				continue
			}
			m.Keys = append(m.Keys, ent.Key)
			m.Vals[ent.Key] = c.eval(ent.Value, en)
			m.Pos[ent.Key] = ent.Pos()
		}
		return m
	case *lang.SliceExpr:
		c.errorAt(e, "a slice is only allowed inside [ ]")
		return InvalidV{}
	}
	c.errorAt(e, "unexpected expression")
	return InvalidV{}
}

func (c *checker) evalIdent(id *lang.Ident, en *env) Value {
	switch id.Name {
	case "true":
		return BoolV{true}
	case "false":
		return BoolV{false}
	}
	b := en.sc.lookup(id.Name)
	if b == nil {
		c.unknownName(id, en)
		return InvalidV{}
	}
	if c.recording && b.node != nil {
		c.defs[id] = b.node
	}
	if c.lw != nil && en.inst != nil {
		// A raw parameter of the running instance: its graph input.
		if p, ok := en.inst.params[id.Name]; ok && en.inst.scope.names[id.Name] == b {
			return &TensorV{T: p.Type, Node: c.lw.param(joinPath(en.inst.Path, id.Name))}
		}
	}
	return c.value(b, id.Pos())
}

func (c *checker) unknownName(id *lang.Ident, en *env) {
	for s := en.sc; s != nil; s = s.parent {
		if s.incomplete {
			return // the failed import was reported; this name may be in it
		}
	}
	cands := en.sc.allNames()
	if s := diagSuggest(id.Name, cands); s != "" {
		c.errorAt(id, "unknown name %q (did you mean %q?)", id.Name, s)
		return
	}
	c.errorAt(id, "unknown name %q", id.Name)
}

func diagSuggest(name string, cands []string) string { return diag.Suggest(name, cands) }

func (c *checker) evalLit(l *lang.BasicLit) Value {
	switch l.Kind {
	case lang.IntLit:
		n, err := strconv.ParseInt(l.Value, 10, 64)
		if err != nil {
			c.errorAt(l, "integer %s out of range", l.Value)
			return InvalidV{}
		}
		return IntV{n}
	case lang.FloatLit:
		f, err := strconv.ParseFloat(l.Value, 64)
		if err != nil {
			c.errorAt(l, "bad number %s", l.Value)
			return InvalidV{}
		}
		return FloatV{f}
	case lang.StringLit:
		return StrV{l.Value}
	case lang.BoolLit:
		return BoolV{l.Value == "true"}
	}
	return InvalidV{}
}

func (c *checker) evalUnary(e *lang.UnaryExpr, en *env) Value {
	x := c.eval(e.X, en)
	switch e.Op {
	case "-":
		switch x := x.(type) {
		case IntV:
			if x.V == math.MinInt64 {
				c.errorAt(e, "%s: integer overflow (the result does not fit in 64 bits)", c.text(e))
				return InvalidV{}
			}
			return IntV{-x.V}
		case FloatV:
			return FloatV{-x.V}
		case DimV:
			if d := x.D.Scale(-1); !d.Overflows() {
				return dimValue(d)
			}
			c.errorAt(e, "%s: integer overflow (the result does not fit in 64 bits)", c.text(e))
			return InvalidV{}
		case *TensorV:
			return c.neg(e, x)
		case InvalidV:
			return x
		}
		c.errorAt(e, "cannot negate a %s", x.Kind())
	case "not":
		switch x := x.(type) {
		case BoolV:
			return BoolV{!x.V}
		case *TensorV:
			if x.T.DType == "bool" {
				return c.not(e, x)
			}
		case InvalidV:
			return x
		}
		c.errorAt(e, "operand of not must be a bool, got %s", kindOrType(x))
	}
	return InvalidV{}
}

func kindOrType(v Value) string {
	if t, ok := v.(*TensorV); ok {
		return t.T.String()
	}
	return v.Kind()
}

// evalPipe evaluates x |> f and x |> f(args) as f(x, args).
func (c *checker) evalPipe(e *lang.BinaryExpr, en *env) Value {
	x := c.eval(e.X, en)
	xa := &argVal{v: x, pos: e.X.Pos(), end: e.X.End(), expr: e.X}
	switch y := e.Y.(type) {
	case *lang.CallExpr:
		f := c.eval(y.Fun, en)
		if fv, ok := f.(*FuncV); ok && fv.E.Kind == KRepeat {
			// Report the misuse once, not also each layer built in it.
			c.errorAt(y, "repeat(n, Layer(...)) is only allowed as a sub-layer")
			return InvalidV{}
		}
		args := append([]*argVal{xa}, c.evalArgs(y.Args, en)...)
		return c.call(f, args, e, en)
	default:
		f := c.eval(e.Y, en)
		return c.call(f, []*argVal{xa}, e, en)
	}
}

func (c *checker) evalArgs(args []*lang.Arg, en *env) []*argVal {
	out := make([]*argVal, len(args))
	vals := make([]argVal, len(args)) // one allocation for all
	for i, a := range args {
		av := &vals[i]
		*av = argVal{v: c.eval(a.Value, en), pos: a.Pos(), end: a.End(), expr: a.Value}
		if a.Name != nil {
			av.name = a.Name.Name
		}
		out[i] = av
	}
	return out
}

// binary applies a binary operator to two values.
func (c *checker) binary(n lang.Node, op string, x, y Value, en *env) Value {
	if _, bad := x.(InvalidV); bad {
		return x
	}
	if _, bad := y.(InvalidV); bad {
		return y
	}
	_, xn := x.(NoneV)
	_, yn := y.(NoneV)
	if (xn || yn) && (op == "==" || op == "!=") {
		// `mask != none`: whether an optional input was given.
		return BoolV{(xn && yn) == (op == "==")}
	}
	_, xt := x.(*TensorV)
	_, yt := y.(*TensorV)
	if xt || yt {
		return c.tensorBinary(n, op, x, y)
	}
	switch op {
	case "and", "or":
		xb, ok1 := x.(BoolV)
		yb, ok2 := y.(BoolV)
		if !ok1 || !ok2 {
			c.errorAt(n, "operands of %s must be bools, got %s and %s", op, x.Kind(), y.Kind())
			return InvalidV{}
		}
		if op == "and" {
			return BoolV{xb.V && yb.V}
		}
		return BoolV{xb.V || yb.V}
	case "==", "!=", "<", "<=", ">", ">=":
		return c.compare(n, op, x, y)
	}
	// Arithmetic on ints and dimensions stays exact.
	xd, xok := dimOf(x)
	yd, yok := dimOf(y)
	if xok && yok {
		checked := func(d Dim) Value {
			if d.Overflows() {
				c.errorAt(n, "%s: integer overflow (the result does not fit in 64 bits)", c.text(n))
				return InvalidV{}
			}
			return dimValue(d)
		}
		switch op {
		case "+":
			return checked(xd.Add(yd))
		case "-":
			return checked(xd.Sub(yd))
		case "*":
			return checked(xd.Mul(yd))
		case "/":
			if yd.IsConst() {
				if k, _ := yd.Const(); k == 0 {
					c.errorAt(n, "%s: division by zero", c.text(n))
					return InvalidV{}
				}
			}
			q, ok := xd.Div(yd)
			if !ok {
				c.errorAt(n, "%s: %s is not divisible by %s", c.text(n), xd, yd)
				return InvalidV{}
			}
			return dimValue(q)
		case "**":
			xi, ok1 := xd.Const()
			yi, ok2 := yd.Const()
			if ok1 && ok2 && yi >= 0 {
				r, ovf := PowInt(xi, yi)
				if ovf {
					c.errorAt(n, "%s: integer overflow (the result does not fit in 64 bits)", c.text(n))
					return InvalidV{}
				}
				return IntV{r}
			}
		}
	}
	xf, xok := floatOf(x)
	yf, yok := floatOf(y)
	if xok && yok {
		switch op {
		case "+":
			return FloatV{xf + yf}
		case "-":
			return FloatV{xf - yf}
		case "*":
			return FloatV{xf * yf}
		case "/":
			if yf == 0 {
				c.errorAt(n, "%s: division by zero", c.text(n))
				return InvalidV{}
			}
			return FloatV{xf / yf}
		case "**":
			return FloatV{math.Pow(xf, yf)}
		}
	}
	if op == "+" {
		if xs, ok := x.(StrV); ok {
			if ys, ok := y.(StrV); ok {
				return StrV{xs.V + ys.V}
			}
		}
	}
	c.errorAt(n, "cannot apply %s to %s and %s", op, x.Kind(), y.Kind())
	return InvalidV{}
}

func (c *checker) compare(n lang.Node, op string, x, y Value) Value {
	var r int
	switch {
	case isNum(x) && isNum(y):
		xd, xok := dimOf(x)
		yd, yok := dimOf(y)
		if xok && yok && (op == "==" || op == "!=") {
			eq := xd.Equal(yd)
			return BoolV{eq == (op == "==")}
		}
		xf, ok1 := floatOf(x)
		yf, ok2 := floatOf(y)
		if !ok1 || !ok2 {
			c.errorAt(n, "cannot order symbolic dimensions %s and %s", valueString(x), valueString(y))
			return InvalidV{}
		}
		switch {
		case xf < yf:
			r = -1
		case xf > yf:
			r = 1
		}
	default:
		xs, ok1 := x.(StrV)
		ys, ok2 := y.(StrV)
		xb, ok3 := x.(BoolV)
		yb, ok4 := y.(BoolV)
		switch {
		case ok1 && ok2:
			r = strings.Compare(xs.V, ys.V)
		case ok3 && ok4 && (op == "==" || op == "!="):
			if xb.V != yb.V {
				r = 1
			}
		default:
			c.errorAt(n, "cannot compare %s with %s", x.Kind(), y.Kind())
			return InvalidV{}
		}
	}
	switch op {
	case "==":
		return BoolV{r == 0}
	case "!=":
		return BoolV{r != 0}
	case "<":
		return BoolV{r < 0}
	case "<=":
		return BoolV{r <= 0}
	case ">":
		return BoolV{r > 0}
	}
	return BoolV{r >= 0}
}

func isNum(v Value) bool {
	switch v.(type) {
	case IntV, FloatV, DimV:
		return true
	}
	return false
}

// selector evaluates x.name.
func (c *checker) selector(x Value, e *lang.SelectorExpr, en *env) Value {
	name := e.Sel.Name
	switch x := x.(type) {
	case InvalidV:
		return x
	case *InstanceV:
		if b, ok := x.I.members[name]; ok {
			return b
		}
		c.errorAt(e.Sel, "%s has no member %q%s", x.I.Model.name, name, suggestSuffix(name, x.I.memberNames()))
		return InvalidV{}
	case *StackV:
		i, err := strconv.Atoi(name)
		if err != nil || i < 0 || i >= len(x.Layers) {
			c.errorAt(e.Sel, "%s has %s; no member %q", x.Path, plural(len(x.Layers), "layer", "layers"), name)
			return InvalidV{}
		}
		return x.Layers[i]
	case *RecordV:
		if v, ok := x.Vals[name]; ok {
			return v
		}
		c.errorAt(e.Sel, "no output %q (have: %s)%s", name, quoteList(x.Names), suggestSuffix(name, x.Names))
		return InvalidV{}
	case *TensorV:
		switch name {
		case "shape":
			l := &ListV{}
			for _, d := range x.T.Dims {
				l.Elems = append(l.Elems, dimValue(d))
			}
			return l
		case "T":
			return c.transpose(e, x)
		}
		c.errorAt(e.Sel, "a tensor has no member %q (have: shape, T)", name)
		return InvalidV{}
	case *LayerV:
		for _, p := range x.E.layerParams(x.Args) {
			if p.Name == name {
				return &TensorV{T: p.Type, Node: c.paramNode(x.Path, name)}
			}
		}
		c.errorAt(e.Sel, "%s has no member %q", x.E.Name, name)
		return InvalidV{}
	}
	c.errorAt(e.Sel, "a %s has no member %q", x.Kind(), name)
	return InvalidV{}
}

func suggestSuffix(name string, cands []string) string {
	if s := diag.Suggest(name, cands); s != "" {
		return " (did you mean " + strconv.Quote(s) + "?)"
	}
	return ""
}

// evalIndex evaluates x[i, lo:hi, ...] on lists and tensors.
func (c *checker) evalIndex(e *lang.IndexExpr, en *env) Value {
	x := c.eval(e.X, en)
	switch x := x.(type) {
	case InvalidV:
		return x
	case *ListV:
		if len(e.Indices) != 1 {
			c.errorAt(e, "a list takes one index")
			return InvalidV{}
		}
		iv := c.eval(e.Indices[0], en)
		i, ok := iv.(IntV)
		if !ok {
			c.errorAt(e.Indices[0], "list index must be an int, got %s", iv.Kind())
			return InvalidV{}
		}
		n := int64(len(x.Elems))
		if i.V < -n || i.V >= n {
			c.errorAt(e.Indices[0], "index %d out of range for a list of %d", i.V, n)
			return InvalidV{}
		}
		if i.V < 0 {
			i.V += n
		}
		return x.Elems[i.V]
	case *TensorV:
		return c.indexTensor(e, x, en)
	}
	c.errorAt(e, "cannot index a %s", x.Kind())
	return InvalidV{}
}

// isDimVarName reports whether an unbound name in a type is a dimension
// variable: it starts with an upper-case letter.
func isDimVarName(s string) bool {
	for _, r := range s {
		return unicode.IsUpper(r)
	}
	return false
}

// evalRepeat evaluates repeat(n, Layer(...)): each copy is a fresh layer,
// as if the layer expression were evaluated n times. It is evaluated
// twice; the other copies are clones of the second (repeat.go).
func (c *checker) evalRepeat(e *lang.CallExpr, en *env) Value {
	if !en.hyper || en.inst != nil {
		c.errorAt(e, "repeat(n, Layer(...)) is only allowed as a sub-layer")
		return InvalidV{}
	}
	if len(e.Args) != 2 || e.Args[0].Name != nil && e.Args[0].Name.Name != "n" || e.Args[1].Name != nil && e.Args[1].Name.Name != "layer" {
		c.errorAt(e, "repeat takes two arguments: repeat(n, Layer(...))")
		return InvalidV{}
	}
	nv := c.eval(e.Args[0].Value, en)
	n, ok := nv.(IntV)
	if !ok {
		if _, bad := nv.(InvalidV); !bad {
			c.errorAt(e.Args[0], "repeat: n must be an int, got %s", describe(nv))
		}
		return InvalidV{}
	}
	if n.V < 0 || n.V > 10000 {
		c.errorAt(e.Args[0], "repeat: n must be between 0 and 10000, got %d", n.V)
		return InvalidV{}
	}
	st := &StackV{}
	ndiags := len(c.diags)
	var cl *repeatCloner // after two copies with no diagnostic: clones of the second (repeat.go)
	for i := int64(0); i < max(n.V, 1); i++ {
		if cl != nil {
			st.Layers = append(st.Layers, cl.clone(st.Layers[1]))
			continue
		}
		v := c.eval(e.Args[1].Value, en)
		switch v.(type) {
		case *LayerV, *InstanceV, *StackV:
		case InvalidV:
			return v
		default:
			c.errorAt(e.Args[1], "repeat: the second argument must be a layer or model, got %s", kindOrType(v))
			return InvalidV{}
		}
		if i < n.V {
			st.Layers = append(st.Layers, v)
		}
		if i == 1 && i+1 < n.V && cloneRepeats && len(c.diags) == ndiags {
			if r := newRepeatCloner(); r.twin(st.Layers[0], st.Layers[1]) {
				cl = r
			}
		}
	}
	return st
}
