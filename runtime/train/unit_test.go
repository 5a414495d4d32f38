package train

import (
	"math"
	"testing"

	"github.com/encc-lang/encc/compiler"
	"github.com/encc-lang/encc/runtime/data"
)

func cfgOf(t *testing.T, name string, args map[string]compiler.Value) *compiler.ConfigV {
	t.Helper()
	e, ok := compiler.Lookup(name)
	if !ok {
		t.Fatalf("no catalog entry %s", name)
	}
	return &compiler.ConfigV{E: e, Args: args}
}

func fv(x float64) compiler.Value { return compiler.FloatV{V: x} }
func iv(x int64) compiler.Value   { return compiler.IntV{V: x} }

func near(a, b float64) bool { return math.Abs(a-b) <= 1e-12*math.Max(1, math.Abs(b)) }

func TestScheduleValues(t *testing.T) {
	cosine := cfgOf(t, "cosine", map[string]compiler.Value{"from": fv(1), "to": fv(0), "warmup_steps": iv(2)})
	cosineDefault := cfgOf(t, "cosine", map[string]compiler.Value{"from": fv(-1), "to": fv(0.1), "warmup_steps": iv(0)})
	linear := cfgOf(t, "linear", map[string]compiler.Value{"from": fv(1), "to": fv(0), "warmup_steps": iv(2)})
	step := cfgOf(t, "step", map[string]compiler.Value{"every": iv(2), "gamma": fv(0.5)})
	constant := cfgOf(t, "constant", map[string]compiler.Value{})
	warm := cfgOf(t, "warmup", map[string]compiler.Value{"steps": iv(4), "then": cosineDefault})
	oneCycle := cfgOf(t, "one_cycle", map[string]compiler.Value{"max_lr": fv(0.1), "pct_start": fv(0.3), "div_factor": fv(25), "final_div_factor": fv(1e4)})
	cases := []struct {
		name  string
		s     Schedule
		t     int
		want  float64
		exact bool
	}{
		{"nil is constant", Schedule{Base: 0.01, Steps: 10}, 7, 0.01, true},
		{"constant", Schedule{Config: constant, Base: 0.01, Steps: 10}, 9, 0.01, true},
		{"step epoch 0", Schedule{Config: step, Base: 1, Steps: 30, StepsPerEpoch: 3}, 5, 1, true},
		{"step epoch 2", Schedule{Config: step, Base: 1, Steps: 30, StepsPerEpoch: 3}, 6, 0.5, true},
		{"step epoch 5", Schedule{Config: step, Base: 1, Steps: 30, StepsPerEpoch: 3}, 17, 0.25, true},
		{"cosine warm-up 0", Schedule{Config: cosine, Base: 9, Steps: 10}, 0, 0.5, true},
		{"cosine warm-up 1", Schedule{Config: cosine, Base: 9, Steps: 10}, 1, 1, true},
		{"cosine start", Schedule{Config: cosine, Base: 9, Steps: 10}, 2, 1, false},
		{"cosine middle", Schedule{Config: cosine, Base: 9, Steps: 10}, 6, 0.5, false},
		{"cosine end", Schedule{Config: cosine, Base: 9, Steps: 10}, 9, (1 + math.Cos(math.Pi*7/8)) / 2, false},
		{"cosine from optimizer", Schedule{Config: cosineDefault, Base: 1.1, Steps: 4}, 2, 0.6, false},
		{"linear middle", Schedule{Config: linear, Base: 9, Steps: 10}, 6, 0.5, false},
		{"linear quarter", Schedule{Config: linear, Base: 9, Steps: 10}, 4, 0.75, false},
		{"warmup 0", Schedule{Config: warm, Base: 1.1, Steps: 8}, 0, 1.1 / 4, false},
		{"warmup 3", Schedule{Config: warm, Base: 1.1, Steps: 8}, 3, 1.1, false},
		{"warmup then 2", Schedule{Config: warm, Base: 1.1, Steps: 8}, 6, 0.6, false},
		// PyTorch OneCycleLR(max_lr=0.1, total_steps=100): initial 0.004,
		// peak at step 29, final 4e-7 at step 99.
		{"one_cycle 0", Schedule{Config: oneCycle, Base: 1, Steps: 100}, 0, 0.004, false},
		{"one_cycle peak", Schedule{Config: oneCycle, Base: 1, Steps: 100}, 29, 0.1, false},
		{"one_cycle rising", Schedule{Config: oneCycle, Base: 1, Steps: 100}, 10, 0.1 + (0.004-0.1)/2*(math.Cos(math.Pi*10/29)+1), false},
		{"one_cycle falling", Schedule{Config: oneCycle, Base: 1, Steps: 100}, 64, (0.1 + 4e-7) / 2, false},
		{"one_cycle end", Schedule{Config: oneCycle, Base: 1, Steps: 100}, 99, 4e-7, false},
	}
	for _, c := range cases {
		got := c.s.LR(c.t)
		if c.exact && got != c.want || !c.exact && !near(got, c.want) {
			t.Errorf("%s: LR(%d) = %.17g, want %.17g", c.name, c.t, got, c.want)
		}
	}
}

func TestInitStatistics(t *testing.T) {
	mk := func(path string, dims []int64, fanIn, fanOut int, init string, args map[string]compiler.Value) *compiler.Param {
		var ds []compiler.Dim
		for _, d := range dims {
			ds = append(ds, compiler.ConstDim(d))
		}
		return &compiler.Param{Path: path, Type: compiler.TensorType{DType: "f32", Dims: ds}, FanIn: fanIn, FanOut: fanOut,
			Init: cfgOf(t, init, args)}
	}
	stats := func(v []float32) (mean, std, lo, hi float64) {
		lo, hi = math.Inf(1), math.Inf(-1)
		for _, x := range v {
			mean += float64(x)
			lo, hi = math.Min(lo, float64(x)), math.Max(hi, float64(x))
		}
		mean /= float64(len(v))
		for _, x := range v {
			std += (float64(x) - mean) * (float64(x) - mean)
		}
		return mean, math.Sqrt(std / float64(len(v))), lo, hi
	}
	const in, out = 256, 512
	cases := []struct {
		name      string
		init      string
		args      map[string]compiler.Value
		std       float64 // expected standard deviation
		bound     float64 // |x| <= bound; 0: none
		mean      float64
		exactVals bool
	}{
		// Linear's default: U(±1/sqrt(fan_in)), std = bound/sqrt(3).
		{"linear default", "kaiming_uniform", map[string]compiler.Value{"a": fv(math.Sqrt(5))}, 1 / math.Sqrt(in) / math.Sqrt(3), 1 / math.Sqrt(in), 0, false},
		{"kaiming_uniform a=0", "kaiming_uniform", map[string]compiler.Value{"a": fv(0)}, math.Sqrt(2.0 / in), math.Sqrt(6.0 / in), 0, false},
		{"kaiming_normal", "kaiming_normal", map[string]compiler.Value{"a": fv(0)}, math.Sqrt(2.0 / in), 0, 0, false},
		{"xavier_uniform", "xavier_uniform", map[string]compiler.Value{"gain": fv(1)}, math.Sqrt(2.0 / (in + out)), math.Sqrt(6.0 / (in + out)), 0, false},
		{"xavier_normal", "xavier_normal", map[string]compiler.Value{"gain": fv(2)}, 2 * math.Sqrt(2.0/(in+out)), 0, 0, false},
		{"normal", "normal", map[string]compiler.Value{"mean": fv(3), "std": fv(0.5)}, 0.5, 0, 3, false},
		{"uniform", "uniform", map[string]compiler.Value{"low": fv(-2), "high": fv(2)}, 4 / math.Sqrt(12), 2, 0, false},
		// N(0, 1) truncated to ±2 has std 0.8796.
		{"truncated_normal", "truncated_normal", map[string]compiler.Value{"std": fv(0.02)}, 0.02 * 0.8796, 0.04, 0, false},
	}
	for _, c := range cases {
		prm := mk("w", []int64{out, in}, in, out, c.init, c.args)
		v, err := InitParam(prm, 1)
		if err != nil {
			t.Fatal(err)
		}
		mean, std, lo, hi := stats(v)
		if math.Abs(std-c.std) > 0.01*c.std {
			t.Errorf("%s: std %g, want %g", c.name, std, c.std)
		}
		if math.Abs(mean-c.mean) > 0.01*c.std+1e-9 {
			t.Errorf("%s: mean %g, want %g", c.name, mean, c.mean)
		}
		if c.bound > 0 && (hi > c.bound || lo < -c.bound) {
			t.Errorf("%s: values in [%g, %g], want within ±%g", c.name, lo, hi, c.bound)
		}
	}
	for _, c := range []struct {
		init string
		args map[string]compiler.Value
		want float32
	}{{"zeros", nil, 0}, {"ones", nil, 1}, {"fill", map[string]compiler.Value{"value": fv(0.25)}, 0.25}} {
		v, err := InitParam(mk("b", []int64{7}, 7, 7, c.init, c.args), 1)
		if err != nil {
			t.Fatal(err)
		}
		for _, x := range v {
			if x != c.want {
				t.Fatalf("%s: %v, want all %v", c.init, v, c.want)
			}
		}
	}
	// A scalar has no fan-in for kaiming.
	if _, err := InitParam(mk("s", nil, 0, 0, "kaiming_uniform", map[string]compiler.Value{"a": fv(0)}), 1); err == nil {
		t.Error("kaiming_uniform of a scalar: no error")
	}
}

func TestInitStreams(t *testing.T) {
	p := func(path string) *compiler.Param {
		return &compiler.Param{Path: path, Type: compiler.TensorType{DType: "f32", Dims: []compiler.Dim{compiler.ConstDim(5)}},
			FanIn: 5, FanOut: 5, Init: cfgOf(t, "normal", map[string]compiler.Value{"mean": fv(0), "std": fv(1)})}
	}
	a, _ := InitParams([]*compiler.Param{p("fc1.weight"), p("fc2.weight")}, 7)
	b, _ := InitParams([]*compiler.Param{p("fc0.weight"), p("fc2.weight")}, 7)
	c, _ := InitParams([]*compiler.Param{p("fc2.weight")}, 8)
	if !sameBits(a["fc2.weight"], b["fc2.weight"]) {
		t.Error("fc2.weight depends on the other parameters")
	}
	if sameBits(a["fc1.weight"], a["fc2.weight"]) || sameBits(a["fc2.weight"], c["fc2.weight"]) {
		t.Error("different paths or seeds gave the same values")
	}
}

func sameBits(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			return false
		}
	}
	return true
}

func TestMeter(t *testing.T) {
	ms := []metric{{Name: "accuracy", Kind: "accuracy"}, {Name: "top2", Kind: "top_k", K: 2}, {Name: "f1", Kind: "f1"}}
	m := newMeter(ms, 3)
	// Predictions 0, 1, 1, 2 for labels 0, 1, 2, 2; label 2 of row 2 is second.
	pred := []float32{
		3, 1, 0,
		0, 5, 1,
		0, 4, 2,
		1, 0, 9,
	}
	m.add(2, 1.0, pred[:6], []int32{0, 1})
	m.add(2, 2.0, pred[6:], []int32{2, 2})
	v := m.values(ms)
	// F1: class 0: 1, class 1: 2/(2+1) = 2/3, class 2: 2/(2+1) = 2/3.
	want := map[string]float64{"loss": 1.5, "accuracy": 0.75, "top2": 1, "f1": (1 + 2.0/3 + 2.0/3) / 3}
	for k, w := range want {
		if !near(v[k], w) {
			t.Errorf("%s = %v, want %v", k, v[k], w)
		}
	}
}

func TestFirstNonFiniteIndex(t *testing.T) {
	nan, inf := float32(math.NaN()), float32(math.Inf(1))
	for n := 0; n < 20; n++ {
		xs := make([]float32, n)
		for i := range xs {
			xs[i] = float32(i) - 3.5
		}
		if got := firstNonFiniteIndex(xs); got != -1 {
			t.Fatalf("n=%d finite: got %d, want -1", n, got)
		}
		for at := 0; at < n; at++ {
			for _, bad := range []float32{nan, inf, -inf} {
				ys := append([]float32(nil), xs...)
				ys[at] = bad
				if n > at+2 {
					ys[n-1] = nan // a later one must not be reported first
				}
				if got := firstNonFiniteIndex(ys); got != at {
					t.Fatalf("n=%d, %v at %d: got %d", n, bad, at, got)
				}
			}
		}
	}
	if !finite(math.MaxFloat32) || finite(nan) || finite(-inf) {
		t.Error("finite is wrong")
	}
}

// TestBuiltinSamples: the sizes `encc summary` counts for the builtin
// datasets (compiler.DatasetSamples) are those runtime/data loads.
func TestBuiltinSamples(t *testing.T) {
	for _, name := range data.BuiltinNames() {
		ds, err := data.Builtin(name)
		if err != nil {
			t.Fatal(err)
		}
		src := &compiler.ConfigV{E: &compiler.Entry{Name: "builtin"}, Args: map[string]compiler.Value{"name": compiler.StrV{V: name}}}
		if n, why := compiler.DatasetSamples(&compiler.Dataset{Source: src}); n != int64(ds.N) {
			t.Errorf("builtin %s: the summary counts %d samples (%s), the runtime loads %d", name, n, why, ds.N)
		}
	}
}
