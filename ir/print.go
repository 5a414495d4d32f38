// This file implements the text form of graphs: printing.
//
//	graph mlp.train {
//	  input %x : f32[64,784] data
//	  input %fc1.weight : f32[256,784] param
//	  %3 = matmul(%x, %fc1.weight) {transpose_b} : f32[64,256]
//	  …
//	  output loss = %9
//	  update %fc1.weight = %42
//	}
//
// Inputs come first with their types and roles, then every other value
// with its op, operands, attributes and type, then the outputs. Parse
// reads the same form back.

package ir

import (
	"fmt"
	"io"
	"math"
	"reflect"
	"strconv"
	"strings"
)

// String returns the text form of g.
func (g *Graph) String() string {
	var b strings.Builder
	Fprint(&b, g)
	return b.String()
}

// Fprint writes the text form of g to w.
func Fprint(w io.Writer, g *Graph) error {
	var b strings.Builder
	b.WriteString("graph")
	if g.Name != "" {
		b.WriteString(" " + g.Name)
	}
	b.WriteString(" {\n")
	for _, v := range g.Values {
		b.WriteString("  " + v.LongString() + "\n")
	}
	for _, o := range g.Outputs {
		if o.Updates != nil {
			fmt.Fprintf(&b, "  update %s = %s\n", o.Updates.Ref(), o.Value.Ref())
		} else {
			fmt.Fprintf(&b, "  output %s = %s\n", o.Name, o.Value.Ref())
		}
	}
	b.WriteString("}\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// LongString is the value's line in the text form:
// %3 = matmul(%x, %fc1.weight) {transpose_b} : f32[64,256].
func (v *Value) LongString() string {
	if v.Op == OpInput {
		return fmt.Sprintf("input %s : %v %v", v.Ref(), v.Type, v.Role())
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s = %s(", v.Ref(), v.Op)
	for i, a := range v.Args {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(a.Ref())
	}
	b.WriteString(")")
	if s := FormatAux(v.Aux); s != "" {
		b.WriteString(" {" + s + "}")
	}
	b.WriteString(" : " + v.Type.String())
	return b.String()
}

// FormatAux formats an attribute struct as in the text form, without the
// braces: "axes=[1], keepdims". Zero fields are left out; true bools are
// written as their bare name.
func FormatAux(aux any) string {
	if aux == nil {
		return ""
	}
	if f, ok := aux.(FusedAttr); ok {
		return f.String()
	}
	rv := reflect.ValueOf(aux)
	if rv.Kind() != reflect.Struct {
		return fmt.Sprint(aux)
	}
	var parts []string
	for i := range rv.NumField() {
		f, fv := rv.Type().Field(i), rv.Field(i)
		name := f.Tag.Get("ir")
		if name == "" || fv.IsZero() || (fv.Kind() == reflect.Slice && fv.Len() == 0) {
			continue
		}
		if fv.Kind() == reflect.Bool {
			parts = append(parts, name)
			continue
		}
		parts = append(parts, name+"="+formatAttr(fv))
	}
	return strings.Join(parts, ", ")
}

func formatAttr(v reflect.Value) string {
	if a, ok := v.Interface().(Activation); ok {
		if s := FormatAux(a.Aux); s != "" {
			return a.Op.String() + " {" + s + "}"
		}
		return a.Op.String()
	}
	switch v.Kind() {
	case reflect.Int:
		return strconv.Itoa(int(v.Int()))
	case reflect.Float64:
		return formatFloat(v.Float())
	case reflect.Bool:
		return strconv.FormatBool(v.Bool())
	case reflect.Slice, reflect.Array:
		var b strings.Builder
		b.WriteByte('[')
		for i := range v.Len() {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(formatAttr(v.Index(i)))
		}
		b.WriteByte(']')
		return b.String()
	case reflect.Uint8: // Role
		return fmt.Sprint(v.Interface())
	}
	panic(fmt.Sprintf("ir: cannot format attribute of kind %v", v.Kind()))
}

// formatFloat writes f so that strconv.ParseFloat gives f back.
func formatFloat(f float64) string {
	switch {
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	case math.IsNaN(f):
		return "nan"
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}
