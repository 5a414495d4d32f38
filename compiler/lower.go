package compiler

import "github.com/encc-lang/encc/lang"

// A lowerer receives the tensor operations of an evaluation and builds
// the IR graph; see Lower.
type lowerer struct {
	emitFn  func(n lang.Node, op string, out TensorType, attrs map[string]any, ins []Value) any
	paramFn func(path string) any
}

func (l *lowerer) param(path string) any { return l.paramFn(path) }

func (l *lowerer) emit(n lang.Node, op string, out TensorType, attrs map[string]any, ins []Value) any {
	return l.emitFn(n, op, out, attrs, ins)
}

// paramNode returns the IR value of a parameter while lowering.
func (c *checker) paramNode(path, name string) any {
	if c.lw == nil {
		return nil
	}
	return c.lw.param(joinPath(path, name))
}
