package pytorch

// This file implements the translation of .enc expressions to Python:
// names (locals, hyper-parameters, members, consts), operators, pipes,
// calls of layers, models and built-ins (through the forms of ops.go).

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/encc-lang/encc/compiler"
	"github.com/encc-lang/encc/lang"
)

// ident translates a name.
func (f *fnGen) ident(id *lang.Ident) (string, kind, error) {
	name := id.Name
	if k, ok := f.locals[name]; ok {
		if f.ctx == ctxLoss {
			return f.fields[name], k, nil
		}
		return pyName(name), k, nil
	}
	if name == "none" {
		return "None", kNone, nil
	}
	if f.ctx == ctxLoss {
		if name == "model" {
			return "model", kInstance, nil
		}
		if _, ok := compiler.Lookup(name); ok {
			return name, kFunc, nil
		}
		return "", 0, errAt(id, "cannot export: %s in the loss has no PyTorch translation", name)
	}
	v, decl, ok := f.c.inst.Resolve(name)
	if !ok {
		if _, isBuiltin := compiler.Lookup(name); isBuiltin {
			return name, kFunc, nil
		}
		// A member of a compile-time branch this instance did not take.
		if k, ok := declMember(f.c.decl.Members, name); ok {
			return "self." + pyName(name), k, nil
		}
		return "", 0, errAt(id, "cannot export: unknown name %s", name)
	}
	if f.c.inst.IsHyper(name) {
		return "self." + pyName(name), kindOf(v), nil
	}
	if mv, member := f.c.inst.Member(name); member {
		return "self." + pyName(name), kindOf(mv), nil
	}
	if cd, ok := decl.(*lang.ConstDecl); ok {
		return f.constant(cd, v)
	}
	switch v := v.(type) {
	case *compiler.ModelV:
		d, _ := compiler.ModelDeclOf(v)
		return d.Name.Name, kModel, nil
	case *compiler.FuncV:
		return name, kFunc, nil
	}
	if v == nil {
		return name, kFunc, nil
	}
	return "", 0, errAt(id, "cannot export: %s (%s) has no PyTorch translation", name, v.Kind())
}

// declMember finds a member declared in any branch of a model body and
// says what it holds.
func declMember(ms []lang.Member, name string) (kind, bool) {
	for _, m := range ms {
		switch m := m.(type) {
		case *lang.SubLayer:
			if m.Name.Name != name {
				continue
			}
			if c, ok := m.Value.(*lang.CallExpr); ok {
				if id, ok := c.Fun.(*lang.Ident); ok {
					if id.Name == "repeat" {
						return kStack, true
					}
					if e, ok := compiler.Lookup(id.Name); ok && e.Kind == compiler.KLayer {
						return kLayer, true
					}
				}
			}
			return kInstance, true
		case *lang.ParamDecl:
			if m.Name.Name == name {
				return kTensor, true
			}
		case *lang.IfMember:
			for ; m != nil; m = m.ElseIf {
				if k, ok := declMember(m.Then, name); ok {
					return k, true
				}
				if k, ok := declMember(m.Else, name); ok {
					return k, true
				}
			}
		}
	}
	return 0, false
}

// constant adds a module-level constant for a const declaration.
func (f *fnGen) constant(cd *lang.ConstDecl, v compiler.Value) (string, kind, error) {
	name := strings.ToUpper(cd.Name.Name)
	if !f.g.constDef[cd] {
		f.g.constDef[cd] = true
		cg := &fnGen{g: f.g, c: f.c, ctx: ctxHyper, locals: map[string]kind{}}
		code, _, err := cg.expr(cd.Value)
		if err != nil {
			return "", 0, err
		}
		f.g.consts = append(f.g.consts, fmt.Sprintf("%s = %s  # %s:%d", name, code, displayName(cd.Pos().File), cd.Pos().Line))
	}
	return name, kindOf(v), nil
}

// expr translates an expression.
func (f *fnGen) expr(e lang.Expr) (string, kind, error) {
	switch e := e.(type) {
	case *lang.Ident:
		return f.ident(e)
	case *lang.BasicLit:
		switch e.Kind {
		case lang.IntLit:
			return e.Value, kInt, nil
		case lang.FloatLit:
			return e.Value, kFloat, nil
		case lang.StringLit:
			return strconv.Quote(e.Value), kStr, nil
		case lang.BoolLit:
			if e.Value == "true" {
				return "True", kBool, nil
			}
			return "False", kBool, nil
		}
	case *lang.ParenExpr:
		s, k, err := f.expr(e.X)
		return "(" + s + ")", k, err
	case *lang.UnaryExpr:
		s, k, err := f.expr(e.X)
		if e.Op == "not" {
			if k == kTensor {
				return "~" + s, k, err
			}
			return "not " + s, kBool, err
		}
		return e.Op + s, k, err
	case *lang.BinaryExpr:
		if e.Op == "|>" {
			return f.pipe(e)
		}
		return f.binary(e)
	case *lang.CallExpr:
		return f.call(e, e.Fun, e.Args)
	case *lang.SelectorExpr:
		x, k, err := f.expr(e.X)
		if err != nil {
			return "", 0, err
		}
		switch k {
		case kTensor:
			if e.Sel.Name == "T" {
				return x + ".transpose(-2, -1)", kTensor, nil
			}
			return x + "." + e.Sel.Name, kList, nil
		case kRecord:
			return fmt.Sprintf("%s[%q]", x, e.Sel.Name), kTensor, nil
		case kStack:
			return x + "[" + e.Sel.Name + "]", f.memberKind(e), nil
		case kLayer:
			return x + "." + e.Sel.Name, kTensor, nil
		}
		return x + "." + pyName(e.Sel.Name), f.memberKind(e), nil
	case *lang.IndexExpr:
		x, k, err := f.expr(e.X)
		if err != nil {
			return "", 0, err
		}
		var parts []string
		for _, ix := range e.Indices {
			if sl, ok := ix.(*lang.SliceExpr); ok {
				var lo, hi string
				if sl.Lo != nil {
					if lo, _, err = f.expr(sl.Lo); err != nil {
						return "", 0, err
					}
				}
				if sl.Hi != nil {
					if hi, _, err = f.expr(sl.Hi); err != nil {
						return "", 0, err
					}
				}
				parts = append(parts, lo+":"+hi)
				continue
			}
			s, _, err := f.expr(ix)
			if err != nil {
				return "", 0, err
			}
			parts = append(parts, s)
		}
		rk := kTensor
		if k == kList {
			rk = kInt
		}
		return x + "[" + strings.Join(parts, ", ") + "]", rk, nil
	case *lang.ListExpr:
		var parts []string
		for _, x := range e.Elems {
			s, _, err := f.expr(x)
			if err != nil {
				return "", 0, err
			}
			parts = append(parts, s)
		}
		return "[" + strings.Join(parts, ", ") + "]", kList, nil
	case *lang.MapExpr:
		var parts []string
		for _, ent := range e.Entries {
			s, _, err := f.expr(ent.Value)
			if err != nil {
				return "", 0, err
			}
			parts = append(parts, fmt.Sprintf("%q: %s", ent.Key, s))
		}
		return "{" + strings.Join(parts, ", ") + "}", kRecord, nil
	}
	return "", 0, errAt(e, "cannot export this expression to PyTorch")
}

// memberKind is the kind of a member reached through a selector
// (encoder.fc1, blocks.0).
func (f *fnGen) memberKind(e *lang.SelectorExpr) kind {
	if v := f.selectValue(e); v != nil {
		return kindOf(v)
	}
	return kUnknown
}

// selectValue follows a chain of member selectors from the instance.
func (f *fnGen) selectValue(e lang.Expr) compiler.Value {
	switch e := e.(type) {
	case *lang.Ident:
		if f.c == nil {
			return nil
		}
		v, ok := f.c.inst.Member(e.Name)
		if !ok {
			return nil
		}
		return v
	case *lang.SelectorExpr:
		x := f.selectValue(e.X)
		switch x := x.(type) {
		case *compiler.InstanceV:
			v, _ := x.I.Member(e.Sel.Name)
			return v
		case *compiler.StackV:
			i, err := strconv.Atoi(e.Sel.Name)
			if err == nil && i >= 0 && i < len(x.Layers) {
				return x.Layers[i]
			}
		}
	}
	return nil
}

func (f *fnGen) binary(e *lang.BinaryExpr) (string, kind, error) {
	x, kx, err := f.expr(e.X)
	if err != nil {
		return "", 0, err
	}
	y, ky, err := f.expr(e.Y)
	if err != nil {
		return "", 0, err
	}
	switch e.Op {
	case "==", "!=":
		if kx == kNone || ky == kNone {
			op := "is"
			if e.Op == "!=" {
				op = "is not"
			}
			return x + " " + op + " " + y, kBool, nil
		}
		if kx == kTensor || ky == kTensor {
			return x + " " + e.Op + " " + y, kTensor, nil
		}
		return x + " " + e.Op + " " + y, kBool, nil
	case "<", "<=", ">", ">=", "and", "or":
		if kx == kTensor || ky == kTensor {
			op := map[string]string{"and": "&", "or": "|"}[e.Op]
			if op == "" {
				op = e.Op
			}
			return x + " " + op + " " + y, kTensor, nil
		}
		return x + " " + e.Op + " " + y, kBool, nil
	}
	k := kInt
	switch {
	case kx == kTensor || ky == kTensor:
		k = kTensor
	case kx == kFloat || ky == kFloat:
		k = kFloat
	}
	op := e.Op
	if op == "/" && k == kInt {
		op = "//" // exact for ints: the checker proved it divides
	}
	return x + " " + op + " " + y, k, nil
}

// pipe translates x |> f and x |> f(args): f(x, args).
func (f *fnGen) pipe(e *lang.BinaryExpr) (string, kind, error) {
	first := &lang.Arg{Span: lang.Span{Start: e.X.Pos(), EndPos: e.X.End()}, Value: e.X}
	// Errors point at the function, not at the piped value.
	if c, ok := e.Y.(*lang.CallExpr); ok {
		return f.call(c, c.Fun, append([]*lang.Arg{first}, c.Args...))
	}
	return f.call(e.Y, e.Y, []*lang.Arg{first})
}

// call translates a call of fun with args (n is the call or pipe node).
func (f *fnGen) call(n lang.Node, fun lang.Expr, args []*lang.Arg) (string, kind, error) {
	// repeat(n, Layer(...)) is a Stack.
	if id, ok := fun.(*lang.Ident); ok && id.Name == "repeat" && f.ctx == ctxHyper {
		if len(args) != 2 {
			return "", 0, errAt(n, "cannot export repeat with %d arguments", len(args))
		}
		cnt, _, err := f.expr(args[0].Value)
		if err != nil {
			return "", 0, err
		}
		layer, _, err := f.expr(args[1].Value)
		if err != nil {
			return "", 0, err
		}
		return fmt.Sprintf("Stack(%s for _ in range(%s))", layer, cnt), kStack, nil
	}
	callee, k, err := f.expr(fun)
	if err != nil {
		return "", 0, err
	}
	switch k {
	case kLayer, kStack, kInstance, kModel:
		var parts []string
		for _, a := range args {
			s, _, err := f.expr(a.Value)
			if err != nil {
				return "", 0, err
			}
			if a.Name != nil {
				s = pyName(a.Name.Name) + "=" + s
			}
			parts = append(parts, s)
		}
		if k == kLayer && f.recurrentLayer(fun) {
			// RNN, GRU, LSTM: encc's named outputs and masked steps.
			f.g.support = true
			return "es.recurrent(" + strings.Join(append([]string{callee}, parts...), ", ") + ")", kRecord, nil
		}
		code := callee + "(" + strings.Join(parts, ", ") + ")"
		rk := kTensor
		if k == kModel {
			rk = kInstance
		}
		if k == kInstance && f.returnsRecord(fun) {
			rk = kRecord
		}
		if f.ctx == ctxLoss && callee == "model" {
			if f.pred == "" {
				f.pred = code
				f.pre = append(f.pre, "pred = "+code)
			}
			if code == f.pred {
				return "pred", rk, nil
			}
		}
		return code, rk, nil
	case kFunc:
		return f.builtin(n, callee, args)
	}
	return "", 0, errAt(n, "cannot export: %s is not callable", callee)
}

// recurrentLayer reports whether the layer called through fun is an
// RNN, GRU or LSTM, whose call returns named outputs.
func (f *fnGen) recurrentLayer(fun lang.Expr) bool {
	name := ""
	if lv, ok := f.selectValue(fun).(*compiler.LayerV); ok {
		name = lv.E.Name
	} else if id, ok := fun.(*lang.Ident); ok && f.c != nil {
		name = declLayer(f.c.decl.Members, id.Name)
	}
	return name == "RNN" || name == "GRU" || name == "LSTM"
}

// declLayer returns the built-in layer a member declared in any branch
// of a model body is made by (Linear, LSTM), or "".
func declLayer(ms []lang.Member, name string) string {
	for _, m := range ms {
		switch m := m.(type) {
		case *lang.SubLayer:
			if m.Name.Name != name {
				continue
			}
			if c, ok := m.Value.(*lang.CallExpr); ok {
				if id, ok := c.Fun.(*lang.Ident); ok {
					return id.Name
				}
			}
			return ""
		case *lang.IfMember:
			for ; m != nil; m = m.ElseIf {
				if s := declLayer(m.Then, name); s != "" {
					return s
				}
				if s := declLayer(m.Else, name); s != "" {
					return s
				}
			}
		}
	}
	return ""
}

// returnsRecord reports whether the model called through fun has named
// outputs.
func (f *fnGen) returnsRecord(fun lang.Expr) bool {
	var in *compiler.Instance
	if f.ctx == ctxLoss {
		in = f.lossModel()
	} else if v, ok := f.selectValue(fun).(*compiler.InstanceV); ok {
		in = v.I
	}
	if in == nil {
		return false
	}
	for _, m := range in.Decl().Members {
		if fw, ok := m.(*lang.ForwardDecl); ok {
			return fw.Named
		}
	}
	return false
}

func (f *fnGen) lossModel() *compiler.Instance {
	if f.c == nil {
		return nil
	}
	return f.c.inst
}

// builtin translates a call of a catalog entry through its form.
func (f *fnGen) builtin(n lang.Node, name string, args []*lang.Arg) (string, kind, error) {
	e, ok := compiler.Lookup(name)
	if !ok {
		return "", 0, errAt(n, "cannot export: unknown built-in %s", name)
	}
	fm, ok := formOf(e)
	if !ok || fm.py == nil {
		why := "it has no PyTorch form"
		if ok && fm.reason != "" {
			why = fm.reason
		}
		return "", 0, errAt(n, "cannot export %s to PyTorch: %s", name, why)
	}
	specs := append(append([]compiler.ParamSpec(nil), e.In...), e.Params...)
	npos := len(specs)
	if e.Rest != nil {
		npos = len(e.In)
	}
	if e.Kind == compiler.KLayer { // a constructor: In is the forward's input
		specs, npos = e.Params, len(e.Params)
	}
	c := &call{name: name, args: map[string]string{}, kinds: map[string]kind{}, dev: f.dev}
	pos := 0
	for _, a := range args {
		s, k, err := f.expr(a.Value)
		if err != nil {
			return "", 0, err
		}
		receiver := e.Kind != compiler.KLayer && len(e.In) > 0 &&
			(a.Name == nil && pos == 0 || a.Name != nil && a.Name.Name == e.In[0].Name)
		if receiver && needsParens(a.Value) {
			s = "(" + s + ")" // it may become a method's receiver: (h * m).sum(...)
		}
		if a.Name != nil {
			if k == kNone {
				continue
			}
			c.args[a.Name.Name], c.kinds[a.Name.Name] = s, k
			continue
		}
		if pos < npos {
			c.args[specs[pos].Name], c.kinds[specs[pos].Name] = s, k
			pos++
			continue
		}
		c.rest = append(c.rest, s)
	}
	if c.dev == "" { // no required tensor input: the module's own device
		c.dev = "next(self.parameters())"
	}
	if name == "mlm" { // the model's forward may take the mask or not
		c.args["with_mask"] = "True"
		if in := f.lossModel(); in != nil && forwardArity(in) < 2 {
			c.args["with_mask"] = "False"
		}
	}
	out := fm.py(c)
	k := kTensor
	if e.Kind == compiler.KLayer {
		k = kLayer
	}
	if x, ok := c.kinds["x"]; ok && x != kTensor && len(e.In) == 1 && e.In[0].Type == "any" {
		k = kFloat
	}
	return out, k, nil
}

// forwardArity is the number of inputs of an instance's forward.
func forwardArity(in *compiler.Instance) int {
	for _, m := range in.Decl().Members {
		if fw, ok := m.(*lang.ForwardDecl); ok {
			return len(fw.Params)
		}
	}
	return 0
}

// needsParens reports whether e translates to an infix expression.
func needsParens(e lang.Expr) bool {
	switch e := e.(type) {
	case *lang.BinaryExpr:
		return e.Op != "|>"
	case *lang.UnaryExpr:
		return true
	case *lang.CallExpr:
		if id, ok := e.Fun.(*lang.Ident); ok && id.Name == "matmul" {
			return true
		}
	}
	return false
}
