//go:build !cuda

// This file stands in for the GPU runtime (runtime_cuda.go) in builds
// without the cuda tag: Compile says how to get one.

package cuda

import "github.com/encc-lang/encc/ir"

// A Program is a graph loaded on a GPU. In this build (no cuda tag) none
// can be made; see runtime_cuda.go for the real one.
type Program struct{}

// Compile returns ErrNoCUDA: this build has no GPU runtime.
func Compile(g *ir.Graph, opts Options) (*Program, error) { return nil, ErrNoCUDA }

// Available reports whether this build can run graphs on a GPU.
func Available() bool { return false }

// Bind returns ErrNoCUDA.
func (p *Program) Bind(name string, data any) error { return ErrNoCUDA }

// Float32 returns nil.
func (p *Program) Float32(name string) []float32 { return nil }

// Int32 returns nil.
func (p *Program) Int32(name string) []int32 { return nil }

// Int64 returns nil.
func (p *Program) Int64(name string) []int64 { return nil }

// SetScalar does nothing.
func (p *Program) SetScalar(name string, v float64) {}

// Run returns ErrNoCUDA.
func (p *Program) Run() error { return ErrNoCUDA }

// Close does nothing.
func (p *Program) Close() error { return nil }
