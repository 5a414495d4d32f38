package eval

import (
	"math/rand/v2"
	"testing"

	"github.com/encc-lang/encc/ir"
)

// TestFusedKernels checks fused and matmul_bias against the unfused ops
// they stand for, and that their text form round-trips.
func TestFusedKernels(t *testing.T) {
	const fused = `graph fused {
  input %x : f32[3,4] data
  input %w : f32[5,4] param
  input %b : f32[5] param
  input %c : f32[3,1] data
  %4 = matmul_bias(%x, %w, %b) {transpose_b, act=gelu {tanh}} : f32[3,5]
  %5 = fused(%4, %c, %b) {$3 = mul($0, $1) : f32, $4 = fill() {value=0.5} : f32, $5 = gt($3, $4) : bool, $6 = sub($3, $2) : f32, $7 = where($5, $6, $0) : f32, $8 = gelu($7) {tanh} : f32} : f32[3,5]
  output y = %5
}
`
	const unfused = `graph unfused {
  input %x : f32[3,4] data
  input %w : f32[5,4] param
  input %b : f32[5] param
  input %c : f32[3,1] data
  %4 = matmul(%x, %w) {transpose_b} : f32[3,5]
  %5 = add(%4, %b) : f32[3,5]
  %6 = gelu(%5) {tanh} : f32[3,5]
  %7 = mul(%6, %c) : f32[3,5]
  %8 = fill() {value=0.5} : f32[]
  %9 = gt(%7, %8) : bool[3,5]
  %10 = sub(%7, %b) : f32[3,5]
  %11 = where(%9, %10, %6) : f32[3,5]
  %12 = gelu(%11) {tanh} : f32[3,5]
  output y = %12
}
`
	gf, err := ir.Parse("fused", []byte(fused))
	if err != nil {
		t.Fatal(err)
	}
	if got := gf.String(); got != fused {
		t.Errorf("round trip:\n%s\nwant\n%s", got, fused)
	}
	gu, err := ir.Parse("unfused", []byte(unfused))
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(3, 4))
	in := map[string]*Tensor{}
	for _, v := range gf.Inputs {
		x := Zeros(v.Type)
		for i := range x.F {
			x.F[i] = r.NormFloat64()
		}
		in[v.Name] = x
	}
	a, err := Run(gf, in)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Run(gu, in)
	if err != nil {
		t.Fatal(err)
	}
	for i, x := range a.Outputs["y"].F {
		if x != b.Outputs["y"].F[i] {
			t.Fatalf("element %d: fused %v, unfused %v", i, x, b.Outputs["y"].F[i])
		}
	}
}

// TestFusedTypeErrors checks that ill-formed bodies are rejected.
func TestFusedTypeErrors(t *testing.T) {
	for _, body := range []string{
		`%2 = fused(%x) : f32[3]`,
		`%2 = fused(%x) {$1 = add($0, $1) : f32} : f32[3]`,
		`%2 = fused(%x) {$1 = gt($0, $0) : f32} : f32[3]`,
		`%2 = fused(%x) {$1 = sum($0) : f32} : f32[3]`,
		`%2 = fused(%x) {$2 = neg($0) : f32} : f32[3]`,
		`%2 = fused(%x) {$1 = gt($0, $0) : bool} : f32[3]`,
		`%2 = fused(%x) {$1 = neg($0) : f32} : f32[2]`,
		`%2 = matmul_bias(%m, %m, %x) {act=exp} : f32[3,3]`,
		`%2 = matmul_bias(%m, %m, %x) {act=gelu {beta=1}} : f32[3,3]`,
		`%2 = matmul_bias(%m, %m, %x) {act=nosuchop} : f32[3,3]`,
		`%2 = matmul_bias(%m, %m, %m) : f32[3,3]`,
	} {
		src := "graph g {\n  input %x : f32[3] data\n  input %m : f32[3,3] data\n  " + body + "\n  output y = %2\n}\n"
		if _, err := ir.Parse("bad", []byte(src)); err == nil {
			t.Errorf("%s: no error", body)
		}
	}
}
