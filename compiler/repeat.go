package compiler

import (
	"reflect"
	"slices"
	"sync/atomic"
)

// This file implements the copies of repeat(n, Layer(...)) after the
// second. Evaluating the layer expression n times makes n fresh copies,
// and evaluation is deterministic: the same expression in the same
// scope, with no new diagnostic, gives the same tree each time. So the
// checker evaluates it twice and clones the second result for the rest
// (BERT-base's 12 encoder layers are 2 evaluations and 10 clones).
//
// What a clone keeps and what it copies comes from comparing the first
// two copies: an object they both hold at the same place existed before
// the repeat (a constant, a layer passed in from outside, a model
// declaration) or is one that evaluation caches; every copy holds it, so
// clones keep it too. Every other object was made by the evaluation, so
// each clone gets its own copy, with the sharing inside the tree kept
// (an instance's member and the scope binding of its name stay one
// object). Where the two copies differ in structure, or a value is of a
// kind the cloner does not know, the checker evaluates every copy as
// before.

// cloneRepeats is on unless a test turns it off to compare the clones
// with evaluated copies.
var cloneRepeats = true

// repeatClones counts the clones made, for the test.
var repeatClones atomic.Int64

// repeatCloner clones the second copy of a repeat.
type repeatCloner struct {
	shared  map[any]bool // objects the first two copies share
	visited map[any]bool // objects of the second copy already compared
	memo    map[any]any  // object of the second copy → its clone, per clone
}

func newRepeatCloner() *repeatCloner {
	return &repeatCloner{shared: map[any]bool{}, visited: map[any]bool{}}
}

// twin compares a and b, the values of the first two copies at the same
// place, recording the objects they share. It reports whether they have
// the same structure and every value in them is one clone can copy.
func (r *repeatCloner) twin(a, b Value) bool {
	switch b.(type) {
	case nil:
		return a == nil
	case IntV, FloatV, BoolV, StrV, DimV, NoneV, InvalidV:
		return sameType(a, b)
	case *ListV, *MapV, *RecordV, *TensorV, *FuncV, *ConfigV, *LayerV, *StackV, *InstanceV, *ModelV, *DatasetV, *TrainV:
	default:
		return false // a kind clone does not know: every copy is evaluated
	}
	if a == b {
		r.shared[b] = true
		return true
	}
	if !sameType(a, b) {
		return false
	}
	if r.visited[b] {
		return true
	}
	r.visited[b] = true
	switch b := b.(type) {
	case *ListV:
		a := a.(*ListV)
		return len(a.Elems) == len(b.Elems) && r.twinSlice(a.Elems, b.Elems)
	case *MapV:
		a := a.(*MapV)
		return slices.Equal(a.Keys, b.Keys) && r.twinMap(a.Vals, b.Vals)
	case *RecordV:
		a := a.(*RecordV)
		return slices.Equal(a.Names, b.Names) && r.twinMap(a.Vals, b.Vals)
	case *TensorV:
		// Instantiation makes tensors without IR values; Num is a number.
		a := a.(*TensorV)
		return a.Node == nil && b.Node == nil && r.twin(a.Num, b.Num)
	case *FuncV:
		a := a.(*FuncV)
		if a.E != b.E || len(a.Args) != len(b.Args) {
			return false
		}
		for i := range b.Args {
			if a.Args[i].name != b.Args[i].name || !r.twin(a.Args[i].v, b.Args[i].v) {
				return false
			}
		}
		return true
	case *ConfigV:
		a := a.(*ConfigV)
		return a.E == b.E && r.twinMap(a.Args, b.Args)
	case *LayerV:
		a := a.(*LayerV)
		return a.E == b.E && r.twinMap(a.Args, b.Args)
	case *StackV:
		a := a.(*StackV)
		return len(a.Layers) == len(b.Layers) && r.twinSlice(a.Layers, b.Layers)
	case *InstanceV:
		return r.twinInstance(a.(*InstanceV).I, b.I)
	case *ModelV:
		return a.(*ModelV).M == b.M
	case *DatasetV:
		return a.(*DatasetV).D == b.D
	case *TrainV:
		return a.(*TrainV).T == b.T
	}
	return false
}

func sameType(a, b Value) bool { return reflect.TypeOf(a) == reflect.TypeOf(b) }

func (r *repeatCloner) twinSlice(a, b []Value) bool {
	for i := range b {
		if !r.twin(a[i], b[i]) {
			return false
		}
	}
	return true
}

func (r *repeatCloner) twinMap(a, b map[string]Value) bool {
	if len(a) != len(b) {
		return false
	}
	for k, bv := range b {
		av, ok := a[k]
		if !ok || !r.twin(av, bv) {
			return false
		}
	}
	return true
}

func (r *repeatCloner) twinInstance(a, b *Instance) bool {
	if a == b {
		r.shared[b] = true
		return true
	}
	if r.visited[b] {
		return true
	}
	r.visited[b] = true
	if a.Model != b.Model || a.forward != b.forward || a.evalOnly != b.evalOnly ||
		a.Site != b.Site || a.siteDesc != b.siteDesc ||
		!slices.Equal(a.HPNames, b.HPNames) || !slices.Equal(a.memberOrder, b.memberOrder) ||
		len(a.params) != len(b.params) || len(a.memberPos) != len(b.memberPos) ||
		a.scope.parent != b.scope.parent || a.scope.incomplete != b.scope.incomplete ||
		len(a.scope.names) != len(b.scope.names) ||
		!r.twinMap(a.HP, b.HP) || !r.twinMap(a.members, b.members) {
		return false
	}
	for k, bp := range b.params {
		ap, ok := a.params[k]
		if !ok || ap == bp || !r.twin(ap.Init, bp.Init) {
			return false
		}
	}
	for k, bb := range b.scope.names {
		ab, ok := a.scope.names[k]
		if !ok || ab == bb || ab.lazy != nil || bb.lazy != nil || !r.twin(ab.v, bb.v) {
			return false
		}
	}
	return true
}

// clone returns a copy of v, the second copy's value, for one more copy
// of the repeat: objects the first two copies share are kept, the rest
// copied.
func (r *repeatCloner) clone(v Value) Value {
	repeatClones.Add(1)
	r.memo = map[any]any{}
	return r.value(v)
}

func (r *repeatCloner) value(v Value) Value {
	switch v.(type) {
	case nil, IntV, FloatV, BoolV, StrV, DimV, NoneV, InvalidV:
		return v
	}
	if r.shared[v] {
		return v
	}
	if c, ok := r.memo[v]; ok {
		return c.(Value)
	}
	switch v := v.(type) {
	case *ListV:
		n := &ListV{}
		r.memo[v] = n
		n.Elems = r.slice(v.Elems)
		return n
	case *MapV:
		n := &MapV{Keys: v.Keys, Pos: v.Pos}
		r.memo[v] = n
		n.Vals = r.valueMap(v.Vals)
		return n
	case *RecordV:
		n := &RecordV{Names: v.Names}
		r.memo[v] = n
		n.Vals = r.valueMap(v.Vals)
		return n
	case *TensorV:
		n := &TensorV{T: cloneType(v.T), Num: v.Num}
		r.memo[v] = n
		return n
	case *FuncV:
		n := &FuncV{E: v.E}
		r.memo[v] = n
		if v.Args != nil {
			n.Args = make([]*argVal, len(v.Args))
			for i, a := range v.Args {
				c := *a
				c.v = r.value(a.v)
				n.Args[i] = &c
			}
		}
		return n
	case *ConfigV:
		n := &ConfigV{E: v.E, Pos: v.Pos, Arg: v.Arg}
		r.memo[v] = n
		n.Args = r.valueMap(v.Args)
		return n
	case *LayerV:
		n := &LayerV{E: v.E, Path: v.Path, Pos: v.Pos}
		r.memo[v] = n
		n.Args = r.valueMap(v.Args)
		return n
	case *StackV:
		n := &StackV{Path: v.Path}
		r.memo[v] = n
		n.Layers = r.slice(v.Layers)
		return n
	case *InstanceV:
		n := &InstanceV{}
		r.memo[v] = n
		n.I = r.instance(v.I)
		return n
	case *ModelV:
		n := *v
		return &n
	case *DatasetV:
		n := *v
		return &n
	case *TrainV:
		n := *v
		return &n
	}
	panic("compiler: repeat cannot clone a " + v.Kind()) // twin accepted it
}

func (r *repeatCloner) slice(vs []Value) []Value {
	if vs == nil {
		return nil
	}
	out := make([]Value, len(vs))
	for i, v := range vs {
		out[i] = r.value(v)
	}
	return out
}

// valueMap copies m where a value in it is copied. The maps of values
// (arguments, hyper-parameters) are not changed once made, so a map
// whose values are all kept is kept itself.
func (r *repeatCloner) valueMap(m map[string]Value) map[string]Value {
	if !r.anyCopied(m) {
		return m
	}
	out := make(map[string]Value, len(m))
	for k, v := range m {
		out[k] = r.value(v)
	}
	return out
}

// anyCopied reports whether clone copies a value of m.
func (r *repeatCloner) anyCopied(m map[string]Value) bool {
	for _, v := range m {
		switch v.(type) {
		case nil, IntV, FloatV, BoolV, StrV, DimV, NoneV, InvalidV:
			continue
		}
		if !r.shared[v] {
			return true
		}
	}
	return false
}

func cloneType(t TensorType) TensorType {
	return TensorType{DType: t.DType, Dims: slices.Clone(t.Dims)}
}

func (r *repeatCloner) instance(in *Instance) *Instance {
	if r.shared[in] {
		return in
	}
	if c, ok := r.memo[in]; ok {
		return c.(*Instance)
	}
	// Names, orders and positions are not changed once the instance is
	// made: the clone shares them.
	n := &Instance{Model: in.Model, HPNames: in.HPNames, Path: in.Path,
		Site: in.Site, siteDesc: in.siteDesc, memberOrder: in.memberOrder,
		memberPos: in.memberPos, forward: in.forward, evalOnly: in.evalOnly}
	r.memo[in] = n
	in.Model.instances++
	n.HP = r.valueMap(in.HP)
	n.members = r.valueMap(in.members)
	n.params = make(map[string]*Param, len(in.params))
	ps := make([]Param, 0, len(in.params)) // one allocation for all
	for k, p := range in.params {
		ps = append(ps, *p)
		c := &ps[len(ps)-1]
		c.Type = cloneType(p.Type)
		c.Init = r.value(p.Init)
		n.params[k] = c
	}
	n.scope = &scope{parent: in.scope.parent, names: make(map[string]*binding, len(in.scope.names)), incomplete: in.scope.incomplete}
	bs := make([]binding, 0, len(in.scope.names))
	for k, b := range in.scope.names {
		bs = append(bs, *b)
		c := &bs[len(bs)-1]
		c.v = r.value(b.v)
		n.scope.names[k] = c
	}
	return n
}
