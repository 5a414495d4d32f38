package compiler

import (
	"fmt"

	"github.com/encc-lang/encc/internal/diag"
)

// A ForwardInput is one input of a model's forward as declared: its
// name, its type with the dimension variables left symbolic (f32[B, T,
// 64]), and whether it may be omitted (`mask: bool[B, T] = none`).
type ForwardInput struct {
	Name     string
	Type     TensorType
	Optional bool
	Pos      diag.Pos
}

// ForwardInputs returns the inputs of the forward of in, in declaration
// order. Exporters read the dimension variables (B, T) from their types.
func (p *Program) ForwardInputs(in *Instance) ([]ForwardInput, error) {
	fw := in.forward
	if fw == nil {
		return nil, fmt.Errorf("%s has no forward", in.Model.name)
	}
	c := p.c
	fen := &env{sc: newScope(in.scope), hyper: true}
	before := len(c.diags)
	var out []ForwardInput
	for _, prm := range fw.Params {
		t, ok := c.evalTensorType(prm.Type, fen, map[string]bool{})
		if !ok || len(c.diags) > before {
			c.diags = c.diags[:before]
			return nil, fmt.Errorf("%s: bad input type", prm.Pos())
		}
		out = append(out, ForwardInput{Name: prm.Name.Name, Type: t, Optional: prm.Default != nil, Pos: prm.Pos()})
	}
	return out, nil
}
