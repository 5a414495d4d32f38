// This file implements the cse pass.

package ir

import (
	"fmt"
	"strings"
)

// cse merges values that have the same op, type, aux and args (in either
// order for commutative ops); inputs and in-place updates are never
// merged.
func cse(g *Graph) error {
	seen := map[string]*Value{}
	return rewrite(g, func(_ *Builder, v *Value) (*Value, error) {
		if !v.Op.IsPure() {
			return nil, nil
		}
		k := cseKey(v)
		if w, ok := seen[k]; ok {
			return w, nil
		}
		seen[k] = v
		return nil, nil
	})
}

// cseKey identifies v by op, type, aux and operands.
func cseKey(v *Value) string {
	ids := make([]int, len(v.Args))
	for i, a := range v.Args {
		ids[i] = a.ID
	}
	if v.Op.IsCommutative() && ids[0] > ids[1] {
		ids[0], ids[1] = ids[1], ids[0]
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d %v %v {%s}", v.Op, ids, v.Type, FormatAux(v.Aux))
	return b.String()
}
