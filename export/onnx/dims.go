package onnx

// This file implements the dynamic dimensions of an export. The IR has
// concrete shapes, so the forward is lowered once per corner of a small
// grid: every dimension variable of the forward's inputs (B, T) takes
// two consecutive values, a base b and b+1. A dimension of any value is
// then fitted, exactly, by the multilinear polynomial through its sizes
// at the 2^n corners (B, 4, B*T + 1, 2*T …); a constant polynomial is a
// static dimension. Encc's dimensions are integer polynomials, and those
// of real models are multilinear (a variable squared would be misread).

import (
	"fmt"
	"strconv"
	"strings"
)

// A poly is a multilinear integer polynomial over the export's
// variables: coefficient c[m] multiplies the product of the variables
// whose bits are set in m (c[0] is the constant term).
type poly []int64

// fit returns the multilinear polynomial taking value f[k] at corner k,
// where variable i is base[i] when bit i of k is clear and base[i]+1
// when it is set.
func fit(f []int64, base []int64) poly {
	c := append(poly(nil), f...)
	for i, b := range base {
		bit := 1 << i
		for k := range c {
			if k&bit != 0 {
				continue
			}
			slope := c[k|bit] - c[k]
			c[k] = c[k] - b*slope
			c[k|bit] = slope
		}
	}
	return c
}

// constPoly returns the constant polynomial n over nvars variables.
func constPoly(n int64, nvars int) poly {
	p := make(poly, 1<<nvars)
	p[0] = n
	return p
}

// isConst reports whether p is a constant and returns it.
func (p poly) isConst() (int64, bool) {
	for _, c := range p[1:] {
		if c != 0 {
			return 0, false
		}
	}
	return p[0], true
}

func (p poly) equal(q poly) bool {
	for i := range p {
		if p[i] != q[i] {
			return false
		}
	}
	return true
}

func (p poly) sub(q poly) poly {
	r := make(poly, len(p))
	for i := range p {
		r[i] = p[i] - q[i]
	}
	return r
}

// format prints p with the variable names: "B", "B*T", "2*T + 1".
func (p poly) format(vars []string) string {
	var terms []string
	for m := len(p) - 1; m >= 1; m-- {
		c := p[m]
		if c == 0 {
			continue
		}
		var names []string
		for i, v := range vars {
			if m&(1<<i) != 0 {
				names = append(names, v)
			}
		}
		t := strings.Join(names, "*")
		if c != 1 {
			t = strconv.FormatInt(c, 10) + "*" + t
		}
		terms = append(terms, t)
	}
	if p[0] != 0 || len(terms) == 0 {
		terms = append(terms, strconv.FormatInt(p[0], 10))
	}
	return strings.Join(terms, " + ")
}

// cornerDims returns the variable values of corner k.
func cornerDims(vars []string, base []int64, k int) map[string]int {
	m := map[string]int{}
	for i, v := range vars {
		m[v] = int(base[i]) + (k>>i)&1
	}
	return m
}

// baseSize is the base value of the i-th variable: 2 for the first (the
// batch, usually), then 4, 6, …, so no two variables share a value.
func baseSize(i int) int64 { return int64(2 + 2*i) }

// maxVars bounds the grid: 2^maxVars lowerings.
const maxVars = 4

func tooManyVars(vars []string) error {
	return fmt.Errorf("the forward has %d dimension variables (%s); export handles at most %d", len(vars), strings.Join(vars, ", "), maxVars)
}
