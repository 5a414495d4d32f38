package lang

// This file implements walking the syntax tree: Inspect, which visits
// every node, and PathTo, which finds the nodes around a byte offset.

// Inspect traverses the tree under n in source order, as go/ast.Inspect
// does: it calls f(n); if f returns true, Inspect visits each child of n
// and then calls f(nil). A File's comments are visited after its
// declarations.
func Inspect(n Node, f func(Node) bool) {
	if n == nil || isNilNode(n) || !f(n) {
		return
	}
	for _, c := range children(n) {
		Inspect(c, f)
	}
	f(nil)
}

// PathTo returns the chain of nodes of f that enclose the byte offset
// off, outermost (f itself) first and innermost last; nil when off is
// outside f. A node encloses off when Pos().Offset <= off < End().Offset.
func PathTo(f *File, off int) []Node {
	if f == nil || off < f.Pos().Offset || off >= f.End().Offset {
		return nil
	}
	path := []Node{f}
	var n Node = f
	for {
		next := Node(nil)
		for _, c := range children(n) {
			if c.Pos().Offset <= off && off < c.End().Offset {
				next = c
				break
			}
		}
		if next == nil {
			return path
		}
		path = append(path, next)
		n = next
	}
}

// isNilNode reports whether n is a typed nil pointer.
func isNilNode(n Node) bool {
	switch n := n.(type) {
	case *Ident:
		return n == nil
	case *Block:
		return n == nil
	case *IfMember:
		return n == nil
	case *IfStmt:
		return n == nil
	case *TensorType:
		return n == nil
	}
	return false
}

// children returns the direct children of n in source order, leaving out
// nil ones.
func children(n Node) []Node {
	var out []Node
	add := func(cs ...Node) {
		for _, c := range cs {
			if c != nil && !isNilNode(c) {
				out = append(out, c)
			}
		}
	}
	addExpr := func(e Expr) {
		if e != nil {
			add(e)
		}
	}
	switch n := n.(type) {
	case *File:
		for _, im := range n.Imports {
			add(im)
		}
		for _, d := range n.Decls {
			add(d)
		}
		for _, c := range n.Comments {
			add(c)
		}
	case *ConstDecl:
		add(n.Name)
		addExpr(n.Value)
	case *ModelDecl:
		add(n.Name)
		for _, p := range n.Params {
			add(p)
		}
		for _, m := range n.Members {
			add(m)
		}
	case *HyperParam:
		add(n.Name)
		if n.Type != nil {
			add(n.Type)
		}
		addExpr(n.Default)
	case *DatasetDecl:
		add(n.Name)
		for _, f := range n.Fields {
			add(f)
		}
	case *TrainDecl:
		add(n.Name)
		for _, it := range n.Items {
			add(it)
		}
	case *Field:
		add(n.Name)
		addExpr(n.Value)
	case *Phase:
		add(n.Name)
		for _, a := range n.Args {
			add(a)
		}
		for _, s := range n.Stmts {
			add(s)
		}
	case *Freeze:
		for _, p := range n.Paths {
			add(p)
		}
	case *LRScale:
		add(n.Path)
		addExpr(n.Value)
	case *SubLayer:
		add(n.Name)
		addExpr(n.Value)
	case *ParamDecl:
		add(n.Name, n.Type)
		addExpr(n.Init)
	case *ForwardDecl:
		for _, p := range n.Params {
			add(p)
		}
		for _, r := range n.Results {
			add(r)
		}
		add(n.Body)
	case *TensorParam:
		add(n.Name)
		if n.Type != nil {
			add(n.Type)
		}
		if n.Default != nil {
			add(n.Default)
		}
	case *Result:
		add(n.Name)
		if n.Type != nil {
			add(n.Type)
		}
	case *IfMember:
		addExpr(n.Cond)
		for _, m := range n.Then {
			add(m)
		}
		add(n.ElseIf)
		for _, m := range n.Else {
			add(m)
		}
	case *Block:
		for _, s := range n.Stmts {
			add(s)
		}
	case *AssignStmt:
		add(n.Name)
		addExpr(n.Value)
	case *ReturnStmt:
		addExpr(n.Value)
	case *IfStmt:
		addExpr(n.Cond)
		add(n.Then, n.ElseIf, n.Else)
	case *TensorType:
		for _, d := range n.Dims {
			addExpr(d)
		}
	case *BinaryExpr:
		addExpr(n.X)
		addExpr(n.Y)
	case *UnaryExpr:
		addExpr(n.X)
	case *ParenExpr:
		addExpr(n.X)
	case *CallExpr:
		addExpr(n.Fun)
		for _, a := range n.Args {
			add(a)
		}
	case *Arg:
		add(n.Name)
		addExpr(n.Value)
	case *SelectorExpr:
		addExpr(n.X)
		add(n.Sel)
	case *IndexExpr:
		addExpr(n.X)
		for _, ix := range n.Indices {
			addExpr(ix)
		}
	case *SliceExpr:
		addExpr(n.Lo)
		addExpr(n.Hi)
	case *ListExpr:
		for _, e := range n.Elems {
			addExpr(e)
		}
	case *MapExpr:
		for _, e := range n.Entries {
			add(e)
		}
	case *MapEntry:
		addExpr(n.Value)
	}
	return out
}
