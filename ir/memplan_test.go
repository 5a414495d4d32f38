package ir

import (
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/encc-lang/encc/internal/golden"
)

// TestPlanMemoryGolden plans each ir/testdata/passes/memplan/*.txtar
// graph (section in.ir) and compares the printed plan with section plan.
func TestPlanMemoryGolden(t *testing.T) {
	files, _ := filepath.Glob("testdata/passes/memplan/*.txtar")
	if len(files) == 0 {
		t.Fatal("no golden files")
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			a := golden.Read(t, file)
			src, _ := a.Get("in.ir")
			g, err := Parse(file, src)
			if err != nil {
				t.Fatal(err)
			}
			p, err := PlanMemory(g, PlanOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if err := p.Check(g); err != nil {
				t.Fatal(err)
			}
			simulatePlan(t, g, p)
			a.Check(t, "plan", []byte(p.Format(g)))
		})
	}
}

// simulatePlan runs g on the plan with tags instead of data: every write
// stamps a storage's bytes with the writer, and every read checks that the
// bytes still hold what the reader expects. It catches any reuse that
// would clobber a live value, independently of Check.
func simulatePlan(t *testing.T, g *Graph, p *Plan) {
	t.Helper()
	arena := make([]int, p.Size)
	for i := range arena {
		arena[i] = -2
	}
	external := map[*Value]int{} // input → writer ID (-1: the caller's data)
	for _, in := range g.Inputs {
		external[in] = -1
	}
	// writer returns the value that wrote the storage a reads: follow
	// aliases to a value with its own storage.
	writer := func(a *Value) *Value {
		for {
			if b, ok := p.Alias[a]; ok {
				a = b
				continue
			}
			return a
		}
	}
	read := func(user string, a *Value) {
		w := writer(a)
		switch {
		case w.Op == OpInput:
			if external[w] != -1 {
				t.Fatalf("%s reads %s after it was overwritten in place by %%%d", user, a.Ref(), external[w])
			}
		case p.InPlace[w] != nil:
			if got := external[p.InPlace[w]]; got != w.ID {
				t.Fatalf("%s reads %s: its storage %s holds %%%d", user, a.Ref(), p.InPlace[w].Ref(), got)
			}
		default:
			off := p.Offset[w]
			for i := off; i < off+w.Type.Bytes(); i++ {
				if arena[i] != w.ID {
					t.Fatalf("%s reads %s: arena byte %d holds %%%d", user, a.Ref(), i, arena[i])
				}
			}
		}
	}
	for _, v := range g.Values {
		if v.Op == OpInput {
			continue
		}
		for _, a := range v.Args {
			read(v.Ref(), a)
		}
		switch {
		case p.Alias[v] != nil:
		case p.InPlace[v] != nil:
			external[p.InPlace[v]] = v.ID
		default:
			off := p.Offset[v]
			for i := off; i < off+v.Type.Bytes(); i++ {
				arena[i] = v.ID
			}
		}
	}
	for _, o := range g.Outputs {
		read("output", o.Value)
	}
}

// TestPlanMemoryRandom plans random graphs of elementwise ops, reshapes
// and in-place updates and checks each plan with Check and by simulation.
func TestPlanMemoryRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for iter := 0; iter < 300; iter++ {
		g := randomPlanGraph(t, r)
		for _, opts := range []PlanOptions{{}, {NoAlias: true}, {NoReuse: true}} {
			p, err := PlanMemory(g, opts)
			if err != nil {
				t.Fatal(err)
			}
			if err := p.Check(g); err != nil {
				t.Fatalf("%v\n%s\n%s", err, g, p.Format(g))
			}
			simulatePlan(t, g, p)
			if p.Size > p.Sum {
				t.Fatalf("arena %d > sum %d", p.Size, p.Sum)
			}
		}
	}
}

func randomPlanGraph(t *testing.T, r *rand.Rand) *Graph {
	m := mustT(t)
	g := NewGraph()
	b := NewBuilder(g)
	shapes := []Shape{{4, 4}, {16}, {2, 8}, {8, 2}}
	var params []*Value
	for i := range 3 {
		params = append(params, m(b.Input([]string{"p0", "p1", "p2"}[i], RoleParam, Type{F32, shapes[r.IntN(len(shapes))]})))
	}
	lr := m(b.Input("lr", RoleScalar, Scalar(F32)))
	pool := append([]*Value{}, params...)
	pick := func() *Value { return pool[r.IntN(len(pool))] }
	n := 5 + r.IntN(25)
	for range n {
		x := pick()
		var v *Value
		switch r.IntN(6) {
		case 0:
			v = m(b.Exp(x))
		case 1:
			v = m(b.Neg(x))
		case 2, 3:
			y := pick()
			if !y.Type.Shape.Equal(x.Type.Shape) {
				y = m(b.Reshape(y, x.Type.Shape))
			}
			v = m(b.Add(x, y))
		case 4:
			v = m(b.Reshape(x, shapes[r.IntN(len(shapes))]))
		case 5:
			v = m(b.Sum(x, nil, false))
			v = m(b.Mul(m(b.BroadcastTo(v, x.Type.Shape)), x))
		}
		pool = append(pool, v)
	}
	for i, p := range params {
		if r.IntN(3) == 0 {
			continue
		}
		d := pick()
		if d.Type.NumElements() != p.Type.NumElements() {
			d = m(b.Exp(p))
		}
		if !d.Type.Shape.Equal(p.Type.Shape) {
			d = m(b.Reshape(d, p.Type.Shape))
		}
		np := m(b.SGD(p, d, lr))
		g.AddUpdate(p, np)
		if r.IntN(4) == 0 { // read the old parameter after its update
			pool = append(pool, m(b.Neg(params[i])))
		}
		if r.IntN(4) == 0 { // read the new parameter through a reshape
			pool = append(pool, m(b.Exp(m(b.Reshape(np, Shape{np.Type.NumElements()})))))
		}
	}
	for i := range 1 + r.IntN(3) {
		g.AddOutput([]string{"a", "b", "c"}[i], pool[r.IntN(len(pool))])
	}
	if err := Verify(g); err != nil {
		t.Fatal(err)
	}
	return g
}
