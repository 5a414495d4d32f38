// This file implements the text form of graphs: parsing.

package ir

import (
	"reflect"
	"strconv"
	"strings"

	"github.com/encc-lang/encc/internal/diag"
)

// Parse reads a graph in the text form written by Fprint. Lines that
// start with # or // are comments. Each value is built with the Builder,
// so its type is checked against its operands, and the graph is verified.
// Errors are *diag.Diagnostic at file:line:col. Value IDs are kept from
// the text; values get the positions of their lines.
func Parse(file string, src []byte) (*Graph, error) {
	p := &parser{file: file, g: NewGraph(), byID: map[int]*Value{}}
	p.b = NewBuilder(p.g)
	lines := strings.Split(string(src), "\n")
	// Inputs are numbered after every ID in the text.
	for _, l := range lines {
		l = strings.TrimSpace(l)
		if rest, ok := strings.CutPrefix(l, "%"); ok {
			if n, err := strconv.Atoi(strings.TrimSpace(strings.SplitN(rest, "=", 2)[0])); err == nil && n >= p.g.nextID {
				p.g.nextID = n + 1
			}
		}
	}
	state := 0 // 0: before "graph {", 1: in the body, 2: after "}"
	for i, l := range lines {
		p.line, p.ln, p.pos = l, i+1, 0
		p.skip()
		if p.eol() || strings.HasPrefix(p.rest(), "#") || strings.HasPrefix(p.rest(), "//") {
			continue
		}
		var err error
		switch state {
		case 0:
			err = p.header()
			state = 1
		case 1:
			if p.accept('}') {
				state = 2
				err = p.end()
				break
			}
			err = p.statement()
		default:
			err = p.errorf("text after the end of the graph")
		}
		if err != nil {
			return nil, err
		}
	}
	if state != 2 {
		p.ln, p.pos, p.line = len(lines), 0, ""
		return nil, p.errorf("missing graph or closing }")
	}
	if err := Verify(p.g); err != nil {
		return nil, diag.Errorf(diag.Pos{File: file}, "%v", err)
	}
	return p.g, nil
}

type parser struct {
	file string
	g    *Graph
	b    *Builder
	byID map[int]*Value
	line string // current line
	ln   int    // its 1-based number
	pos  int    // byte offset in line
}

func (p *parser) here() diag.Pos { return diag.Pos{File: p.file, Line: p.ln, Col: p.pos + 1} }

func (p *parser) errorf(format string, args ...any) error {
	return diag.Errorf(p.here(), format, args...)
}

func (p *parser) rest() string { return p.line[p.pos:] }
func (p *parser) eol() bool    { return p.pos >= len(p.line) }

func (p *parser) skip() {
	for !p.eol() && (p.line[p.pos] == ' ' || p.line[p.pos] == '\t' || p.line[p.pos] == '\r') {
		p.pos++
	}
}

// accept consumes c (after spaces) if it is next.
func (p *parser) accept(c byte) bool {
	p.skip()
	if !p.eol() && p.line[p.pos] == c {
		p.pos++
		return true
	}
	return false
}

func (p *parser) expect(c byte) error {
	if !p.accept(c) {
		return p.errorf("expected %q", c)
	}
	return nil
}

// word reads a run of characters other than spaces and punctuation.
func (p *parser) word() string {
	p.skip()
	start := p.pos
	for !p.eol() && !strings.ContainsRune(" \t\r,()[]{}=", rune(p.line[p.pos])) {
		p.pos++
	}
	return p.line[start:p.pos]
}

// end checks that nothing follows on the line.
func (p *parser) end() error {
	p.skip()
	if !p.eol() {
		return p.errorf("unexpected %q", p.rest())
	}
	return nil
}

func (p *parser) header() error {
	if p.word() != "graph" {
		return p.errorf("expected graph")
	}
	p.skip()
	if !p.eol() && p.line[p.pos] != '{' {
		p.g.Name = p.word()
	}
	if err := p.expect('{'); err != nil {
		return err
	}
	return p.end()
}

func (p *parser) statement() error {
	p.b.Pos = p.here()
	start := p.pos
	switch w := p.word(); {
	case w == "input":
		return p.input()
	case w == "output":
		name := p.word()
		if !ValidName(name) {
			return p.errorf("bad output name %q", name)
		}
		if err := p.expect('='); err != nil {
			return err
		}
		v, err := p.ref()
		if err != nil {
			return err
		}
		p.g.AddOutput(name, v)
		return p.end()
	case w == "update":
		in, err := p.ref()
		if err != nil {
			return err
		}
		if err := p.expect('='); err != nil {
			return err
		}
		v, err := p.ref()
		if err != nil {
			return err
		}
		p.g.AddUpdate(in, v)
		return p.end()
	case strings.HasPrefix(w, "%"):
		return p.value(w)
	default:
		p.pos = start
		return p.errorf("expected input, output, update or a value")
	}
}

func (p *parser) input() error {
	name, ok := strings.CutPrefix(p.word(), "%")
	if !ok {
		return p.errorf("expected %%name")
	}
	if err := p.expect(':'); err != nil {
		return err
	}
	t, err := p.typ()
	if err != nil {
		return err
	}
	r := p.word()
	role, ok := ParseRole(r)
	if !ok {
		return p.errorf("unknown role %q", r)
	}
	if len(p.g.Values) > len(p.g.Inputs) {
		return p.errorf("input %s after the first value", name)
	}
	if _, err := p.b.Input(name, role, t); err != nil {
		return err
	}
	return p.end()
}

func (p *parser) typ() (Type, error) {
	p.skip()
	start := p.pos
	d := p.word()
	if err := p.expect('['); err != nil {
		return Type{}, err
	}
	for !p.eol() && p.line[p.pos] != ']' {
		p.pos++
	}
	if err := p.expect(']'); err != nil {
		return Type{}, err
	}
	t, err := ParseType(strings.ReplaceAll(d+p.line[start+len(d):p.pos], " ", ""))
	if err != nil {
		p.pos = start
		return Type{}, p.errorf("%v", err)
	}
	return t, nil
}

// ref reads %name or %ID and returns the value it names.
func (p *parser) ref() (*Value, error) {
	p.skip()
	start := p.pos
	w := p.word()
	r, ok := strings.CutPrefix(w, "%")
	if !ok {
		p.pos = start
		return nil, p.errorf("expected a value, found %q", w)
	}
	if n, err := strconv.Atoi(r); err == nil {
		if v := p.byID[n]; v != nil {
			return v, nil
		}
	} else if v := p.g.Input(r); v != nil {
		return v, nil
	}
	p.pos = start
	return nil, p.errorf("undefined value %s", w)
}

func (p *parser) value(ref string) error {
	id, err := strconv.Atoi(ref[1:])
	if err != nil || id < 0 {
		return diag.Errorf(p.b.Pos, "bad value name %s", ref)
	}
	if p.byID[id] != nil {
		return diag.Errorf(p.b.Pos, "value %s defined twice", ref)
	}
	if err := p.expect('='); err != nil {
		return err
	}
	p.skip()
	start := p.pos
	name := p.word()
	op, ok := LookupOp(name)
	if !ok || op == OpInput {
		p.pos = start
		return p.errorf("unknown op %q", name)
	}
	if err := p.expect('('); err != nil {
		return err
	}
	var args []*Value
	for !p.accept(')') {
		if len(args) > 0 {
			if err := p.expect(','); err != nil {
				return err
			}
		}
		a, err := p.ref()
		if err != nil {
			return err
		}
		args = append(args, a)
	}
	var aux any
	if op == OpFused {
		aux, err = p.fusedBody(len(args))
	} else {
		aux, err = p.aux(op)
	}
	if err != nil {
		return err
	}
	if err := p.expect(':'); err != nil {
		return err
	}
	t, err := p.typ()
	if err != nil {
		return err
	}
	if err := p.end(); err != nil {
		return err
	}
	v, err := p.b.Op(op, t, aux, args...)
	if err != nil {
		return err
	}
	if !v.Type.Equal(t) {
		return diag.Errorf(p.b.Pos, "%s: type %v given, but the operands give %v", ref, t, v.Type)
	}
	v.ID = id
	p.byID[id] = v
	return nil
}

// aux reads the optional {attributes} of op.
func (p *parser) aux(op Op) (any, error) {
	at := op.AuxType()
	p.skip()
	if p.eol() || p.line[p.pos] != '{' {
		if at == nil {
			return nil, nil
		}
		return reflect.Zero(at).Interface(), nil
	}
	if at == nil {
		return nil, p.errorf("%s takes no attributes", op)
	}
	p.pos++
	sv := reflect.New(at).Elem()
	seen := map[string]bool{}
	for !p.accept('}') {
		if len(seen) > 0 {
			if err := p.expect(','); err != nil {
				return nil, err
			}
		}
		start := p.pos
		name := p.word()
		f := fieldByTag(sv, name)
		if !f.IsValid() || seen[name] {
			p.pos = start
			return nil, p.errorf("%s has no attribute %q, or it is repeated", op, name)
		}
		seen[name] = true
		if f.Kind() == reflect.Bool {
			f.SetBool(true)
			continue
		}
		if err := p.expect('='); err != nil {
			return nil, err
		}
		if err := p.attr(f); err != nil {
			return nil, err
		}
	}
	return sv.Interface(), nil
}

func fieldByTag(sv reflect.Value, tag string) reflect.Value {
	for i := range sv.NumField() {
		if sv.Type().Field(i).Tag.Get("ir") == tag {
			return sv.Field(i)
		}
	}
	return reflect.Value{}
}

// attr reads one attribute value into f.
func (p *parser) attr(f reflect.Value) error {
	if f.Type() == reflect.TypeFor[Activation]() {
		start := p.pos
		op, ok := LookupOp(p.word())
		if !ok || !op.IsEpilogue() {
			p.pos = start
			return p.errorf("expected an epilogue activation (%s)", epilogueNames())
		}
		aux, err := p.aux(op)
		if err != nil {
			return err
		}
		f.Set(reflect.ValueOf(Activation{Op: op, Aux: aux}))
		return nil
	}
	switch f.Kind() {
	case reflect.Slice, reflect.Array:
		if err := p.expect('['); err != nil {
			return err
		}
		var elems []reflect.Value
		for !p.accept(']') {
			if len(elems) > 0 {
				if err := p.expect(','); err != nil {
					return err
				}
			}
			e := reflect.New(f.Type().Elem()).Elem()
			if err := p.attr(e); err != nil {
				return err
			}
			elems = append(elems, e)
		}
		if f.Kind() == reflect.Array {
			if len(elems) != f.Len() {
				return p.errorf("want %d elements, found %d", f.Len(), len(elems))
			}
			for i, e := range elems {
				f.Index(i).Set(e)
			}
			return nil
		}
		s := reflect.MakeSlice(f.Type(), len(elems), len(elems))
		for i, e := range elems {
			s.Index(i).Set(e)
		}
		f.Set(s)
		return nil
	case reflect.Int:
		start := p.pos
		n, err := strconv.Atoi(p.word())
		if err != nil {
			p.pos = start
			return p.errorf("expected an integer")
		}
		f.SetInt(int64(n))
		return nil
	case reflect.Float64:
		start := p.pos
		x, err := strconv.ParseFloat(p.word(), 64)
		if err != nil {
			p.pos = start
			return p.errorf("expected a number")
		}
		f.SetFloat(x)
		return nil
	}
	return p.errorf("cannot parse attribute of kind %v", f.Kind())
}

// epilogueNames lists the ops flagged IsEpilogue.
func epilogueNames() string {
	var names []string
	for _, op := range Ops() {
		if op.IsEpilogue() {
			names = append(names, op.String())
		}
	}
	return strings.Join(names, ", ")
}
