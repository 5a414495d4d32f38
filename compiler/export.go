package compiler

import "github.com/encc-lang/encc/lang"

// This file implements the read-only view of instances that translators
// to other frameworks (export/pytorch) need: where a model is declared
// and what a name in its body stands for.

// File returns the name of the file that declares the instance's model
// (a stdlib file is named stdlib/NAME.enc).
func (in *Instance) File() string { return in.Model.file.name }

// Resolve returns what name stands for in the instance's model body:
// a hyper-parameter's value, a member (*LayerV, *StackV, *InstanceV or
// *TensorV), a const's value, a model (*ModelV), a built-in (*FuncV,
// *ConfigV entry) or none; decl is the declaring node when there is one
// (a *lang.ConstDecl for a const). ok is false for an unknown name.
func (in *Instance) Resolve(name string) (v Value, decl lang.Node, ok bool) {
	b := in.scope.lookup(name)
	if b == nil {
		return nil, nil, false
	}
	if b.lazy != nil {
		return b.lazy.val, b.lazy.decl, true
	}
	return b.v, b.node, true
}

// IsHyper reports whether name is a hyper-parameter of the instance.
func (in *Instance) IsHyper(name string) bool {
	_, ok := in.HP[name]
	return ok
}

// ModelDeclOf returns the declaration of a model value and its file.
func ModelDeclOf(m *ModelV) (*lang.ModelDecl, string) { return m.M.decl, m.M.file.name }
