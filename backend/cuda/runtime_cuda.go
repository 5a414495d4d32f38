//go:build cuda

// This file implements the GPU runtime on gorgonia.org/cu: Compile emits
// the module, compiles kernels.cu with NVRTC for the device's compute
// capability, loads it, allocates the arena and one device buffer per
// input, and resolves every step's arguments to device addresses once;
// Run copies the inputs to the device, runs the steps in order on the
// default stream (launches, cuBLAS GEMMs, copies, memsets) and copies
// the updated inputs and the named outputs back.
//
// Program has the method set of backend/cpu's Program (Bind, Float32,
// Int32, Int64, SetScalar, Run), so runtime/train can drive it.
//
// TODO(cuda): keep parameters and optimizer state resident on the device
// between steps instead of copying every bound input both ways per Run.

package cuda

import (
	"fmt"
	"math"
	"runtime"
	"unsafe"

	"gorgonia.org/cu"
	"gorgonia.org/cu/nvrtc"

	"github.com/encc-lang/encc/backend/host"
	"github.com/encc-lang/encc/ir"
)

// Available reports whether this build can run graphs on a GPU.
func Available() bool { return true }

// A Program is a graph loaded on a GPU. It is not safe for concurrent use.
type Program struct {
	g      *ir.Graph
	mod    *Module
	ctx    cu.CUContext
	module cu.Module
	blas   blasHandle
	arena  cu.DevicePtr
	inputs map[string]*devBuf // by input name
	outs   map[string]*devBuf // named outputs: host copies after Run
	io     host.IO[*devBuf]   // Bind, Float32, … over inputs and outs
	steps  []runStep
	opts   Options
}

// A devBuf is device storage and the host storage it is copied from or to.
type devBuf struct {
	dt    ir.DType
	n     int
	dev   cu.DevicePtr
	host  unsafe.Pointer // bound or owned host storage of n elements
	owned []uint64       // program-owned host storage, when not bound
	write bool           // updated by the step: copied back after Run
}

func (b *devBuf) bytes() int64 { return int64(b.n * b.dt.Size()) }

// Host and SetHost make a devBuf a host.Buffer: its host storage, which
// Bind points at caller-owned memory.
func (b *devBuf) Host() (unsafe.Pointer, int, ir.DType) { return b.host, b.n, b.dt }
func (b *devBuf) SetHost(p unsafe.Pointer)              { b.host = p }

// A runStep is a plan step with its arguments resolved.
type runStep struct {
	s        Step
	fn       cu.Function
	launch   *Launch
	params   []unsafe.Pointer // kernel parameters: pointers into vals
	vals     []uint64
	epi      *runStep
	a, b, c  uintptr // gemm operands
	out, src cu.DevicePtr
	bytes    int64
}

// Compile plans g (optimized by ir.Optimize), emits its module and loads
// it on device opts.Device.
func Compile(g *ir.Graph, opts Options) (*Program, error) {
	if err := ir.Verify(g); err != nil {
		return nil, err
	}
	plan, err := ir.PlanMemory(g, ir.PlanOptions{})
	if err != nil {
		return nil, err
	}
	mod, err := Emit(g, plan, EmitOptions{Block: opts.Block})
	if err != nil {
		return nil, err
	}
	if err := mod.Plan.Check(); err != nil {
		return nil, fmt.Errorf("cuda: %v", err)
	}
	p := &Program{g: g, mod: mod, inputs: map[string]*devBuf{}, outs: map[string]*devBuf{}, opts: opts}
	p.io = host.IO[*devBuf]{Backend: "cuda", Graph: g, Inputs: p.inputs, Outputs: p.outs}
	dev, err := cu.GetDevice(opts.Device)
	if err != nil {
		return nil, fmt.Errorf("cuda: device %d: %v", opts.Device, err)
	}
	if p.ctx, err = dev.RetainPrimaryCtx(); err != nil {
		return nil, fmt.Errorf("cuda: context: %v", err)
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := cu.SetCurrentContext(p.ctx); err != nil {
		return nil, fmt.Errorf("cuda: context: %v", err)
	}
	major, minor, err := dev.ComputeCapability()
	if err != nil {
		return nil, fmt.Errorf("cuda: %v", err)
	}
	ptx, err := compilePTX(mod.Kernels, major, minor)
	if err != nil {
		return nil, err
	}
	if p.module, err = cu.LoadData(ptx); err != nil {
		return nil, fmt.Errorf("cuda: loading PTX: %v", err)
	}
	if p.blas, err = newBLAS(); err != nil {
		return nil, fmt.Errorf("cuda: %v", err)
	}
	if mod.Plan.ArenaBytes > 0 {
		if p.arena, err = cu.MemAlloc(int64(mod.Plan.ArenaBytes)); err != nil {
			return nil, fmt.Errorf("cuda: arena of %d bytes: %v", mod.Plan.ArenaBytes, err)
		}
	}
	for _, v := range g.Inputs {
		b := &devBuf{dt: v.Type.DType, n: v.Type.NumElements()}
		b.owned = make([]uint64, (b.bytes()+7)/8+1)
		b.host = unsafe.Pointer(&b.owned[0])
		if b.n > 0 {
			if b.dev, err = cu.MemAlloc(b.bytes()); err != nil {
				return nil, fmt.Errorf("cuda: input %s: %v", v.Name, err)
			}
		}
		p.inputs[v.Name] = b
	}
	for _, o := range mod.Plan.Outputs {
		if o.Updates != "" {
			p.inputs[o.Updates].write = true
			continue
		}
		v := g.Output(o.Name)
		b := &devBuf{dt: v.Type.DType, n: v.Type.NumElements(), dev: p.ptr(o.At)}
		b.owned = make([]uint64, (b.bytes()+7)/8+1)
		b.host = unsafe.Pointer(&b.owned[0])
		p.outs[o.Name] = b
	}
	for _, s := range mod.Plan.Steps {
		rs, err := p.resolve(s)
		if err != nil {
			return nil, err
		}
		p.steps = append(p.steps, rs)
	}
	return p, nil
}

// compilePTX compiles src with NVRTC for compute capability major.minor.
func compilePTX(src string, major, minor int) (string, error) {
	prog, err := nvrtc.CreateProgram(src, "kernels.cu")
	if err != nil {
		return "", fmt.Errorf("cuda: nvrtc: %v", err)
	}
	defer prog.Destroy()
	if err := prog.Compile(fmt.Sprintf("--gpu-architecture=compute_%d%d", major, minor), "--std=c++14"); err != nil {
		log, _ := prog.GetLog()
		return "", fmt.Errorf("cuda: nvrtc: %v\n%s", err, log)
	}
	return prog.GetPTX()
}

// ptr is the device address of a pointer argument.
func (p *Program) ptr(a Arg) cu.DevicePtr {
	if a.Kind == "input" {
		return p.inputs[a.Input].dev + cu.DevicePtr(a.Offset)
	}
	return p.arena + cu.DevicePtr(a.Offset)
}

// resolveLaunch looks up the kernel and lays out its parameters.
func (p *Program) resolveLaunch(l *Launch) (*runStep, error) {
	fn, err := p.module.Function(l.Kernel)
	if err != nil {
		return nil, fmt.Errorf("cuda: kernel %s: %v", l.Kernel, err)
	}
	rs := &runStep{fn: fn, launch: l, vals: make([]uint64, len(l.Args))}
	for i, a := range l.Args {
		switch a.Kind {
		case "arena", "input":
			rs.vals[i] = uint64(p.ptr(a))
		case "i32", "i64":
			rs.vals[i] = uint64(*a.Int) // little-endian: an int32 parameter reads the low 4 bytes
		case "f32":
			rs.vals[i] = uint64(math.Float32bits(float32(*a.Float)))
		}
	}
	for i := range rs.vals {
		rs.params = append(rs.params, unsafe.Pointer(&rs.vals[i]))
	}
	return rs, nil
}

func (p *Program) resolve(s Step) (runStep, error) {
	rs := runStep{s: s, out: p.ptr(s.Out), bytes: int64(s.Out.Bytes)}
	switch s.Kind {
	case "launch":
		l, err := p.resolveLaunch(s.Launch)
		if err != nil {
			return rs, err
		}
		l.s = s
		return *l, nil
	case "gemm":
		g := s.GEMM
		if p.opts.FallbackGEMM {
			l, err := p.resolveLaunch(g.Fallback)
			if err != nil {
				return rs, err
			}
			rs.fn, rs.launch, rs.params, rs.vals = l.fn, l.launch, l.params, l.vals
		}
		rs.a, rs.b, rs.c = uintptr(p.ptr(g.A)), uintptr(p.ptr(g.B)), uintptr(p.ptr(g.C))
		if g.Epilogue != nil {
			epi, err := p.resolveLaunch(g.Epilogue)
			if err != nil {
				return rs, err
			}
			rs.epi = epi
		}
	case "copy":
		rs.src = p.ptr(*s.Src)
	}
	return rs, nil
}

// Bind makes input name read from (and, for updated inputs, be written
// back to) caller-owned host storage: []float32, []int32, []int64 or
// []bool of the input's element count.
func (p *Program) Bind(name string, data any) error { return p.io.Bind(name, data) }

// Float32 returns the host storage of an f32 input or named output
// (valid until the next Run for outputs), or nil.
func (p *Program) Float32(name string) []float32 { return p.io.Float32(name) }

// Int32 returns the host storage of an i32 input or named output, or nil.
func (p *Program) Int32(name string) []int32 { return p.io.Int32(name) }

// Int64 returns the host storage of an i64 input or named output, or nil.
func (p *Program) Int64(name string) []int64 { return p.io.Int64(name) }

// SetScalar sets a scalar input to v, converted to its dtype. It panics
// if name is not a scalar input.
func (p *Program) SetScalar(name string, v float64) { p.io.SetScalar(name, v) }

// Run executes one step: inputs to the device, the plan's steps, then
// updated inputs and named outputs back to the host.
func (p *Program) Run() error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := cu.SetCurrentContext(p.ctx); err != nil {
		return fmt.Errorf("cuda: %v", err)
	}
	for name, b := range p.inputs {
		if b.n == 0 {
			continue
		}
		if err := cu.MemcpyHtoD(b.dev, b.host, b.bytes()); err != nil {
			return fmt.Errorf("cuda: input %s: %v", name, err)
		}
	}
	for i := range p.steps {
		if err := p.run(&p.steps[i]); err != nil {
			return fmt.Errorf("cuda: %s: %v", p.steps[i].s.IR, err)
		}
	}
	if err := cu.Synchronize(); err != nil {
		return fmt.Errorf("cuda: %v", err)
	}
	for name, b := range p.inputs {
		if b.write && b.n > 0 {
			if err := cu.MemcpyDtoH(b.host, b.dev, b.bytes()); err != nil {
				return fmt.Errorf("cuda: update %s: %v", name, err)
			}
		}
	}
	for name, b := range p.outs {
		if b.n > 0 {
			if err := cu.MemcpyDtoH(b.host, b.dev, b.bytes()); err != nil {
				return fmt.Errorf("cuda: output %s: %v", name, err)
			}
		}
	}
	return nil
}

func (p *Program) launch(rs *runStep) error {
	l := rs.launch
	return rs.fn.Launch(l.Grid[0], l.Grid[1], l.Grid[2], l.Block[0], l.Block[1], l.Block[2], l.Shared, cu.NoStream, rs.params)
}

func (p *Program) run(rs *runStep) error {
	switch rs.s.Kind {
	case "launch":
		return p.launch(rs)
	case "gemm":
		if p.opts.FallbackGEMM {
			if err := p.launch(rs); err != nil {
				return err
			}
		} else if err := p.blas.sgemm(rs.s.GEMM, rs.a, rs.b, rs.c); err != nil {
			return err
		}
		if rs.epi != nil {
			return p.launch(rs.epi)
		}
	case "copy":
		return cu.MemcpyDtoD(rs.out, rs.src, rs.bytes)
	case "memset":
		return cu.MemsetD8(rs.out, 0, rs.bytes)
	}
	return nil
}

// Close frees the device memory, the cuBLAS handle and the module.
func (p *Program) Close() error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := cu.SetCurrentContext(p.ctx); err != nil {
		return err
	}
	for _, b := range p.inputs {
		if b.dev != 0 {
			cu.MemFree(b.dev)
		}
	}
	if p.arena != 0 {
		cu.MemFree(p.arena)
	}
	p.blas.destroy()
	return p.module.Unload()
}
