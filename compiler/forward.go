package compiler

import (
	"fmt"
	"strings"

	"github.com/encc-lang/encc/internal/diag"
	"github.com/encc-lang/encc/lang"
)

// This file implements calls: of models (instantiation), of instances
// (forward, with dimension variables bound per call), of built-in layers
// and functions, and of layer stacks.

// A forwardResult is a memoized forward check.
type forwardResult struct{ out Value }

// call applies f to args; n is the call node (a CallExpr or a pipe).
func (c *checker) call(f Value, args []*argVal, n lang.Node, en *env) Value {
	switch f := f.(type) {
	case InvalidV:
		return f
	case *ModelV:
		if !en.hyper && en.inst != nil {
			c.errorAt(calleeNode(n), "cannot create a model inside forward: declare it as a sub-layer (%s = %s(...))", strings.ToLower(f.M.name), f.M.name)
			return InvalidV{}
		}
		return c.instantiate(f.M, args, n, en)
	case *InstanceV:
		return c.callInstance(f.I, args, n, en)
	case *LayerV:
		return c.callLayer(f, args, n, en)
	case *StackV:
		// The first argument flows through the layers in order; the
		// others (a padding mask) are given to every layer.
		if len(args) == 0 || args[0].name != "" {
			c.errorAt(calleeNode(n), "a layer stack takes its input as the first argument")
			return InvalidV{}
		}
		v := args[0].v
		for _, l := range f.Layers {
			la := append([]*argVal{{v: v, pos: args[0].pos, end: args[0].end}}, args[1:]...)
			v = c.call(l, la, n, en)
			if _, bad := v.(InvalidV); bad {
				return v
			}
		}
		return v
	case *FuncV:
		return c.callBuiltin(f, args, n, en)
	}
	c.errorAt(calleeNode(n), "cannot call %s: it is a %s", c.callName(n), kindOrType(f))
	return InvalidV{}
}

// callInstance runs (checks) the forward of a model instance.
func (c *checker) callInstance(in *Instance, args []*argVal, n lang.Node, en *env) Value {
	fw := in.forward
	name := c.callName(n)
	if fw == nil {
		c.errorAt(calleeNode(n), "%s has no forward", in.Model.name).WithNote(in.Model.decl.Name.Pos(), "%s declared here", in.Model.name)
		return InvalidV{}
	}
	if en.hyper {
		c.errorAt(calleeNode(n), "cannot run %s here: model calls belong in forward, loss or metrics", name)
		return InvalidV{}
	}
	// Match arguments to forward parameters.
	if len(args) > len(fw.Params) {
		c.errorf(args[len(fw.Params)].pos, "%q takes %s, got %d", name, plural(len(fw.Params), "input", "inputs"), len(args))
		return InvalidV{}
	}
	actual := make([]*argVal, len(fw.Params))
	for i, a := range args {
		if a.name == "" {
			actual[i] = a
			continue
		}
		found := false
		for j, p := range fw.Params {
			if p.Name.Name == a.name {
				actual[j], found = a, true
			}
		}
		if !found {
			c.errorf(a.pos, "%q has no input %q", name, a.name)
			return InvalidV{}
		}
	}
	for i, a := range actual {
		if a == nil && fw.Params[i].Default != nil {
			// An optional input left out takes its default: none.
			dv := c.eval(fw.Params[i].Default, &env{sc: in.scope, hyper: true})
			if _, isNone := dv.(NoneV); !isNone {
				if _, bad := dv.(InvalidV); !bad {
					c.errorAt(fw.Params[i].Default, "the default of a forward input must be none, got %s", describe(dv))
				}
				return InvalidV{}
			}
			actual[i] = &argVal{v: dv, pos: fw.Params[i].Pos(), end: fw.Params[i].End()}
			a = actual[i]
		}
		if a == nil {
			c.errorAt(calleeNode(n), "%q needs input %q", name, fw.Params[i].Name.Name)
			return InvalidV{}
		}
		if _, bad := a.v.(InvalidV); bad {
			return InvalidV{}
		}
	}

	// While lowering, calls of one instance on the same tensors are one
	// forward pass (a train's loss may call model(x) several times).
	var callKey string
	if c.lw != nil {
		callKey = fmt.Sprintf("%p", in)
		for _, a := range actual {
			if t, ok := a.v.(*TensorV); ok {
				callKey += fmt.Sprintf(",%p", t.Node)
			}
		}
		if v, ok := c.lw.calls[callKey]; ok {
			return v
		}
	}
	// Memoize on the instance's identity and the argument types.
	var key strings.Builder
	if c.lw == nil && c.tr == nil {
		key.WriteString(in.Model.file.name + "\x00" + in.String())
		for _, a := range actual {
			key.WriteString("\x00" + kindOrType(a.v))
		}
		if r, ok := c.memo[key.String()]; ok {
			return r.out
		}
	}

	if in.evalOnly && c.lw != nil {
		// A teacher runs as in evaluation: no dropout (distill.go).
		training := c.lw.training
		c.lw.training = false
		defer func() { c.lw.training = training }()
	}
	fen := &env{sc: newScope(in.scope), inst: in, dims: map[string]Dim{}, file: in.Model.file.name}
	c.sites = append(c.sites, site{pos: in.Site, desc: in.siteDesc})
	defer func() { c.sites = c.sites[:len(c.sites)-1] }()

	// Bind dimension variables from the actual types, then check.
	for i, p := range fw.Params {
		if _, isNone := actual[i].v.(NoneV); isNone && p.Default != nil {
			fen.sc.names[p.Name.Name] = &binding{v: NoneV{}, pos: p.Name.Pos(), node: p}
			continue
		}
		t, ok := actual[i].v.(*TensorV)
		if !ok {
			c.errorf(actual[i].pos, "%q expects a tensor for %s, got %s", name, p.Name.Name, kindOrType(actual[i].v))
			return InvalidV{}
		}
		if !c.unify(p.Type, t.T, fen, name, calleeNode(n)) {
			return InvalidV{}
		}
		fen.sc.names[p.Name.Name] = &binding{v: t, pos: p.Name.Pos(), node: p}
		c.record(p.Name, t)
	}
	done := func(Value) {}
	if in.Path != "" {
		done = c.traceEnter(in.Path, in.Model.name, actual)
	}
	out := c.runForward(in, fw, fen)
	done(out)
	if c.lw != nil {
		c.lw.calls[callKey] = out
	}
	if c.lw == nil && c.tr == nil {
		c.memo[key.String()] = &forwardResult{out: out}
	}
	return out
}

// A ForwardInput is one input of a model's forward, as checked.
type ForwardInput struct {
	Name     string
	Type     TensorType // as declared, hyper-parameters bound; dimension variables (B, T) stay symbolic
	Optional bool       // declared with a default (= none)
	Pos, End diag.Pos   // the declaration
}

// ForwardInputs returns the inputs of the forward of in, in order, with
// their checked types: what the model takes (f32 features, i32 token
// ids, a bool mask), without reading the syntax tree.
func (p *Program) ForwardInputs(in *Instance) ([]ForwardInput, error) {
	c := p.c
	before := len(c.diags)
	inputs, ok := c.forwardInputs(in)
	if !ok {
		if d := c.takeDiags(before); d != nil {
			return nil, d
		}
		return nil, diag.Errorf(in.Site, "the forward inputs of %s do not check", in.Model.name)
	}
	return inputs, nil
}

// forwardInputs evaluates the declared input types of the forward of in;
// errors go to the diagnostics.
func (c *checker) forwardInputs(in *Instance) ([]ForwardInput, bool) {
	fw := in.forward
	if fw == nil {
		c.errorAt(in.Model.decl.Name, "%s has no forward", in.Model.name)
		return nil, false
	}
	fen := &env{sc: newScope(in.scope), hyper: true}
	var out []ForwardInput
	for _, p := range fw.Params {
		t, ok := c.evalTensorType(p.Type, fen, map[string]bool{})
		if !ok {
			return nil, false
		}
		out = append(out, ForwardInput{Name: p.Name.Name, Type: t, Optional: p.Default != nil, Pos: p.Pos(), End: p.End()})
	}
	return out, true
}

// unify matches a declared forward parameter type with an actual type,
// binding dimension variables in en.
func (c *checker) unify(decl lang.Type, actual TensorType, en *env, name string, at lang.Node) bool {
	tt, ok := decl.(*lang.TensorType)
	if !ok {
		c.errorAt(decl, "forward parameters must have tensor types")
		return false
	}
	// First bind bare dimension variables, so the expected type prints
	// with what is known.
	if len(tt.Dims) == len(actual.Dims) {
		for i, d := range tt.Dims {
			id, isID := d.(*lang.Ident)
			if isID && isDimVarName(id.Name) && en.sc.lookup(id.Name) == nil {
				en.dims[id.Name] = actual.Dims[i]
				en.sc.names[id.Name] = &binding{v: dimValue(actual.Dims[i]), pos: id.Pos(), node: id}
			}
		}
	}
	want := TensorType{DType: tt.DType}
	good := len(tt.Dims) == len(actual.Dims) && tt.DType == actual.DType
	for i, d := range tt.Dims {
		var dim Dim
		if id, isID := d.(*lang.Ident); isID && isDimVarName(id.Name) && en.sc.lookup(id.Name) == nil {
			dim = VarDim(id.Name) // unbound: rank mismatch
		} else {
			c.recording = false
			v := c.eval(d, en)
			c.recording = true
			var ok bool
			dim, ok = dimOf(v)
			if !ok {
				if _, bad := v.(InvalidV); !bad {
					c.errorAt(d, "dimension must be an int, got %s", v.Kind())
				}
				return false
			}
		}
		want.Dims = append(want.Dims, dim)
		if i < len(actual.Dims) && !dim.Equal(actual.Dims[i]) {
			good = false
		}
	}
	if !good {
		c.errorAt(at, "%q expects %s, got %s", name, want, actual)
		return false
	}
	return true
}

// runForward evaluates the body of forward and checks the result type.
func (c *checker) runForward(in *Instance, fw *lang.ForwardDecl, en *env) Value {
	ret, retNode, ok := c.block(fw.Body.Stmts, en)
	if !ok {
		return InvalidV{}
	}
	if ret == nil {
		// Point at the closing brace, not past it.
		at := fw.Body.End()
		if at.Col > 1 {
			at.Col, at.Offset = at.Col-1, at.Offset-1
		}
		c.errorf(at, "forward of %s ends without return", in.Model.name)
		return InvalidV{}
	}
	if _, bad := ret.(InvalidV); bad {
		return ret
	}
	if !fw.Named {
		return c.checkResult(fw.Results[0], ret, retNode, en)
	}
	m, isMap := ret.(*MapV)
	if !isMap {
		c.errorAt(retNode, "forward of %s declares named outputs; return them as { %s: ... }", in.Model.name, fw.Results[0].Name.Name)
		return InvalidV{}
	}
	rec := &RecordV{Vals: map[string]Value{}}
	for _, r := range fw.Results {
		v, found := m.Vals[r.Name.Name]
		if !found {
			c.errorAt(retNode, "missing output %q in return", r.Name.Name)
			return InvalidV{}
		}
		v = c.checkResult(r, v, retNode, en)
		rec.Names = append(rec.Names, r.Name.Name)
		rec.Vals[r.Name.Name] = v
	}
	for _, k := range m.Keys {
		if _, ok := rec.Vals[k]; !ok {
			c.errorf(m.Pos[k], "forward of %s has no output %q", in.Model.name, k)
		}
	}
	return rec
}

func (c *checker) checkResult(r *lang.Result, v Value, at lang.Node, en *env) Value {
	t, ok := v.(*TensorV)
	if !ok {
		c.errorAt(at, "forward must return a tensor, got %s", kindOrType(v))
		return InvalidV{}
	}
	c.recording = false
	want, good := c.evalTensorType(r.Type, en, nil)
	c.recording = true
	if !good {
		return InvalidV{}
	}
	if !want.Equal(t.T) {
		c.errorAt(at, "returns %s, declared %s", t.T, want).WithNote(r.Type.Pos(), "result declared here")
		return InvalidV{}
	}
	return t
}

// block runs statements; it returns the returned value (nil when the
// block does not return) and false after an error that stops checking.
func (c *checker) block(stmts []lang.Stmt, en *env) (Value, lang.Node, bool) {
	for _, s := range stmts {
		switch s := s.(type) {
		case *lang.AssignStmt:
			name := s.Name.Name
			if keywords[name] {
				c.errorAt(s.Name, "%q is a keyword and cannot be assigned", name)
				return nil, nil, false
			}
			if b := en.sc.lookup(name); b != nil && en.inst != nil {
				if _, isMember := en.inst.members[name]; isMember {
					c.errorAt(s.Name, "%s is a member of %s and cannot be assigned in forward", name, en.inst.Model.name)
					return nil, nil, false
				}
			}
			v := c.eval(s.Value, en)
			c.record(s.Name, v)
			en.sc.names[name] = &binding{v: v, pos: s.Name.Pos(), node: s}
		case *lang.ReturnStmt:
			return c.eval(s.Value, en), s.Value, true
		case *lang.IfStmt:
			v, n, ok, done := c.ifStmt(s, en)
			if !ok || done {
				return v, n, ok
			}
		}
	}
	return nil, nil, true
}

func (c *checker) ifStmt(s *lang.IfStmt, en *env) (Value, lang.Node, bool, bool) {
	cond, ok := c.condition(s.Cond, en)
	if !ok {
		return nil, nil, false, true
	}
	var stmts []lang.Stmt
	switch {
	case cond:
		stmts = s.Then.Stmts
	case s.ElseIf != nil:
		return c.ifStmt(s.ElseIf, en)
	case s.Else != nil:
		stmts = s.Else.Stmts
	}
	v, n, ok := c.block(stmts, en)
	return v, n, ok, v != nil || !ok
}
