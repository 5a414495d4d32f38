// This file implements Dot, the Graphviz drawing of a graph.

package ir

import (
	"fmt"
	"strings"
)

// roleColors fills input nodes by role.
var roleColors = map[Role]string{
	RoleData:   "lightblue",
	RoleParam:  "palegreen",
	RoleState:  "khaki",
	RoleScalar: "lightgray",
	RoleConst:  "plum",
}

// Dot returns g in Graphviz's dot language: one node per value (inputs
// filled by role, in-place updates dashed), an edge per operand, outputs
// and updates as sinks. A fused value is a cluster holding one box per
// instruction of its body; a matmul_bias box names its epilogue. With a
// plan, every node also shows its arena offset, alias or in-place target.
func Dot(g *Graph, plan *Plan) []byte {
	var b strings.Builder
	name := g.Name
	if name == "" {
		name = "graph"
	}
	fmt.Fprintf(&b, "digraph %s {\n", dotQuote(name))
	b.WriteString("  rankdir=TB;\n  node [shape=box, style=\"rounded,filled\", fillcolor=white, fontname=\"Helvetica\", fontsize=10];\n  edge [fontsize=8];\n")
	if plan != nil {
		fmt.Fprintf(&b, "  label=%s;\n", dotQuote(fmt.Sprintf("%s: arena %d bytes (%d without reuse)", name, plan.Size, plan.Sum)))
	}
	node := func(v *Value) string { return fmt.Sprintf("v%d", v.ID) }
	for _, v := range g.Values {
		label := v.Op.String()
		if v.Op == OpInput {
			label = v.Name
		} else if s := FormatAux(v.Aux); s != "" && v.Op != OpFused {
			label += " {" + s + "}"
		}
		label = fmt.Sprintf("%s\n%s %v", label, v.Ref(), v.Type)
		if plan != nil {
			if off, ok := plan.Offset[v]; ok {
				label += fmt.Sprintf("\n@%d +%d", off, v.Type.Bytes())
			} else if a, ok := plan.Alias[v]; ok {
				label += "\nalias " + a.Ref()
			} else if in, ok := plan.InPlace[v]; ok {
				label += "\nin place " + in.Ref()
			}
		}
		attrs := ""
		switch {
		case v.Op == OpInput:
			attrs = fmt.Sprintf(", shape=ellipse, fillcolor=%s", roleColors[v.Role()])
		case v.Op.IsInPlace():
			attrs = ", style=\"rounded,dashed\""
		case v.Op.IsFused():
			attrs = ", fillcolor=lightsalmon"
		}
		if v.Op == OpFused {
			dotFused(&b, v, label)
			continue
		}
		fmt.Fprintf(&b, "  %s [label=%s%s];\n", node(v), dotQuote(label), attrs)
	}
	for _, v := range g.Values {
		for i, a := range v.Args {
			head := node(v)
			if v.Op == OpFused {
				head = fmt.Sprintf("v%d_r%d", v.ID, i)
			}
			fmt.Fprintf(&b, "  %s -> %s;\n", node(a), head)
		}
	}
	for i, o := range g.Outputs {
		if o.Updates != nil {
			fmt.Fprintf(&b, "  out%d [label=%s, shape=note, fillcolor=%s];\n", i, dotQuote("update "+o.Updates.Ref()), roleColors[o.Updates.Role()])
		} else {
			fmt.Fprintf(&b, "  out%d [label=%s, shape=note];\n", i, dotQuote("output "+o.Name))
		}
		fmt.Fprintf(&b, "  %s -> out%d;\n", node(o.Value), i)
	}
	b.WriteString("}\n")
	return []byte(b.String())
}

// dotFused draws a fused value as a cluster: a point per operand
// register, a box per instruction, and its result node v<ID> (the last
// instruction).
func dotFused(b *strings.Builder, v *Value, label string) {
	attr := v.Aux.(FusedAttr)
	fmt.Fprintf(b, "  subgraph cluster_v%d {\n    label=%s;\n    style=\"rounded,filled\";\n    fillcolor=mistyrose;\n", v.ID, dotQuote(label))
	reg := func(r int) string {
		if r == attr.Operands+len(attr.Body)-1 {
			return fmt.Sprintf("v%d", v.ID)
		}
		return fmt.Sprintf("v%d_r%d", v.ID, r)
	}
	for i := range attr.Operands {
		fmt.Fprintf(b, "    %s [label=%s, shape=plaintext, style=\"\"];\n", reg(i), dotQuote(fmt.Sprintf("$%d", i)))
	}
	for j, in := range attr.Body {
		r := attr.Operands + j
		l := fmt.Sprintf("$%d = %s", r, in.Op)
		if in.Op == OpFill {
			l = fmt.Sprintf("$%d = %s", r, formatFloat(in.Aux.(FillAttr).Value))
		} else if s := FormatAux(in.Aux); s != "" {
			l += " {" + s + "}"
		}
		fmt.Fprintf(b, "    %s [label=%s, fillcolor=lightsalmon];\n", reg(r), dotQuote(l+" : "+in.DType.String()))
		for _, a := range in.Args {
			fmt.Fprintf(b, "    %s -> %s;\n", reg(a), reg(r))
		}
	}
	b.WriteString("  }\n")
}

// dotQuote quotes s as a dot string; \n stays a line break.
func dotQuote(s string) string {
	s = strings.ReplaceAll(s, `\`, `\\`)
	s = strings.ReplaceAll(s, `"`, `\"`)
	s = strings.ReplaceAll(s, "\n", `\n`)
	return `"` + s + `"`
}
