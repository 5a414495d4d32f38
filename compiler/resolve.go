package compiler

import (
	"github.com/encc-lang/encc/lang"
)

// This file implements name resolution for models that are never
// instantiated: a model whose hyper-parameters lack defaults is checked
// fully where it is instantiated, but one that nothing instantiates
// would otherwise go unchecked. Here every name it uses must at least
// resolve: to a hyper-parameter, a member, a forward input or local, a
// dimension variable, or a name of the file, its imports, the stdlib or
// the built-ins.

// resolveModel reports the unknown names of a model declaration.
func (c *checker) resolveModel(m *modelDecl) {
	names := map[string]bool{}
	for _, hp := range m.decl.Params {
		names[hp.Name.Name] = true
	}
	var members func([]lang.Member)
	members = func(ms []lang.Member) {
		for _, mem := range ms {
			switch mem := mem.(type) {
			case *lang.SubLayer:
				names[mem.Name.Name] = true
			case *lang.ParamDecl:
				names[mem.Name.Name] = true
			case *lang.IfMember:
				for x := mem; x != nil; x = x.ElseIf {
					members(x.Then)
					members(x.Else)
				}
			}
		}
	}
	members(m.decl.Members)
	known := func(id *lang.Ident, local map[string]bool) bool {
		return names[id.Name] || local[id.Name] || m.file.scope.lookup(id.Name) != nil ||
			id.Name == "true" || id.Name == "false"
	}
	report := func(id *lang.Ident, local map[string]bool) {
		var cands []string
		for n := range names {
			cands = append(cands, n)
		}
		for n := range local {
			cands = append(cands, n)
		}
		cands = append(cands, m.file.scope.allNames()...)
		if s := diagSuggest(id.Name, cands); s != "" {
			c.errorAt(id, "unknown name %q (did you mean %q?)", id.Name, s)
			return
		}
		c.errorAt(id, "unknown name %q", id.Name)
	}
	// expr walks an expression; selectors' member names, named
	// arguments and map keys are not names in scope.
	var expr func(e lang.Expr, local map[string]bool)
	expr = func(e lang.Expr, local map[string]bool) {
		switch e := e.(type) {
		case *lang.Ident:
			if !known(e, local) {
				report(e, local)
			}
		case *lang.SelectorExpr:
			expr(e.X, local)
		case *lang.CallExpr:
			expr(e.Fun, local)
			for _, a := range e.Args {
				expr(a.Value, local)
			}
		case *lang.BinaryExpr:
			expr(e.X, local)
			if e.Op == "|>" {
				if call, ok := e.Y.(*lang.CallExpr); ok {
					expr(call.Fun, local)
					for _, a := range call.Args {
						expr(a.Value, local)
					}
					return
				}
			}
			expr(e.Y, local)
		case *lang.UnaryExpr:
			expr(e.X, local)
		case *lang.ParenExpr:
			expr(e.X, local)
		case *lang.IndexExpr:
			expr(e.X, local)
			for _, ix := range e.Indices {
				expr(ix, local)
			}
		case *lang.SliceExpr:
			if e.Lo != nil {
				expr(e.Lo, local)
			}
			if e.Hi != nil {
				expr(e.Hi, local)
			}
		case *lang.ListExpr:
			for _, x := range e.Elems {
				expr(x, local)
			}
		case *lang.MapExpr:
			for _, ent := range e.Entries {
				expr(ent.Value, local)
			}
		}
	}
	typ := func(t lang.Type, local map[string]bool) {
		tt, ok := t.(*lang.TensorType)
		if !ok {
			return
		}
		for _, d := range tt.Dims {
			if id, isID := d.(*lang.Ident); isID && isDimVarName(id.Name) && !known(id, local) {
				local[id.Name] = true // a dimension variable
				continue
			}
			expr(d, local)
		}
	}
	var stmts func([]lang.Stmt, map[string]bool)
	stmts = func(ss []lang.Stmt, local map[string]bool) {
		for _, s := range ss {
			switch s := s.(type) {
			case *lang.AssignStmt:
				expr(s.Value, local)
				local[s.Name.Name] = true
			case *lang.ReturnStmt:
				expr(s.Value, local)
			case *lang.IfStmt:
				for x := s; x != nil; x = x.ElseIf {
					expr(x.Cond, local)
					stmts(x.Then.Stmts, local)
					if x.Else != nil {
						stmts(x.Else.Stmts, local)
					}
				}
			}
		}
	}
	var body func([]lang.Member)
	body = func(ms []lang.Member) {
		for _, mem := range ms {
			switch mem := mem.(type) {
			case *lang.SubLayer:
				expr(mem.Value, nil)
			case *lang.ParamDecl:
				typ(mem.Type, map[string]bool{})
				if mem.Init != nil {
					expr(mem.Init, nil)
				}
			case *lang.IfMember:
				for x := mem; x != nil; x = x.ElseIf {
					expr(x.Cond, nil)
					body(x.Then)
					body(x.Else)
				}
			case *lang.ForwardDecl:
				local := map[string]bool{}
				for _, p := range mem.Params {
					typ(p.Type, local)
					local[p.Name.Name] = true
				}
				for _, r := range mem.Results {
					typ(r.Type, local)
				}
				stmts(mem.Body.Stmts, local)
			}
		}
	}
	for _, hp := range m.decl.Params {
		if hp.Default != nil {
			expr(hp.Default, nil)
		}
	}
	body(m.decl.Members)
}
