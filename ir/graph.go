// This file implements Value, Graph, inputs and outputs.

package ir

import (
	"fmt"

	"github.com/encc-lang/encc/internal/diag"
)

// A Value is the single node type of the IR: the result of one op applied
// to earlier values. Values are compared by identity.
type Value struct {
	ID   int      // unique within its graph; printed as %ID
	Op   Op       // what computes the value; semantics in the op table
	Type Type     // dtype and concrete shape of the result
	Args []*Value // operands, all earlier in the graph
	Aux  any      // the op's attributes: a value of the op's attribute struct, or nil
	Name string   // inputs only: the dotted name (encoder.fc1.weight)
	Pos  diag.Pos // source position that produced the value, if any
}

// Role returns the role of an input value, or RoleNone for other values.
func (v *Value) Role() Role {
	if a, ok := v.Aux.(InputAttr); ok && v.Op == OpInput {
		return a.Role
	}
	return RoleNone
}

// Ref is how the value is referred to in the text form: %name for
// inputs, %ID otherwise.
func (v *Value) Ref() string {
	if v.Op == OpInput {
		return "%" + v.Name
	}
	return fmt.Sprintf("%%%d", v.ID)
}

// String is the value's reference and type: %3:f32[64,256].
func (v *Value) String() string { return v.Ref() + ":" + v.Type.String() }

// A Role says what a graph input holds and who provides it.
type Role uint8

// The input roles.
const (
	RoleNone   Role = iota
	RoleData        // a batch of training or inference data
	RoleParam       // a trainable (or frozen) parameter
	RoleState       // optimizer state (moments, momentum buffers)
	RoleScalar      // a scalar fed per step: step number, learning rate, seed, lr scale
	RoleConst       // a constant tensor fed once: saved buffers, tables
)

var roleNames = [...]string{
	RoleNone:   "none",
	RoleData:   "data",
	RoleParam:  "param",
	RoleState:  "state",
	RoleScalar: "scalar",
	RoleConst:  "const",
}

func (r Role) String() string {
	if int(r) < len(roleNames) {
		return roleNames[r]
	}
	return fmt.Sprintf("role(%d)", r)
}

// ParseRole returns the role named s.
func ParseRole(s string) (Role, bool) {
	for r, n := range roleNames {
		if n == s && r != int(RoleNone) {
			return Role(r), true
		}
	}
	return RoleNone, false
}

// An Output is a result of the graph. A named output ("loss",
// "grad:encoder.fc1.weight") is returned to the caller; an update
// (Updates != nil, Name empty) overwrites the input Updates with Value
// after the step, as optimizer updates do.
type Output struct {
	Name    string // output name; empty for updates
	Value   *Value // the value returned or written
	Updates *Value // for updates: the input (param or state) overwritten
}

// A Graph is a typed SSA dataflow graph: one training step or one forward
// pass.
type Graph struct {
	Name    string   // optional, for dumps: "digits_mlp.train"
	Values  []*Value // every value in topological order, the inputs first
	Inputs  []*Value // the OpInput values, in declaration order
	Outputs []Output // named outputs and updates
	nextID  int
}

// NewGraph returns an empty graph.
func NewGraph() *Graph { return &Graph{} }

// Input returns the input named name, or nil.
func (g *Graph) Input(name string) *Value {
	for _, v := range g.Inputs {
		if v.Name == name {
			return v
		}
	}
	return nil
}

// Output returns the value of the named output, or nil.
func (g *Graph) Output(name string) *Value {
	for _, o := range g.Outputs {
		if o.Updates == nil && o.Name == name {
			return o.Value
		}
	}
	return nil
}

// AddOutput appends a named output.
func (g *Graph) AddOutput(name string, v *Value) {
	g.Outputs = append(g.Outputs, Output{Name: name, Value: v})
}

// AddUpdate appends an update: after the step, input gets the value of v.
func (g *Graph) AddUpdate(input, v *Value) {
	g.Outputs = append(g.Outputs, Output{Value: v, Updates: input})
}

// NewID returns an ID not yet used in g.
func (g *Graph) NewID() int {
	g.nextID++
	return g.nextID - 1
}

// Uses returns, for every value, the values that use it as an argument,
// in graph order.
func (g *Graph) Uses() map[*Value][]*Value {
	uses := make(map[*Value][]*Value)
	for _, v := range g.Values {
		for _, a := range v.Args {
			uses[a] = append(uses[a], v)
		}
	}
	return uses
}

// Renumber gives the values consecutive IDs 0, 1, … in graph order. Passes
// that remove values call it to keep dumps compact.
func (g *Graph) Renumber() {
	for i, v := range g.Values {
		v.ID = i
	}
	g.nextID = len(g.Values)
}
