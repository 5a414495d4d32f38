package compiler

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
)

// This file implements symbolic dimensions. A Dim is a polynomial with
// integer coefficients over dimension variables (B, T, ...): 64, B,
// B*T, 2*T + 1. Normalized polynomials compare structurally, so
// `reshape(B, T * 4)` and `f32[B, 4 * T]` agree without a solver.

// A Dim is a normalized polynomial over dimension variables. The zero
// value is the constant 0. Dims are immutable.
type Dim struct {
	terms []term // sorted by monomial, no zero coefficients
	// ovf records that a coefficient overflowed int64 in the arithmetic
	// that made d (or in its operands): d's value is then meaningless,
	// and the checker reports it where the expression is.
	ovf bool
}

// Overflows reports whether computing d overflowed int64.
func (d Dim) Overflows() bool { return d.ovf }

// addInt returns a + b and whether it overflowed.
func addInt(a, b int64) (int64, bool) {
	s := a + b
	return s, (a >= 0) == (b >= 0) && (s >= 0) != (a >= 0)
}

// mulInt returns a * b and whether it overflowed.
func mulInt(a, b int64) (int64, bool) {
	if a == 0 || b == 0 {
		return 0, false
	}
	p := a * b
	return p, p/b != a || (a == -1 && b == math.MinInt64) || (b == -1 && a == math.MinInt64)
}

// PowInt returns x**y for y >= 0, by squaring, and whether it overflowed.
func PowInt(x, y int64) (int64, bool) {
	r, ovf := int64(1), false
	for y > 0 {
		var o bool
		if y&1 == 1 {
			r, o = mulInt(r, x)
			ovf = ovf || o
		}
		y >>= 1
		if y > 0 {
			x, o = mulInt(x, x)
			ovf = ovf || o
		}
		if ovf {
			return 0, true
		}
	}
	return r, false
}

// A term is coef * product of vars (sorted, with repetition for powers).
type term struct {
	coef int64
	vars string // variable names joined by "*", sorted; "" for constants
}

// ConstDim returns the constant dimension n.
func ConstDim(n int64) Dim {
	if n == 0 {
		return Dim{}
	}
	return Dim{terms: []term{{coef: n}}}
}

// VarDim returns the dimension variable named name.
func VarDim(name string) Dim {
	return Dim{terms: []term{{coef: 1, vars: name}}}
}

// Const returns the value of a constant dimension and true, or 0 and
// false when d has variables.
func (d Dim) Const() (int64, bool) {
	switch len(d.terms) {
	case 0:
		return 0, true
	case 1:
		if d.terms[0].vars == "" {
			return d.terms[0].coef, true
		}
	}
	return 0, false
}

// IsConst reports whether d has no variables.
func (d Dim) IsConst() bool { _, ok := d.Const(); return ok }

// Var returns the variable name when d is exactly one variable.
func (d Dim) Var() (string, bool) {
	if len(d.terms) == 1 && d.terms[0].coef == 1 && d.terms[0].vars != "" && !strings.Contains(d.terms[0].vars, "*") {
		return d.terms[0].vars, true
	}
	return "", false
}

// Equal reports whether d and e are the same polynomial.
func (d Dim) Equal(e Dim) bool {
	if len(d.terms) != len(e.terms) {
		return false
	}
	for i := range d.terms {
		if d.terms[i] != e.terms[i] {
			return false
		}
	}
	return true
}

func normalize(ts []term, ovf bool) Dim {
	sort.Slice(ts, func(i, j int) bool { return monoLess(ts[i].vars, ts[j].vars) })
	out := ts[:0]
	for _, t := range ts {
		if n := len(out); n > 0 && out[n-1].vars == t.vars {
			var o bool
			out[n-1].coef, o = addInt(out[n-1].coef, t.coef)
			ovf = ovf || o
			continue
		}
		out = append(out, t)
	}
	res := out[:0]
	for _, t := range out {
		if t.coef != 0 {
			res = append(res, t)
		}
	}
	return Dim{terms: append([]term(nil), res...), ovf: ovf}
}

// monoLess orders monomials: higher degree first, then by name; the
// constant term last (as people write 2*T + 1).
func monoLess(a, b string) bool {
	da, db := degree(a), degree(b)
	if da != db {
		return da > db
	}
	return a < b
}

func degree(m string) int {
	if m == "" {
		return 0
	}
	return strings.Count(m, "*") + 1
}

// Add returns d + e.
func (d Dim) Add(e Dim) Dim {
	return normalize(append(append([]term(nil), d.terms...), e.terms...), d.ovf || e.ovf)
}

// Sub returns d - e.
func (d Dim) Sub(e Dim) Dim { return d.Add(e.Scale(-1)) }

// Scale returns k * d.
func (d Dim) Scale(k int64) Dim {
	ts := make([]term, len(d.terms))
	ovf := d.ovf
	for i, t := range d.terms {
		c, o := mulInt(t.coef, k)
		ovf = ovf || o
		ts[i] = term{coef: c, vars: t.vars}
	}
	return normalize(ts, ovf)
}

// Mul returns d * e.
func (d Dim) Mul(e Dim) Dim {
	var ts []term
	ovf := d.ovf || e.ovf
	for _, a := range d.terms {
		for _, b := range e.terms {
			c, o := mulInt(a.coef, b.coef)
			ovf = ovf || o
			ts = append(ts, term{coef: c, vars: mulMono(a.vars, b.vars)})
		}
	}
	return normalize(ts, ovf)
}

func mulMono(a, b string) string {
	if a == "" {
		return b
	}
	if b == "" {
		return a
	}
	vs := append(strings.Split(a, "*"), strings.Split(b, "*")...)
	sort.Strings(vs)
	return strings.Join(vs, "*")
}

// Div returns d / e when the division is exact, and false otherwise.
// Exact means: e is a nonzero constant dividing every coefficient, or a
// single monomial dividing every term.
func (d Dim) Div(e Dim) (Dim, bool) {
	if len(e.terms) != 1 {
		if d.Equal(e) && len(e.terms) > 0 {
			return ConstDim(1), true
		}
		return Dim{}, false
	}
	den := e.terms[0]
	ts := make([]term, 0, len(d.terms))
	for _, t := range d.terms {
		if den.coef == -1 && t.coef == math.MinInt64 || t.coef%den.coef != 0 {
			return Dim{}, false
		}
		v, ok := divMono(t.vars, den.vars)
		if !ok {
			return Dim{}, false
		}
		ts = append(ts, term{coef: t.coef / den.coef, vars: v})
	}
	return normalize(ts, d.ovf || e.ovf), true
}

func divMono(a, b string) (string, bool) {
	if b == "" {
		return a, true
	}
	if a == "" {
		return "", false
	}
	av := strings.Split(a, "*")
	for _, v := range strings.Split(b, "*") {
		i := -1
		for j, x := range av {
			if x == v {
				i = j
				break
			}
		}
		if i < 0 {
			return "", false
		}
		av = append(av[:i], av[i+1:]...)
	}
	return strings.Join(av, "*"), true
}

// Vars returns the variables of d, sorted, without repetition.
func (d Dim) Vars() []string {
	seen := map[string]bool{}
	var out []string
	for _, t := range d.terms {
		if t.vars == "" {
			continue
		}
		for _, v := range strings.Split(t.vars, "*") {
			if !seen[v] {
				seen[v] = true
				out = append(out, v)
			}
		}
	}
	sort.Strings(out)
	return out
}

// Subst replaces variables by dimensions; variables absent from m stay.
func (d Dim) Subst(m map[string]Dim) Dim {
	if len(m) == 0 {
		return d
	}
	res := Dim{ovf: d.ovf}
	for _, t := range d.terms {
		p := ConstDim(t.coef)
		if t.vars != "" {
			for _, v := range strings.Split(t.vars, "*") {
				if r, ok := m[v]; ok {
					p = p.Mul(r)
				} else {
					p = p.Mul(VarDim(v))
				}
			}
		}
		res = res.Add(p)
	}
	return res
}

// String prints d as it would be written in the language: 64, B,
// 2 * T + 1, B * T.
func (d Dim) String() string {
	if len(d.terms) == 0 {
		return "0"
	}
	var sb strings.Builder
	for i, t := range d.terms {
		c := t.coef
		if i > 0 {
			if c < 0 {
				sb.WriteString(" - ")
				c = -c
			} else {
				sb.WriteString(" + ")
			}
		} else if c < 0 && t.vars != "" {
			sb.WriteString("-")
			c = -c
		}
		switch {
		case t.vars == "":
			sb.WriteString(strconv.FormatInt(c, 10))
		case c == 1:
			sb.WriteString(strings.ReplaceAll(t.vars, "*", " * "))
		default:
			fmt.Fprintf(&sb, "%d * %s", c, strings.ReplaceAll(t.vars, "*", " * "))
		}
	}
	return sb.String()
}
