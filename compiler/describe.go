package compiler

import (
	"fmt"
	"strings"
)

// This file describes values for people: the LSP's hover and completion
// read it.

// Describe renders a value as hover text: a tensor's type, a layer's
// call with its parameter count, a built-in's signature.
func Describe(v Value) string {
	switch v := v.(type) {
	case *TensorV:
		return v.T.String()
	case *InstanceV:
		return fmt.Sprintf("%s — %s parameters", v.I.String(), Thousands(countParams(v.I.Params())))
	case *LayerV:
		var n int64
		for _, p := range v.E.layerParams(v.Args) {
			k := int64(1)
			for _, d := range p.Type.Dims {
				c, _ := d.Const()
				k *= c
			}
			n += k
		}
		return fmt.Sprintf("%s(%s) — %s parameters", v.E.Name, argsString(v.E, v.Args), Thousands(n))
	case *StackV:
		var n int64
		for _, l := range v.Layers {
			if in, ok := l.(*InstanceV); ok {
				n += countParams(in.I.Params())
			}
		}
		return fmt.Sprintf("repeat(%d, …) — %s parameters", len(v.Layers), Thousands(n))
	case *FuncV:
		return v.E.Signature()
	case *ModelV:
		return "model " + v.M.name
	case *RecordV:
		var parts []string
		for _, n := range v.Names {
			parts = append(parts, n+": "+Describe(v.Vals[n]))
		}
		return "(" + strings.Join(parts, ", ") + ")"
	case *DatasetV:
		if v.D.ds != nil {
			var parts []string
			for _, f := range v.D.ds.Fields {
				parts = append(parts, f.Name+": "+f.Type.String())
			}
			return "dataset " + v.D.name + " { " + strings.Join(parts, ", ") + " }"
		}
		return "dataset " + v.D.name
	case *TrainV:
		return "train " + v.T.name
	case nil:
		return ""
	}
	return valueString(v)
}

// Doc returns the documentation of a built-in value, or "".
func Doc(v Value) string {
	switch v := v.(type) {
	case *FuncV:
		return v.E.Doc
	case *LayerV:
		return v.E.Doc
	case *ConfigV:
		return v.E.Doc
	}
	return ""
}

// Members lists the member names of an instance, the outputs of a
// record, or a tensor's members, for completion after a dot.
func Members(v Value) []string {
	switch v := v.(type) {
	case *InstanceV:
		return v.I.Members()
	case *RecordV:
		return v.Names
	case *TensorV:
		return []string{"shape", "T"}
	case *StackV:
		var out []string
		for i := range v.Layers {
			out = append(out, fmt.Sprint(i))
		}
		return out
	}
	return nil
}

// ModelParams lists the hyper-parameters of a model declaration visible
// from the root file, for completion of named arguments.
func (p *Program) ModelParams(name string) []string {
	m := p.model(name)
	if m == nil {
		return nil
	}
	var out []string
	for _, hp := range m.decl.Params {
		out = append(out, hp.Name.Name)
	}
	return out
}

// TrainFields lists the fields a train accepts; DatasetFields those of a
// dataset.
func TrainFields() []string   { return append([]string(nil), trainFields...) }
func DatasetFields() []string { return append([]string(nil), datasetFields...) }

func countParams(ps []*Param) int64 {
	var n int64
	for _, p := range ps {
		n += p.Elements()
	}
	return n
}

// Thousands formats n with commas: 17,226.
func Thousands(n int64) string {
	s := fmt.Sprint(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}
