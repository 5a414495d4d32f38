package compiler

import (
	"errors"
	"fmt"
	"strings"

	"github.com/encc-lang/encc/internal/diag"
	"github.com/encc-lang/encc/lang"
)

// This file implements models: binding hyper-parameters, instantiating
// members into a parameter tree with PyTorch-style dotted names, and
// checking forward with dimension variables bound at each call.

// An Instance is a model with its hyper-parameters bound: a subtree of
// the parameter tree.
type Instance struct {
	Model    *modelDecl
	HP       map[string]Value // hyper-parameters by name
	HPNames  []string         // in declaration order
	Path     string           // dotted path; "" for the root instance
	Site     diag.Pos         // where it was created
	siteDesc string

	members     map[string]Value // sub-layers and param tensors
	memberOrder []string
	memberPos   map[string]lang.Node
	params      map[string]*Param // own param/buffer declarations by name
	scope       *scope            // hyper-parameters and members
	forward     *lang.ForwardDecl
	evalOnly    bool // a train's teacher: its forward runs without dropout
}

// A Param is one tensor of the parameter tree.
type Param struct {
	Path   string     // dotted name: encoder.fc1.weight
	Type   TensorType // concrete dimensions
	Buffer bool       // saved but not trained
	Init   Value      // a *ConfigV of an init function; nil: the layer's default
	Layer  string     // kind that owns it: "Linear", "param"...
	Pos    diag.Pos   // declaration
	// FanIn and FanOut feed the default initializers (PyTorch's rules).
	FanIn, FanOut int
}

// Elements returns the number of elements of p.
func (p *Param) Elements() int64 {
	n := int64(1)
	for _, d := range p.Type.Dims {
		k, _ := d.Const()
		n *= k
	}
	return n
}

// String prints the instance as a call: MLPEncoder(in_dim: 64).
func (in *Instance) String() string {
	var parts []string
	for _, n := range in.HPNames {
		parts = append(parts, n+": "+valueString(in.HP[n]))
	}
	return in.Model.name + "(" + strings.Join(parts, ", ") + ")"
}

// Name returns the model's name.
func (in *Instance) Name() string { return in.Model.name }

// Decl returns the model declaration.
func (in *Instance) Decl() *lang.ModelDecl { return in.Model.decl }

func (in *Instance) memberNames() []string { return in.memberOrder }

// Member returns a member by name: a *LayerV, *StackV, *InstanceV or
// *TensorV (param/buffer).
func (in *Instance) Member(name string) (Value, bool) {
	v, ok := in.members[name]
	return v, ok
}

// Members lists member names in declaration order.
func (in *Instance) Members() []string { return in.memberOrder }

// Params returns every tensor of the subtree, in declaration order, with
// full dotted paths.
func (in *Instance) Params() []*Param {
	var out []*Param
	for _, name := range in.memberOrder {
		out = appendParams(out, in.members[name], in, name)
	}
	return out
}

func appendParams(out []*Param, v Value, owner *Instance, name string) []*Param {
	switch v := v.(type) {
	case *TensorV:
		p := *owner.params[name]
		p.Path = joinPath(owner.Path, name)
		return append(out, &p)
	case *LayerV:
		for _, lp := range v.E.layerParams(v.Args) {
			out = append(out, &Param{Path: joinPath(v.Path, lp.Name), Type: lp.Type, Buffer: lp.Buffer,
				Layer: v.E.Name, Pos: v.Pos, FanIn: lp.FanIn, FanOut: lp.FanOut, Init: lp.Init})
		}
	case *StackV:
		for _, l := range v.Layers {
			out = appendParams(out, l, owner, "")
		}
	case *InstanceV:
		out = append(out, v.I.Params()...)
	}
	return out
}

func joinPath(prefix, name string) string {
	switch {
	case prefix == "":
		return name
	case name == "":
		return prefix
	}
	return prefix + "." + name
}

// attach sets the dotted path of a member value and everything under it.
func attach(v Value, path string) {
	switch v := v.(type) {
	case *LayerV:
		v.Path = path
	case *StackV:
		v.Path = path
		for i, l := range v.Layers {
			attach(l, joinPath(path, fmt.Sprint(i)))
		}
	case *InstanceV:
		v.I.Path = path
		for _, n := range v.I.memberOrder {
			attach(v.I.members[n], joinPath(path, n))
		}
	}
}

// instantiate binds hyper-parameters and builds the members of a model.
func (c *checker) instantiate(m *modelDecl, args []*argVal, n lang.Node, en *env) Value {
	if c.depth > 64 {
		c.errorAt(n, "model %s instantiates itself (recursion deeper than 64)", m.name)
		return InvalidV{}
	}
	c.depth++
	defer func() { c.depth-- }()
	m.instances++
	var resize map[string]int64 // Options.Resize: for the train's model, not its layers or arguments
	if n != nil && n == c.resizeAt {
		resize, c.resize, c.resizeAt = c.resize, nil, nil
	}

	in := &Instance{Model: m, HP: map[string]Value{}, members: map[string]Value{},
		memberPos: map[string]lang.Node{}, params: map[string]*Param{}}
	top := n == nil // checked on its own, with default hyper-parameters
	if top {
		n = m.decl.Name
	} else {
		in.Site = n.Pos()
	}
	in.scope = newScope(m.file.scope)
	hpEnv := &env{sc: in.scope, hyper: true}

	decl := m.decl
	named := map[string]*argVal{}
	var positional []*argVal
	for _, a := range args {
		if _, bad := a.v.(InvalidV); bad {
			return InvalidV{}
		}
		if a.name == "" {
			if len(named) > 0 {
				c.errorf(a.pos, "positional argument after named arguments")
				return InvalidV{}
			}
			positional = append(positional, a)
			continue
		}
		if _, dup := named[a.name]; dup {
			c.errorf(a.pos, "argument %q given twice", a.name)
			return InvalidV{}
		}
		named[a.name] = a
	}
	if len(positional) > len(decl.Params) {
		c.errorf(positional[len(decl.Params)].pos, "%s takes %s, got %d", m.name, plural(len(decl.Params), "argument", "arguments"), len(positional))
		return InvalidV{}
	}
	var hpNames []string
	for _, p := range decl.Params {
		hpNames = append(hpNames, p.Name.Name)
	}
	for name, a := range named {
		found := false
		for _, p := range decl.Params {
			if p.Name.Name == name {
				found = true
			}
		}
		if !found {
			c.errorf(a.pos, "%s has no parameter %q%s", m.name, name, suggestSuffix(name, hpNames)).
				WithNote(decl.Name.Pos(), "%s declared here", m.name)
			return InvalidV{}
		}
	}
	ok := true
	for i, p := range decl.Params {
		name := p.Name.Name
		var v Value
		var at diag.Pos
		switch {
		case i < len(positional):
			if _, dup := named[name]; dup {
				c.errorf(named[name].pos, "argument %q given twice", name)
				return InvalidV{}
			}
			v, at = positional[i].v, positional[i].pos
		case named[name] != nil:
			v, at = named[name].v, named[name].pos
		case p.Default != nil:
			v = c.eval(p.Default, hpEnv)
			at = p.Default.Pos()
		default:
			c.errorAt(n, "%s needs argument %q", m.name, name).WithNote(p.Pos(), "%s declared here", name)
			ok = false
			continue
		}
		if r, ok := resize[name]; ok {
			v = IntV{r}
		}
		v, good := c.coerceHyper(p, v, at)
		if !good {
			ok = false
			continue
		}
		in.HP[name] = v
		in.HPNames = append(in.HPNames, name)
		if keywords[name] {
			c.errorAt(p.Name, "%q is a keyword and cannot name a parameter", name)
		}
		in.scope.names[name] = &binding{v: v, pos: p.Name.Pos(), node: p}
	}
	if !ok {
		return InvalidV{}
	}

	if !top {
		in.siteDesc = c.siteDesc(in, n)
	}
	c.sites = append(c.sites, site{pos: in.Site, desc: in.siteDesc})
	defer func() { c.sites = c.sites[:len(c.sites)-1] }()
	c.members(in, decl.Members, hpEnv)
	return &InstanceV{in}
}

func (c *checker) siteDesc(in *Instance, n lang.Node) string {
	if t := c.text(n); t != "" && !strings.Contains(t, "\n") && len(t) < 80 {
		return "in " + t + " instantiated here"
	}
	return "in " + in.String() + " instantiated here"
}

// coerceHyper checks a hyper-parameter value against its declared type.
func (c *checker) coerceHyper(p *lang.HyperParam, v Value, at diag.Pos) (Value, bool) {
	if _, bad := v.(InvalidV); bad {
		return v, false
	}
	st, ok := p.Type.(*lang.ScalarType)
	if p.Type == nil {
		return v, true
	}
	if !ok {
		c.errorf(at, "parameter %s: tensor-typed hyper-parameters are not supported", p.Name.Name)
		return v, false
	}
	switch st.Name {
	case "int":
		if _, ok := v.(IntV); ok {
			return v, true
		}
	case "float":
		if f, ok := floatOf(v); ok {
			return FloatV{f}, true
		}
	case "bool":
		if _, ok := v.(BoolV); ok {
			return v, true
		}
	case "string":
		if _, ok := v.(StrV); ok {
			return v, true
		}
	}
	c.errorf(at, "parameter %s must be %s, got %s %s", p.Name.Name, st.Name, v.Kind(), valueString(v)).
		WithNote(p.Pos(), "%s declared here", p.Name.Name)
	return v, false
}

// members evaluates the body of a model into in.
func (c *checker) members(in *Instance, ms []lang.Member, en *env) {
	for _, m := range ms {
		switch m := m.(type) {
		case *lang.SubLayer:
			name := m.Name.Name
			if !c.declareMember(in, m.Name, m) {
				continue
			}
			v := c.eval(m.Value, en)
			switch v.(type) {
			case *LayerV, *StackV, *InstanceV:
			case InvalidV:
				in.scope.names[name] = &binding{v: InvalidV{}, pos: m.Name.Pos(), node: m}
				continue
			default:
				c.errorAt(m.Value, "sub-layer %s must be a layer or a model instance, got %s", name, kindOrType(v))
				in.scope.names[name] = &binding{v: InvalidV{}, pos: m.Name.Pos(), node: m}
				continue
			}
			attach(v, joinPath(in.Path, name))
			in.members[name] = v
			in.memberOrder = append(in.memberOrder, name)
			in.scope.names[name] = &binding{v: v, pos: m.Name.Pos(), node: m}
		case *lang.ParamDecl:
			name := m.Name.Name
			if !c.declareMember(in, m.Name, m) {
				continue
			}
			// Until it checks, the name is bound to an invalid value, so
			// its uses report nothing more.
			in.scope.names[name] = &binding{v: InvalidV{}, pos: m.Name.Pos(), node: m}
			t, ok := c.evalTensorType(m.Type, en, nil)
			if !ok {
				continue
			}
			if _, isConst := t.ConstShape(); !isConst {
				c.errorAt(m.Type, "%s %s: dimensions must be known from hyper-parameters, got %s", kw(m.Buffer), name, t)
				continue
			}
			p := &Param{Type: t, Buffer: m.Buffer, Layer: kw(m.Buffer), Pos: m.Name.Pos()}
			if m.Init != nil {
				iv := c.eval(m.Init, en)
				cv, ok := iv.(*ConfigV)
				if fv, isF := iv.(*FuncV); isF && fv.E.Kind == KInit {
					cv, ok = &ConfigV{E: fv.E, Args: fv.E.defaults(), Pos: m.Init.Pos()}, true
				}
				if !ok || cv.E.Kind != KInit {
					if _, bad := iv.(InvalidV); !bad {
						c.errorAt(m.Init, "%s %s: initializer must be an init function such as zeros() or kaiming_uniform(), got %s", kw(m.Buffer), name, kindOrType(iv))
					}
					continue
				}
				p.Init = cv
			}
			if r := len(t.Dims); r >= 2 {
				recept := int64(1)
				for _, d := range t.Dims[2:] {
					k, _ := d.Const()
					recept *= k
				}
				in0, _ := t.Dims[1].Const()
				out0, _ := t.Dims[0].Const()
				p.FanIn, p.FanOut = int(in0*recept), int(out0*recept)
			} else if r == 1 {
				n, _ := t.Dims[0].Const()
				p.FanIn, p.FanOut = int(n), int(n)
			}
			in.params[name] = p
			tv := &TensorV{T: t}
			in.members[name] = tv
			in.memberOrder = append(in.memberOrder, name)
			in.scope.names[name] = &binding{v: tv, pos: m.Name.Pos(), node: m}
		case *lang.ForwardDecl:
			if in.forward != nil {
				c.errorAt(m, "%s has two forward declarations", in.Model.name).WithNote(in.forward.Pos(), "first forward here")
				continue
			}
			in.forward = m
		case *lang.IfMember:
			c.ifMember(in, m, en)
		}
	}
}

func kw(buffer bool) string {
	if buffer {
		return "buffer"
	}
	return "param"
}

func (c *checker) declareMember(in *Instance, id *lang.Ident, n lang.Node) bool {
	name := id.Name
	if keywords[name] {
		c.errorAt(id, "%q is a keyword and cannot name a member", name)
		return false
	}
	if old, dup := in.memberPos[name]; dup {
		c.errorAt(id, "member %s redeclared", name).WithNote(old.Pos(), "other declaration of %s", name)
		in.scope.names[name] = &binding{v: InvalidV{}, pos: id.Pos(), node: n}
		return false
	}
	if _, isHP := in.HP[name]; isHP {
		c.errorAt(id, "member %s has the name of a hyper-parameter of %s", name, in.Model.name)
		return false
	}
	in.memberPos[name] = n
	return true
}

func (c *checker) ifMember(in *Instance, m *lang.IfMember, en *env) {
	cond, ok := c.condition(m.Cond, en)
	if !ok {
		return
	}
	switch {
	case cond:
		c.members(in, m.Then, en)
	case m.ElseIf != nil:
		c.ifMember(in, m.ElseIf, en)
	default:
		c.members(in, m.Else, en)
	}
}

// condition evaluates a compile-time condition.
func (c *checker) condition(e lang.Expr, en *env) (bool, bool) {
	v := c.eval(e, en)
	switch v := v.(type) {
	case BoolV:
		return v.V, true
	case InvalidV:
		return false, false
	}
	c.errorAt(e, "condition must be a bool known at compile time, got %s", kindOrType(v))
	return false, false
}

// evalTensorType evaluates a type written in the source. Unbound
// upper-case names are dimension variables: bind, when not nil, receives
// them (forward parameters); otherwise they must already be in scope.
func (c *checker) evalTensorType(t lang.Type, en *env, bind map[string]bool) (TensorType, bool) {
	tt, ok := t.(*lang.TensorType)
	if !ok {
		c.errorAt(t, "expected a tensor type such as f32[B, 64], got %s", c.text(t))
		return TensorType{}, false
	}
	if !dtypes[tt.DType] {
		c.errorAt(tt, "unknown dtype %q (have: f32, f16, bf16, i32, i64, bool)", tt.DType)
		return TensorType{}, false
	}
	out := TensorType{DType: tt.DType}
	good := true
	for _, d := range tt.Dims {
		if id, isID := d.(*lang.Ident); isID && en.sc.lookup(id.Name) == nil && isDimVarName(id.Name) {
			if bind == nil && en.inst == nil {
				// A param or buffer: its shape is fixed when the model is built.
				c.errorAt(id, "dimension %s is not bound: a param's dimensions must come from hyper-parameters", id.Name)
				good = false
				continue
			}
			if bind == nil {
				c.errorAt(id, "dimension %s is not bound: it must appear in a forward parameter's type", id.Name)
				good = false
				continue
			}
			bind[id.Name] = true
			out.Dims = append(out.Dims, VarDim(id.Name))
			continue
		}
		v := c.eval(d, en)
		dim, ok := dimOf(v)
		if !ok {
			if _, bad := v.(InvalidV); !bad {
				c.errorAt(d, "dimension must be an int, got %s %s", v.Kind(), valueString(v))
			}
			good = false
			continue
		}
		if k, isConst := dim.Const(); isConst && k < 0 {
			c.errorAt(d, "dimension %s is negative (%d)", c.text(d), k)
			good = false
		}
		out.Dims = append(out.Dims, dim)
	}
	if good && elementsTooMany(out) {
		c.errorAt(t, "%s has more than 2^50 elements", c.text(t))
		good = false
	}
	return out, good
}

// callName is how a call's callee is written: "head", "encoder.fc1".
func (c *checker) callName(n lang.Node) string {
	switch n := n.(type) {
	case *lang.CallExpr:
		return c.text(n.Fun)
	case *lang.BinaryExpr:
		if call, ok := n.Y.(*lang.CallExpr); ok {
			return c.text(call.Fun)
		}
		return c.text(n.Y)
	}
	return c.text(n)
}

// calleeNode is the node an error about a call points at: the callee.
func calleeNode(n lang.Node) lang.Node {
	if b, ok := n.(*lang.BinaryExpr); ok && b.Op == "|>" {
		return b.Y
	}
	return n
}

// checkModelDecl checks a model of the root file on its own: with its
// default hyper-parameters (when all have defaults) and dimension
// variables for the symbolic dimensions of its forward.
func (c *checker) checkModelDecl(m *modelDecl) *ModelInfo {
	info := &ModelInfo{Name: m.name, Decl: m.decl}
	for _, p := range m.decl.Params {
		if p.Default == nil {
			return info // checked where it is instantiated
		}
	}
	v := c.instantiate(m, nil, nil, &env{sc: m.file.scope, hyper: true})
	iv, ok := v.(*InstanceV)
	if !ok {
		return info
	}
	info.Default = iv.I
	if iv.I.forward == nil {
		return info
	}
	if _, err := c.RunDefault(iv.I); err != nil {
		return info
	}
	return info
}

// RunDefault checks the forward of in on inputs whose symbolic
// dimensions are the variables written in its declaration (B, T...).
func (c *checker) RunDefault(in *Instance) (Value, error) { return c.runOn(in, nil) }

// runOn is RunDefault where forward inputs named like a field of ds (ids,
// mask, image) take that field's per-sample dimensions after the batch:
// a train's summary shows T as the data's 128.
func (c *checker) runOn(in *Instance, ds *Dataset) (Value, error) {
	fw := in.forward
	if fw == nil {
		return InvalidV{}, fmt.Errorf("model %s has no forward", in.Model.name)
	}
	fen := &env{sc: newScope(in.scope), hyper: true}
	var args []*argVal
	sub := map[string]Dim{}
	for _, p := range fw.Params {
		t, ok := c.evalTensorType(p.Type, fen, map[string]bool{})
		if !ok {
			return InvalidV{}, errInvalid
		}
		if ds != nil {
			if f, found := ds.Field(p.Name.Name); found && f.Type.Rank()+1 == t.Rank() {
				for i, d := range t.Dims[1:] {
					if name, isVar := d.Var(); isVar {
						sub[name] = f.Type.Dims[i]
					}
				}
			}
		}
		args = append(args, &argVal{v: c.input(p.Name.Name, t), pos: p.Pos(), end: p.End()})
	}
	for _, a := range args {
		tv := a.v.(*TensorV)
		tv.T = tv.T.Subst(sub)
	}
	out := c.callInstance(in, args, in.Model.decl.Name, &env{sc: in.scope})
	if _, bad := out.(InvalidV); bad {
		return out, errInvalid
	}
	return out, nil
}

var errInvalid = errors.New("invalid")
