package compiler

// This file implements the memory columns of `encc summary`: what
// training a model holds at a batch size, per layer and in total.
//
// The numbers come from the graphs a run compiles. Parameters, their
// gradients and the optimizer state are counted from the training step
// of the first phase (LowerStep: frozen parameters get neither). The
// activations saved for backward are the forward values of that step
// that its backward reads, each storage counted once (a reshape shares
// its operand's), and are attributed to the innermost layer call whose
// lowering emitted them. The arenas are ir.PlanMemory's plans of the
// optimized step and evaluation graphs: the one allocation a backend
// makes for each, holding gradients, activations and temporaries with
// slots reused. A run compiles its programs into one shared arena
// (backend/cpu.Arena), so it holds the larger of the two. The total is
// what a run holds: parameters, optimizer state, that arena, one batch
// of inputs and the dataset (every split) when DatasetSamples can size
// it.

import (
	"fmt"

	"github.com/encc-lang/encc/ir"
)

// A Memory is the memory of training (or, for a model, running) a model
// at one batch size, in bytes.
type Memory struct {
	Batch      int
	Train      string   // "" for a model's forward
	Optimizer  string   // AdamW
	StateKinds []string // the optimizer's state per parameter: exp_avg, exp_avg_sq, step
	Params     int64    // parameters and buffers
	Grads      int64    // gradients of the trained parameters (in the step arena)
	State      int64    // optimizer state
	Saved      int64    // activations saved for backward (in the step arena)
	StepArena  int64    // planned arena of the training step, or of the forward for a model
	EvalArena  int64    // planned arena of the evaluation graph (trains)
	Arena      int64    // the arena a run holds: max(StepArena, EvalArena), its programs sharing one (backend/cpu.Arena)
	Inputs     int64    // one batch of data inputs
	Sample     int64    // one sample of the train's dataset as a run holds it (4 bytes an element, 1 for IDX images)
	Samples    int64    // samples of the dataset, every split (DatasetSamples); 0 when unknown
	SamplesWhy string   // why Samples is unknown
	Dataset    int64    // Samples × Sample: the dataset a run holds in memory
	Total      int64    // Params + State + Arena + Inputs + Dataset
	Unplanned  string   // why a model's forward has no planned arena (a dimension other than B is unbound); "" when it has one
	Rows       []RowMemory
}

// A RowMemory is the memory of one summary row (its subtree), in bytes.
type RowMemory struct {
	Params, Grads, State, Saved int64
}

// Memory computes the memory of what s summarizes, name as given to
// Summarize, at batch (0: the train's batch; 1 for a model).
func (p *Program) Memory(s *Summary, name string, batch int) (*Memory, error) {
	if name == "" {
		name = p.DefaultName()
	}
	tr := p.Train(name)
	if tr == nil {
		return p.forwardMemory(s, name, batch)
	}
	if batch == 0 {
		batch = tr.Batch
	}
	m := &Memory{Batch: batch, Train: tr.Name, Rows: make([]RowMemory, len(s.Rows))}

	// The step, lowered with the tracer on to learn who emits what.
	c := p.c
	t := &tracer{owner: map[*ir.Value]int{}}
	t.stack = []*SummaryRow{{Depth: -1}}
	c.tr = t
	sg, err := p.LowerStep(tr, 0, batch)
	c.tr = nil
	if err != nil {
		return nil, err
	}
	g := sg.Graph
	opt, err := irOptimizer(tr)
	if err != nil {
		return nil, err
	}
	m.Optimizer = tr.Optimizer.E.Name
	m.StateKinds = opt.State()

	for _, prm := range tr.Params {
		m.Params += int64(ir.Type{DType: paramDType(prm), Shape: constShape(prm)}.Bytes())
	}
	byParam := map[string]int64{}
	for _, prm := range tr.Params {
		byParam[prm.Path] = int64(ir.Type{DType: paramDType(prm), Shape: constShape(prm)}.Bytes())
	}
	grads := map[string]int64{}
	for _, path := range sg.Trainable {
		grads[path] = byParam[path]
		m.Grads += byParam[path]
	}
	state := map[string]int64{}
	for _, st := range sg.State {
		state[st.Param] += int64(st.Type.Bytes())
		m.State += int64(st.Type.Bytes())
	}
	for _, in := range g.Inputs {
		if in.Role() == ir.RoleData {
			m.Inputs += int64(in.Type.Bytes())
		}
	}
	if tr.Data != nil {
		idx := func(src *ConfigV) bool { return src == nil || src.E.Name == "idx" }
		for _, f := range tr.Data.Fields {
			n := int64(4) // runtime/data holds f32 and i32 (a bool mask as 0/1)
			if f.Name == "image" && tr.Data.Source != nil && idx(tr.Data.Source) && idx(tr.Data.Test) {
				n = 1 // IDX images are held as their bytes (data.Field.U8)
			}
			for _, d := range f.Type.Dims {
				k, _ := d.Const()
				n *= k
			}
			m.Sample += n
		}
	}

	// Saved activations, by the row that emitted them.
	saved := map[int]int64{}
	for v, n := range savedForBackward(g) {
		m.Saved += n
		if r, ok := t.owner[v]; ok {
			saved[r] += n
		}
	}
	sameRows := len(t.rows) == len(s.Rows)
	for i := 0; sameRows && i < len(s.Rows); i++ {
		sameRows = t.rows[i].Path == s.Rows[i].Path
	}
	for i, r := range s.Rows {
		rm := &m.Rows[i]
		for path, n := range byParam {
			if under(path, r.Path) {
				rm.Params += n
				rm.Grads += grads[path]
				rm.State += state[path]
			}
		}
		if sameRows {
			for j := i; j < len(s.Rows) && (j == i || s.Rows[j].Depth > r.Depth); j++ {
				rm.Saved += saved[j]
			}
		}
	}

	if m.StepArena, err = plannedArena(g); err != nil {
		return nil, err
	}
	eg, err := p.LowerEval(tr, batch)
	if err != nil {
		return nil, err
	}
	if m.EvalArena, err = plannedArena(eg); err != nil {
		return nil, err
	}
	m.Arena = max(m.StepArena, m.EvalArena)
	if tr.Data != nil {
		m.Samples, m.SamplesWhy = DatasetSamples(tr.Data)
		m.Dataset = m.Samples * m.Sample
	}
	m.Total = m.Params + m.State + m.Arena + m.Inputs + m.Dataset
	return m, nil
}

// forwardMemory is Memory for a model: its parameters and the planned
// arena of its forward at batch (default 1).
func (p *Program) forwardMemory(s *Summary, name string, batch int) (*Memory, error) {
	if batch == 0 {
		batch = 1
	}
	var in *Instance
	for _, md := range p.Models {
		if md.Name == name {
			in = md.Default
		}
	}
	if in == nil {
		return nil, fmt.Errorf("no model or train named %q", name)
	}
	m := &Memory{Batch: batch, Rows: make([]RowMemory, len(s.Rows))}
	params := in.Params()
	for _, prm := range params {
		n := int64(ir.Type{DType: paramDType(prm), Shape: constShape(prm)}.Bytes())
		m.Params += n
		for i, r := range s.Rows {
			if under(prm.Path, r.Path) {
				m.Rows[i].Params += n
			}
		}
	}
	g, err := p.LowerForward(in, map[string]int{"B": batch})
	if err != nil {
		// Dimensions other than B (a sequence length T) are only bound
		// by a train's data.
		m.Unplanned = err.Error()
		m.Total = m.Params
		return m, nil
	}
	for _, v := range g.Inputs {
		if v.Role() == ir.RoleData {
			m.Inputs += int64(v.Type.Bytes())
		}
	}
	if m.StepArena, err = plannedArena(g); err != nil {
		return nil, err
	}
	m.Arena = m.StepArena
	m.Total = m.Params + m.StepArena + m.Inputs
	return m, nil
}

// plannedArena optimizes g as the backends do and returns the size of
// its planned arena.
func plannedArena(g *ir.Graph) (int64, error) {
	if err := ir.Optimize(g, ir.PipelineOptions{}); err != nil {
		return 0, err
	}
	plan, err := ir.PlanMemory(g, ir.PlanOptions{})
	if err != nil {
		return 0, err
	}
	return int64(plan.Size), nil
}

// savedForBackward returns the storages of the forward part of a
// training step (the values up to its loss) that a later value reads,
// with their bytes. A reshape's storage is its operand's.
func savedForBackward(g *ir.Graph) map[*ir.Value]int64 {
	out := map[*ir.Value]int64{}
	loss := g.Output("loss")
	if loss == nil {
		return out
	}
	index := map[*ir.Value]int{}
	for i, v := range g.Values {
		index[v] = i
	}
	end := index[loss]
	root := func(v *ir.Value) *ir.Value {
		for v.Op == ir.OpReshape {
			v = v.Args[0]
		}
		return v
	}
	for _, w := range g.Values[end+1:] {
		for _, a := range w.Args {
			r := root(a)
			if r.Op == ir.OpInput || index[r] > end {
				continue
			}
			out[r] = int64(ir.SlotBytes(r.Type))
		}
	}
	return out
}

// irMark returns where the lowering stands: the number of IR values
// emitted so far, or -1 when not lowering.
func (c *checker) irMark() int {
	if c.lw == nil {
		return -1
	}
	return len(c.lw.b.G.Values)
}

// claimIR gives row the IR values emitted since mark that no row inside
// it claimed.
func (c *checker) claimIR(row, mark int) {
	if mark < 0 || c.lw == nil || c.tr.owner == nil {
		return
	}
	for _, v := range c.lw.b.G.Values[mark:] {
		if _, ok := c.tr.owner[v]; !ok {
			c.tr.owner[v] = row
		}
	}
}

// under reports whether the parameter path lies under the row path.
func under(path, row string) bool {
	return len(path) > len(row) && path[:len(row)] == row && path[len(row)] == '.'
}

func paramDType(prm *Param) ir.DType {
	if d, ok := ir.ParseDType(prm.Type.DType); ok {
		return d
	}
	return ir.F32
}

func constShape(prm *Param) []int {
	s, _ := prm.Type.ConstShape()
	return s
}
