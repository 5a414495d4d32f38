package pytorch

// This file implements model.py: one nn.Module class per .enc model the
// exported model uses, translated from its declaration (members become
// submodules with the same names, so state_dict keys are encc's
// parameter paths; forward statements become Python statements).

import (
	"fmt"
	"path/filepath"
	"strings"
	"unicode"

	"github.com/encc-lang/encc/compiler"
	"github.com/encc-lang/encc/internal/diag"
	"github.com/encc-lang/encc/lang"
	"github.com/encc-lang/encc/stdlib"
)

// An Error is a construct the exporter cannot translate, at its position.
type Error struct {
	Pos diag.Pos
	Msg string
}

func (e *Error) Error() string { return e.Pos.String() + ": " + e.Msg }

func errAt(n lang.Node, format string, a ...any) *Error {
	return &Error{Pos: n.Pos(), Msg: fmt.Sprintf(format, a...)}
}

// kind is what an expression evaluates to, as far as the translation
// needs to know.
type kind int

const (
	kUnknown kind = iota
	kTensor
	kInt
	kFloat
	kBool
	kStr
	kNone
	kLayer    // a built-in layer member
	kStack    // repeat(...)
	kInstance // a model instance member
	kRecord   // named outputs
	kList
	kModel
	kFunc
)

func kindOf(v compiler.Value) kind {
	switch v.(type) {
	case compiler.IntV, compiler.DimV:
		return kInt
	case compiler.FloatV:
		return kFloat
	case compiler.BoolV:
		return kBool
	case compiler.StrV:
		return kStr
	case compiler.NoneV:
		return kNone
	case *compiler.TensorV:
		return kTensor
	case *compiler.LayerV:
		return kLayer
	case *compiler.StackV:
		return kStack
	case *compiler.InstanceV:
		return kInstance
	case *compiler.RecordV:
		return kRecord
	case *compiler.ListV:
		return kList
	case *compiler.ModelV:
		return kModel
	case *compiler.FuncV:
		return kFunc
	}
	return kUnknown
}

// A class is one generated nn.Module.
type class struct {
	decl *lang.ModelDecl
	file string
	inst *compiler.Instance // an instance, for resolving names
}

// modelGen writes model.py.
type modelGen struct {
	prog     *compiler.Program
	classes  []*class
	byDecl   map[*lang.ModelDecl]*class
	byName   map[string]*class
	consts   []string // module-level constant lines
	constDef map[*lang.ConstDecl]bool
	sources  map[string][]string
	support  bool // a forward calls encc_support (es.recurrent)
}

func newModelGen(prog *compiler.Program) *modelGen {
	return &modelGen{prog: prog, byDecl: map[*lang.ModelDecl]*class{}, byName: map[string]*class{},
		constDef: map[*lang.ConstDecl]bool{}, sources: map[string][]string{}}
}

// visit adds the classes of in and of every model it uses, dependencies
// first.
func (g *modelGen) visit(in *compiler.Instance) error {
	d := in.Decl()
	if _, ok := g.byDecl[d]; ok {
		return nil
	}
	if old, ok := g.byName[in.Name()]; ok {
		return errAt(d.Name, "cannot export: two models are called %s (the other at %s)", in.Name(), old.decl.Name.Pos())
	}
	c := &class{decl: d, file: in.File(), inst: in}
	g.byDecl[d], g.byName[in.Name()] = c, c
	for _, name := range in.Members() {
		v, _ := in.Member(name)
		if err := g.visitValue(v); err != nil {
			return err
		}
	}
	g.classes = append(g.classes, c)
	return nil
}

func (g *modelGen) visitValue(v compiler.Value) error {
	switch v := v.(type) {
	case *compiler.InstanceV:
		return g.visit(v.I)
	case *compiler.StackV:
		for _, l := range v.Layers {
			if err := g.visitValue(l); err != nil {
				return err
			}
		}
	case *compiler.LayerV:
		if f, ok := formOf(v.E); !ok || f.py == nil {
			why := "it has no PyTorch form"
			if ok && f.reason != "" {
				why = f.reason
			}
			return &Error{Pos: v.Pos, Msg: fmt.Sprintf("cannot export %s to PyTorch: %s", v.E.Name, why)}
		}
	}
	return nil
}

// line returns the trimmed source text of line n of file.
func (g *modelGen) line(file string, n int) string {
	ls, ok := g.sources[file]
	if !ok {
		src := g.prog.Source(file)
		if src == nil {
			src, _ = stdlib.Source(filepath.Base(file))
		}
		ls = strings.Split(string(src), "\n")
		g.sources[file] = ls
	}
	if n < 1 || n > len(ls) {
		return ""
	}
	return strings.TrimSpace(ls[n-1])
}

// where is the comment naming a node's .enc line.
func (g *modelGen) where(file string, n lang.Node) string {
	return fmt.Sprintf("# %s:%d: %s", displayName(file), n.Pos().Line, g.line(file, n.Pos().Line))
}

func displayName(file string) string {
	if !strings.Contains(file, "/") || strings.HasPrefix(file, "stdlib/") {
		return file
	}
	return filepath.Base(file)
}

// write returns model.py.
func (g *modelGen) write(header string) (string, error) {
	var body strings.Builder
	for _, c := range g.classes {
		if err := g.writeClass(&body, c); err != nil {
			return "", err
		}
	}
	var b strings.Builder
	b.WriteString(header)
	prelude := modelPrelude
	if g.support {
		prelude = strings.Replace(prelude, "import torch.nn.functional as F\n", "import torch.nn.functional as F\n\nimport encc_support as es\n", 1)
	}
	b.WriteString(prelude)
	if len(g.consts) > 0 {
		b.WriteString("\n")
		for _, l := range g.consts {
			b.WriteString(l + "\n")
		}
	}
	b.WriteString(body.String())
	return b.String(), nil
}

func (g *modelGen) writeClass(b *strings.Builder, c *class) error {
	d := c.decl
	fmt.Fprintf(b, "\n\nclass %s(nn.Module):\n", d.Name.Name)
	fmt.Fprintf(b, "    \"\"\"%s:%d: model %s\"\"\"\n\n", displayName(c.file), d.Pos().Line, g.signature(c))
	// __init__
	hyper := &fnGen{g: g, c: c, ctx: ctxHyper, locals: map[string]kind{}}
	var params []string
	for _, hp := range d.Params {
		name := pyName(hp.Name.Name)
		hyper.locals[hp.Name.Name] = kindOf(c.inst.HP[hp.Name.Name])
		if hp.Default == nil {
			params = append(params, name)
			continue
		}
		def, _, err := hyper.expr(hp.Default)
		if err != nil {
			return err
		}
		params = append(params, name+"="+def)
	}
	fmt.Fprintf(b, "    def __init__(%s):\n", strings.Join(append([]string{"self"}, params...), ", "))
	b.WriteString("        super().__init__()\n")
	for _, hp := range d.Params {
		fmt.Fprintf(b, "        self.%s = %s\n", pyName(hp.Name.Name), pyName(hp.Name.Name))
	}
	var fw *lang.ForwardDecl
	if err := hyper.members(b, d.Members, "        ", &fw); err != nil {
		return err
	}
	if fw == nil {
		return nil
	}
	// forward
	f := &fnGen{g: g, c: c, ctx: ctxForward, locals: map[string]kind{}}
	var ps []string
	for _, p := range fw.Params {
		f.locals[p.Name.Name] = kTensor
		if p.Default != nil {
			ps = append(ps, pyName(p.Name.Name)+"=None")
			continue
		}
		if f.dev == "" {
			f.dev = pyName(p.Name.Name)
		}
		ps = append(ps, pyName(p.Name.Name))
	}
	fmt.Fprintf(b, "\n    def forward(%s):\n", strings.Join(append([]string{"self"}, ps...), ", "))
	f.bindDims(b, fw)
	return f.block(b, fw.Body.Stmts, "        ")
}

// signature prints the model's hyper-parameters as declared.
func (g *modelGen) signature(c *class) string {
	d := c.decl
	src := g.prog.Source(c.file)
	if src == nil {
		src, _ = stdlib.Source(filepath.Base(c.file))
	}
	if src != nil && d.Name.Pos().Offset < len(src) {
		rest := string(src[d.Name.Pos().Offset:])
		if i := strings.Index(rest, "{"); i > 0 {
			return strings.TrimSpace(rest[:i])
		}
	}
	return d.Name.Name
}

// The contexts a fnGen translates in.
const (
	ctxHyper   = iota // __init__ and defaults: hyper-parameters are locals
	ctxForward        // forward: hyper-parameters and members are self.x
	ctxLoss           // train.py's loss: dataset fields and the model
)

// fnGen translates the statements and expressions of one function.
type fnGen struct {
	g      *modelGen
	c      *class // nil in the loss context
	ctx    int
	locals map[string]kind
	dev    string // a tensor whose device new tensors take

	// loss context
	fields map[string]string // dataset field → Python expression
	pre    []string          // lines to emit before the loss expression
	pred   string            // the model call whose output is the prediction
}

func pyName(s string) string {
	switch s {
	case "in", "lambda", "from", "class", "def", "pass", "is", "global", "with", "yield", "import", "as", "del", "try", "except", "finally", "raise", "while", "for", "return", "None", "True", "False", "self":
		return s + "_"
	}
	return s
}

// members writes __init__'s members: sub-layers, param and buffer
// declarations, compile-time ifs.
func (f *fnGen) members(b *strings.Builder, ms []lang.Member, ind string, fw **lang.ForwardDecl) error {
	wrote := false
	for _, m := range ms {
		switch m := m.(type) {
		case *lang.ForwardDecl:
			*fw = m
		case *lang.SubLayer:
			code, _, err := f.expr(m.Value)
			if err != nil {
				return err
			}
			fmt.Fprintf(b, "%s%s\n%sself.%s = %s\n", ind, f.g.where(f.c.file, m), ind, pyName(m.Name.Name), code)
			wrote = true
		case *lang.ParamDecl:
			var ds []string
			for _, d := range m.Type.Dims {
				s, _, err := f.expr(d)
				if err != nil {
					return err
				}
				ds = append(ds, s)
			}
			shape := "(" + strings.Join(ds, ", ")
			if len(ds) == 1 {
				shape += ","
			}
			shape += ")"
			fmt.Fprintf(b, "%s%s\n", ind, f.g.where(f.c.file, m))
			if m.Buffer {
				fmt.Fprintf(b, "%sself.register_buffer(%q, torch.zeros(%s))\n", ind, m.Name.Name, shape)
			} else {
				fmt.Fprintf(b, "%sself.%s = nn.Parameter(torch.zeros(%s))\n", ind, pyName(m.Name.Name), shape)
			}
			wrote = true
		case *lang.IfMember:
			if err := f.ifMember(b, m, ind, "if", fw); err != nil {
				return err
			}
			wrote = true
		}
	}
	if !wrote {
		fmt.Fprintf(b, "%spass\n", ind)
	}
	return nil
}

func (f *fnGen) ifMember(b *strings.Builder, m *lang.IfMember, ind, kw string, fw **lang.ForwardDecl) error {
	cond, _, err := f.expr(m.Cond)
	if err != nil {
		return err
	}
	fmt.Fprintf(b, "%s%s %s:\n", ind, kw, cond)
	if err := f.members(b, m.Then, ind+"    ", fw); err != nil {
		return err
	}
	switch {
	case m.ElseIf != nil:
		return f.ifMember(b, m.ElseIf, ind, "elif", fw)
	case m.HasElse:
		fmt.Fprintf(b, "%selse:\n", ind)
		return f.members(b, m.Else, ind+"    ", fw)
	}
	return nil
}

// bindDims writes the dimension variables the forward body uses, read
// from the shapes of its inputs.
func (f *fnGen) bindDims(b *strings.Builder, fw *lang.ForwardDecl) {
	used := map[string]bool{}
	lang.Inspect(fw.Body, func(n lang.Node) bool {
		if id, ok := n.(*lang.Ident); ok {
			used[id.Name] = true
		}
		return true
	})
	bound := map[string]bool{}
	params := append([]*lang.TensorParam(nil), fw.Params...)
	// Required inputs first: an optional one may be None.
	for pass := 0; pass < 2; pass++ {
		for _, p := range params {
			if (p.Default != nil) != (pass == 1) {
				continue
			}
			tt, ok := p.Type.(*lang.TensorType)
			if !ok {
				continue
			}
			var names, vals []string
			all := true
			for i, d := range tt.Dims {
				id, ok := d.(*lang.Ident)
				if !ok || !isDimVar(id.Name) || f.resolvable(id.Name) {
					all = false
					continue
				}
				if bound[id.Name] || !used[id.Name] {
					all = false
					continue
				}
				bound[id.Name] = true
				f.locals[id.Name] = kInt
				names = append(names, id.Name)
				vals = append(vals, fmt.Sprintf("%s.shape[%d]", pyName(p.Name.Name), i))
			}
			if len(names) == 0 {
				continue
			}
			if all && len(names) > 1 {
				fmt.Fprintf(b, "        %s = %s.shape\n", strings.Join(names, ", "), pyName(p.Name.Name))
			} else {
				fmt.Fprintf(b, "        %s = %s\n", strings.Join(names, ", "), strings.Join(vals, ", "))
			}
		}
	}
}

func isDimVar(s string) bool {
	for _, r := range s {
		return unicode.IsUpper(r)
	}
	return false
}

func (f *fnGen) resolvable(name string) bool {
	if f.c == nil {
		return false
	}
	_, _, ok := f.c.inst.Resolve(name)
	return ok
}

// block writes forward statements.
func (f *fnGen) block(b *strings.Builder, stmts []lang.Stmt, ind string) error {
	if len(stmts) == 0 {
		fmt.Fprintf(b, "%spass\n", ind)
	}
	for _, s := range stmts {
		switch s := s.(type) {
		case *lang.AssignStmt:
			code, k, err := f.expr(s.Value)
			if err != nil {
				return err
			}
			f.locals[s.Name.Name] = k
			fmt.Fprintf(b, "%s%s\n%s%s = %s\n", ind, f.g.where(f.c.file, s), ind, pyName(s.Name.Name), code)
		case *lang.ReturnStmt:
			code, _, err := f.expr(s.Value)
			if err != nil {
				return err
			}
			fmt.Fprintf(b, "%s%s\n%sreturn %s\n", ind, f.g.where(f.c.file, s), ind, code)
		case *lang.IfStmt:
			if err := f.ifStmt(b, s, ind, "if"); err != nil {
				return err
			}
		}
	}
	return nil
}

func (f *fnGen) ifStmt(b *strings.Builder, s *lang.IfStmt, ind, kw string) error {
	cond, _, err := f.expr(s.Cond)
	if err != nil {
		return err
	}
	fmt.Fprintf(b, "%s%s %s:\n", ind, kw, cond)
	if err := f.block(b, s.Then.Stmts, ind+"    "); err != nil {
		return err
	}
	switch {
	case s.ElseIf != nil:
		return f.ifStmt(b, s.ElseIf, ind, "elif")
	case s.Else != nil:
		fmt.Fprintf(b, "%selse:\n", ind)
		return f.block(b, s.Else.Stmts, ind+"    ")
	}
	return nil
}

// modelPrelude is the top of model.py after the header: imports and the
// helpers the translated forwards call.
const modelPrelude = `import math

import torch
from torch import nn
import torch.nn.functional as F


class Stack(nn.ModuleList):
    """repeat(n, Layer(...)): layers named 0..n-1, applied in order; the
    first input flows through them, the others (a padding mask) go to
    every layer."""

    def forward(self, x, *rest):
        for layer in self:
            x = layer(x, *rest)
        return x


def attention(q, k, v, mask=None, scale=None, dropout=0.0, training=False):
    """softmax(q @ k^T * scale) @ v; keys where mask (bool [B, Tk], true at
    real tokens) is false get the score -1e9, as in encc."""
    if scale is None:
        scale = 1.0 / math.sqrt(q.shape[-1])
    scores = (q @ k.transpose(-2, -1)) * scale
    if mask is not None:
        m = mask.reshape(mask.shape[0], *([1] * (scores.dim() - 3)), 1, mask.shape[1])
        scores = torch.where(m, scores, torch.full_like(scores, -1e9))
    p = torch.softmax(scores, dim=-1)
    if dropout > 0:
        p = F.dropout(p, dropout, training)
    return p @ v


def sinusoidal(n, d, device=None):
    """The fixed sine/cosine position encoding of Vaswani et al. (2017), [n, d]."""
    pos = torch.arange(n, dtype=torch.float64, device=device)[:, None]
    i = torch.arange(0, d, 2, dtype=torch.float64, device=device)
    angle = pos / torch.pow(10000.0, i / d)
    out = torch.zeros(n, d, dtype=torch.float64, device=device)
    out[:, 0::2] = torch.sin(angle)
    out[:, 1::2] = torch.cos(angle[:, : d // 2])
    return out.float()
`
