package ir

import (
	"errors"
	"fmt"
	"reflect"
)

// Verify checks every invariant of g and returns the first few violations
// joined, or nil:
//
//   - every value is non-nil, has a valid op and a unique ID;
//   - the inputs lead Values, in the order of Inputs, and only they are
//     OpInput values; each has a valid, unique name and a role; other
//     values have no name;
//   - every operand is a value defined earlier in Values (topological
//     order), the operand count fits the op, Aux has the op's attribute
//     type, and the op's type rule, run again, gives the value's type;
//   - every output value is in the graph; named outputs have valid,
//     unique names; an update names an input of role param or state,
//     updated at most once, with a value of the same type.
//
// Passes run it after every change in tests.
func Verify(g *Graph) error {
	var errs []error
	report := func(format string, args ...any) {
		if len(errs) < 10 {
			errs = append(errs, fmt.Errorf(format, args...))
		}
	}
	defined := make(map[*Value]bool, len(g.Values))
	ids := make(map[int]*Value, len(g.Values))
	names := make(map[string]bool)
	for i, v := range g.Values {
		if v == nil {
			report("value %d is nil", i)
			continue
		}
		if v.Op <= OpInvalid || v.Op >= numOps {
			report("%s: invalid op %d", v.Ref(), v.Op)
			continue
		}
		if w := ids[v.ID]; w != nil {
			report("%s and %s share ID %d", w.Ref(), v.Ref(), v.ID)
		}
		ids[v.ID] = v
		isInput := i < len(g.Inputs) && g.Inputs[i] == v
		switch {
		case v.Op == OpInput && !isInput:
			report("input %s is not listed in order at the head of the values", v.Ref())
		case v.Op != OpInput && i < len(g.Inputs):
			report("%s at position %d, where input %s belongs", v.Ref(), i, g.Inputs[i].Ref())
		case v.Op == OpInput:
			if !ValidName(v.Name) {
				report("input %d has bad name %q", v.ID, v.Name)
			}
			if names[v.Name] {
				report("input %s declared twice", v.Ref())
			}
			names[v.Name] = true
			if v.Role() == RoleNone || int(v.Role()) >= len(roleNames) {
				report("input %s has no role", v.Ref())
			}
		case v.Name != "":
			report("%s is not an input but has name %q", v.Ref(), v.Name)
		}
		if err := verifyValue(v, defined); err != nil {
			report("%v", err)
		}
		defined[v] = true
	}
	for i, v := range g.Inputs {
		if i >= len(g.Values) || g.Values[i] != v {
			report("input %d (%s) is not at position %d of the values", i, v.Ref(), i)
		}
	}
	outNames := make(map[string]bool)
	updated := make(map[*Value]bool)
	for _, o := range g.Outputs {
		switch {
		case o.Value == nil || !defined[o.Value]:
			report("output %q: value is not in the graph", o.Name)
		case o.Updates == nil:
			if !ValidName(o.Name) {
				report("output has bad name %q", o.Name)
			}
			if outNames[o.Name] {
				report("output %s declared twice", o.Name)
			}
			outNames[o.Name] = true
		default:
			p := o.Updates
			switch {
			case o.Name != "":
				report("update of %s has name %q", p.Ref(), o.Name)
			case !defined[p] || p.Op != OpInput:
				report("update of %s: not an input of the graph", p.Ref())
			case p.Role() != RoleParam && p.Role() != RoleState:
				report("update of %s: input has role %v, not param or state", p.Ref(), p.Role())
			case !p.Type.Equal(o.Value.Type):
				report("update of %s %v with %s", p.Ref(), p.Type, o.Value)
			case updated[p]:
				report("%s updated twice", p.Ref())
			}
			updated[p] = true
		}
	}
	return errors.Join(errs...)
}

// verifyValue checks v's operands, attributes and type.
func verifyValue(v *Value, defined map[*Value]bool) error {
	for i, a := range v.Args {
		if a == nil || !defined[a] {
			return fmt.Errorf("%s = %s: operand %d is not defined before it", v.Ref(), v.Op, i)
		}
	}
	if err := checkArity(v.Op, len(v.Args)); err != nil {
		return fmt.Errorf("%s: %v", v.Ref(), err)
	}
	if err := checkAux(v.Op, v.Aux); err != nil {
		return fmt.Errorf("%s: %v", v.Ref(), err)
	}
	for _, d := range v.Type.Shape {
		if d < 0 {
			return fmt.Errorf("%s: negative dimension in %v", v.Ref(), v.Type)
		}
	}
	w := *v
	if !v.Op.IsTypeCarrying() && v.Op != OpInput {
		w.Type = Type{}
	}
	t, err := opInfo[v.Op].typ(&w)
	if err != nil {
		return fmt.Errorf("%s: %v", v.Ref(), err)
	}
	if !t.Equal(v.Type) {
		return fmt.Errorf("%s = %s: has type %v, but its operands give %v", v.Ref(), v.Op, v.Type, t)
	}
	return nil
}

// AuxEqual reports whether two attribute values are equal (CSE compares
// Op, Type, Aux and Args).
func AuxEqual(a, b any) bool { return reflect.DeepEqual(a, b) || FormatAux(a) == FormatAux(b) }
