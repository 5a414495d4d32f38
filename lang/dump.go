package lang

import (
	"fmt"
	"strconv"
	"strings"
)

// Dump renders the syntax tree under n as a compact s-expression: one
// line per declaration, member, field and statement, expressions inline
// with operators first (`(|> (|> x fc1) relu)`). Positions and comments
// are left out; it is meant for golden tests and debugging.
func Dump(n Node) string {
	var d dumper
	d.node(n)
	d.sb.WriteByte('\n')
	return d.sb.String()
}

type dumper struct {
	sb     strings.Builder
	indent int
}

func (d *dumper) line(format string, args ...any) {
	d.sb.WriteByte('\n')
	d.sb.WriteString(strings.Repeat("  ", d.indent))
	fmt.Fprintf(&d.sb, format, args...)
}

func (d *dumper) open(format string, args ...any) {
	d.line("("+format, args...)
	d.indent++
}

func (d *dumper) close() {
	d.indent--
	d.sb.WriteByte(')')
}

func (d *dumper) node(n Node) {
	switch n := n.(type) {
	case *File:
		d.sb.WriteString("(file")
		d.indent++
		for _, im := range n.Imports {
			d.node(im)
		}
		for _, x := range n.Decls {
			d.node(x)
		}
		d.close()
	case *Import:
		d.line("(import %s)", strconv.Quote(n.Path))
	case *ConstDecl:
		d.line("(const %s %s)", n.Name.Name, ExprString(n.Value))
	case *ModelDecl:
		d.open("model %s", n.Name.Name)
		if n.HasParens {
			var ps []string
			for _, h := range n.Params {
				ps = append(ps, dumpHyperParam(h))
			}
			d.sb.WriteString(" (" + strings.Join(ps, " ") + ")")
		}
		for _, m := range n.Members {
			d.node(m)
		}
		d.close()
	case *DatasetDecl:
		d.open("dataset %s", n.Name.Name)
		for _, f := range n.Fields {
			d.node(f)
		}
		d.close()
	case *TrainDecl:
		d.open("train %s", n.Name.Name)
		for _, it := range n.Items {
			d.node(it)
		}
		d.close()
	case *Field:
		d.line("(= %s %s)", n.Name.Name, ExprString(n.Value))
	case *Phase:
		d.open("phase %s", n.Name.Name)
		if n.Args != nil {
			d.sb.WriteString(" " + dumpArgs(n.Args))
		}
		for _, s := range n.Stmts {
			d.node(s)
		}
		d.close()
	case *Freeze:
		kw := "freeze"
		if n.Unfreeze {
			kw = "unfreeze"
		}
		var ps []string
		for _, p := range n.Paths {
			ps = append(ps, dumpPath(p))
		}
		d.line("(%s %s)", kw, strings.Join(ps, " "))
	case *LRScale:
		d.line("(lr_scale %s %s)", dumpPath(n.Path), ExprString(n.Value))
	case *SubLayer:
		d.line("(layer %s %s)", n.Name.Name, ExprString(n.Value))
	case *ParamDecl:
		kw := "param"
		if n.Buffer {
			kw = "buffer"
		}
		init := ""
		if n.Init != nil {
			init = " " + ExprString(n.Init)
		}
		d.line("(%s %s %s%s)", kw, n.Name.Name, dumpType(n.Type), init)
	case *ForwardDecl:
		var ps, rs []string
		for _, p := range n.Params {
			ps = append(ps, "("+p.Name.Name+" "+dumpType(p.Type)+")")
		}
		for _, r := range n.Results {
			if r.Name != nil {
				rs = append(rs, "("+r.Name.Name+" "+dumpType(r.Type)+")")
			} else {
				rs = append(rs, dumpType(r.Type))
			}
		}
		res := strings.Join(rs, " ")
		if n.Named {
			res = "(" + res + ")"
		}
		d.open("forward (%s) -> %s", strings.Join(ps, " "), res)
		for _, s := range n.Body.Stmts {
			d.node(s)
		}
		d.close()
	case *IfMember:
		d.open("if %s", ExprString(n.Cond))
		for _, m := range n.Then {
			d.node(m)
		}
		switch {
		case n.ElseIf != nil:
			d.line("else")
			d.node(n.ElseIf)
		case n.HasElse:
			d.open("else")
			for _, m := range n.Else {
				d.node(m)
			}
			d.close()
		}
		d.close()
	case *Block:
		d.open("block")
		for _, s := range n.Stmts {
			d.node(s)
		}
		d.close()
	case *AssignStmt:
		d.line("(= %s %s)", n.Name.Name, ExprString(n.Value))
	case *ReturnStmt:
		d.line("(return %s)", ExprString(n.Value))
	case *IfStmt:
		d.open("if %s", ExprString(n.Cond))
		d.node(n.Then)
		switch {
		case n.ElseIf != nil:
			d.line("else")
			d.node(n.ElseIf)
		case n.Else != nil:
			d.line("else")
			d.node(n.Else)
		}
		d.close()
	case Type:
		d.line("%s", dumpType(n))
	case Expr:
		d.line("%s", ExprString(n))
	default:
		d.line("(?%T)", n)
	}
}

func dumpHyperParam(h *HyperParam) string {
	s := "(" + h.Name.Name
	if h.Type != nil {
		s += " " + dumpType(h.Type)
	}
	if h.Default != nil {
		s += " = " + ExprString(h.Default)
	}
	return s + ")"
}

func dumpPath(p *Path) string {
	if p.Quoted {
		return strconv.Quote(p.Text)
	}
	return p.Text
}

func dumpType(t Type) string {
	switch t := t.(type) {
	case *ScalarType:
		return t.Name
	case *TensorType:
		var ds []string
		for _, e := range t.Dims {
			ds = append(ds, ExprString(e))
		}
		return t.DType + "[" + strings.Join(ds, " ") + "]"
	}
	return fmt.Sprintf("(?%T)", t)
}

func dumpArgs(args []*Arg) string {
	var as []string
	for _, a := range args {
		if a.Name != nil {
			as = append(as, a.Name.Name+":"+ExprString(a.Value))
		} else {
			as = append(as, ExprString(a.Value))
		}
	}
	return "(" + strings.Join(as, " ") + ")"
}

// ExprString renders an expression as an s-expression, the form Dump
// uses: `(+ a (* b c))`, `(call f x k:1)`, `(. x shape)`, `(index h : 0)`.
func ExprString(e Expr) string {
	switch e := e.(type) {
	case nil:
		return "nil"
	case *Ident:
		return e.Name
	case *BasicLit:
		if e.Kind == StringLit {
			return strconv.Quote(e.Value)
		}
		return e.Value
	case *BinaryExpr:
		return "(" + e.Op + " " + ExprString(e.X) + " " + ExprString(e.Y) + ")"
	case *UnaryExpr:
		return "(" + e.Op + " " + ExprString(e.X) + ")"
	case *ParenExpr:
		return "(paren " + ExprString(e.X) + ")"
	case *CallExpr:
		a := dumpArgs(e.Args)
		if len(e.Args) == 0 {
			return "(call " + ExprString(e.Fun) + ")"
		}
		return "(call " + ExprString(e.Fun) + " " + a[1:]
	case *SelectorExpr:
		return "(. " + ExprString(e.X) + " " + e.Sel.Name + ")"
	case *IndexExpr:
		s := "(index " + ExprString(e.X)
		for _, ix := range e.Indices {
			s += " " + ExprString(ix)
		}
		return s + ")"
	case *SliceExpr:
		lo, hi := "", ""
		if e.Lo != nil {
			lo = ExprString(e.Lo)
		}
		if e.Hi != nil {
			hi = ExprString(e.Hi)
		}
		if lo == "" && hi == "" {
			return ":"
		}
		return "(: " + orDash(lo) + " " + orDash(hi) + ")"
	case *ListExpr:
		s := "(list"
		for _, x := range e.Elems {
			s += " " + ExprString(x)
		}
		return s + ")"
	case *MapExpr:
		s := "(map"
		for _, en := range e.Entries {
			k := en.Key
			if en.Quoted {
				k = strconv.Quote(k)
			}
			s += " " + k + ":" + ExprString(en.Value)
		}
		return s + ")"
	}
	return fmt.Sprintf("(?%T)", e)
}

func orDash(s string) string {
	if s == "" {
		return "_"
	}
	return s
}
