package data

import (
	"math"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestDigits(t *testing.T) {
	d, err := Builtin("digits")
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Validate(); err != nil {
		t.Fatal(err)
	}
	if d.N != 1797 || len(d.Fields) != 2 {
		t.Fatalf("N = %d with %d fields, want 1797 and 2", d.N, len(d.Fields))
	}
	img, lab := d.Field("image"), d.Field("label")
	if img.Type() != "f32[64]" || lab.Type() != "i32" || lab.Classes != 10 || lab.Role != Label || img.Role != Feature {
		t.Fatalf("fields %s %v, %s %v classes %d", img.Type(), img.Role, lab.Type(), lab.Role, lab.Classes)
	}
	// First row of digits.csv: a 0.
	first := []float32{0, 0, 5, 13, 9, 1, 0, 0, 0, 0, 13, 15, 10, 15, 5, 0, 0, 3, 15, 2, 0, 11, 8, 0, 0, 4, 12, 0, 0, 8, 8, 0, 0, 5, 8, 0, 0, 9, 8, 0, 0, 4, 11, 0, 1, 12, 7, 0, 0, 2, 14, 5, 10, 12, 0, 0, 0, 0, 6, 13, 10, 0, 0, 0}
	if d := cmp.Diff(first, img.F32[:64]); d != "" {
		t.Errorf("first image (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]int32{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1}, lab.I32[:12]); d != "" {
		t.Errorf("first labels (-want +got):\n%s", d)
	}
	if lab.I32[1796] != 8 {
		t.Errorf("last label %d, want 8", lab.I32[1796])
	}
	lo, hi := slices.Min(img.F32), slices.Max(img.F32)
	if lo != 0 || hi != 16 {
		t.Errorf("pixel range [%v, %v], want [0, 16]", lo, hi)
	}
	counts, err := d.ClassCounts("label")
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]int{178, 182, 177, 183, 181, 182, 181, 179, 174, 180}, counts); d != "" {
		t.Errorf("class counts (-want +got):\n%s", d)
	}

	// Each call returns a fresh copy.
	img.F32[0] = 99
	d2, _ := Builtin("digits")
	if d2.Field("image").Values()[0] != 0 {
		t.Error("Builtin returned shared storage")
	}
	if _, err := Builtin("cifar"); err == nil || err.Error() != `unknown builtin dataset "cifar" (have: [digits])` {
		t.Errorf("unknown builtin: %v", err)
	}
}

func TestSplitSizes(t *testing.T) {
	for _, tc := range []struct {
		n                  int
		train, val, test   float64
		wantTr, wantV, wTe int
	}{
		{1797, 0.8, 0, 0.2, 1437, 0, 360},
		{1797, 0.8, 0.1, 0.1, 1437, 180, 180},
		{1797, 0.9, 0, 0.1, 1617, 0, 180},
		{30, 0.8, 0.1, 0.1, 24, 3, 3}, // 0.1·30 is 3.0000000000000004
		{10, 0.5, 0, 0.3, 5, 0, 3},    // sum < 1: the rest is left out
		{10, 1, 0, 0, 10, 0, 0},
		{70000, 6.0 / 7, 0, 1.0 / 7, 60000, 0, 10000},
	} {
		tr, v, te, err := SplitSizes(tc.n, tc.train, tc.val, tc.test)
		if err != nil || tr != tc.wantTr || v != tc.wantV || te != tc.wTe {
			t.Errorf("SplitSizes(%d, %v, %v, %v) = %d, %d, %d, %v; want %d, %d, %d",
				tc.n, tc.train, tc.val, tc.test, tr, v, te, err, tc.wantTr, tc.wantV, tc.wTe)
		}
	}
	for _, tc := range []struct {
		n                int
		train, val, test float64
		want             string
	}{
		{10, 0.9, 0, 0.2, "split fractions 0.9 + 0 + 0.2 sum to more than 1"},
		{10, -0.1, 0, 0.2, "split fraction -0.1 not in [0, 1]"},
		{10, math.NaN(), 0, 0.2, "split fraction NaN not in [0, 1]"},
		{1, 0.5, 0, 0.5, "split 0.5/0/0.5 of 1 samples leaves no training samples"},
		{10, 0.5, 0, 1e-8, "split 0.5/0/1e-08 of 10 samples leaves an empty part"},
	} {
		_, _, _, err := SplitSizes(tc.n, tc.train, tc.val, tc.test)
		if err == nil || err.Error() != tc.want {
			t.Errorf("SplitSizes(%d, %v, %v, %v): got %v, want %q", tc.n, tc.train, tc.val, tc.test, err, tc.want)
		}
	}
}

// TestPermuteGolden pins the permutation algorithm: splits and epoch
// orders of saved runs depend on it.
func TestPermuteGolden(t *testing.T) {
	p := make([]int, 10)
	Permute(p, 7, StreamSplit)
	if d := cmp.Diff([]int{9, 4, 1, 5, 8, 2, 7, 6, 3, 0}, p); d != "" {
		t.Errorf("Permute(10, seed 7) (-want +got):\n%s", d)
	}
	q := make([]int, 10)
	Permute(q, 8, StreamSplit)
	if slices.Equal(p, q) {
		t.Error("seeds 7 and 8 give the same permutation")
	}
	// Every element once, for sizes around powers of two.
	for _, n := range []int{0, 1, 2, 31, 32, 33, 1000} {
		p := make([]int, n)
		Permute(p, 1, 2)
		s := slices.Sorted(slices.Values(p))
		for i, v := range s {
			if v != i {
				t.Fatalf("Permute(%d) is not a permutation: %v", n, p)
			}
		}
	}
}

// rowKey identifies a digits sample by its pixels and label.
func rowKeys(d *Dataset) map[string]int {
	img, lab := d.Field("image"), d.Field("label")
	m := map[string]int{}
	for i := range d.N {
		m[string(rune(lab.I32[i]))+string(float32Bytes(img.F32[i*64:(i+1)*64]))]++
	}
	return m
}

func float32Bytes(v []float32) []byte {
	b := make([]byte, len(v))
	for i, x := range v {
		b[i] = byte(x)
	}
	return b
}

func TestSplitFractions(t *testing.T) {
	d, _ := Builtin("digits")
	s, err := SplitFractions(d, 0.8, 0, 0.2, 7)
	if err != nil {
		t.Fatal(err)
	}
	if s.Train.N != 1437 || s.Test.N != 360 || s.Val != nil {
		t.Fatalf("split sizes %d / %v / %d, want 1437 / nil / 360", s.Train.N, s.Val, s.Test.N)
	}
	for _, part := range s.All() {
		if err := part.Validate(); err != nil {
			t.Fatal(err)
		}
	}
	// Train and test together are exactly the dataset (as a multiset).
	all := rowKeys(s.Train)
	for k, v := range rowKeys(s.Test) {
		all[k] += v
	}
	if d := cmp.Diff(rowKeys(d), all); d != "" {
		t.Errorf("train ∪ test differs from the dataset:\n%s", d)
	}
	// Deterministic in the seed.
	s2, _ := SplitFractions(d, 0.8, 0, 0.2, 7)
	if !slices.Equal(s.Test.Field("label").I32, s2.Test.Field("label").I32) ||
		!slices.Equal(s.Train.Field("image").Values(), s2.Train.Field("image").Values()) {
		t.Error("same seed, different split")
	}
	s3, _ := SplitFractions(d, 0.8, 0, 0.2, 8)
	if slices.Equal(s.Test.Field("image").Values(), s3.Test.Field("image").Values()) {
		t.Error("seeds 7 and 8 give the same split")
	}
	// The split is shuffled: the test part is not the last 360 rows.
	if slices.Equal(s.Test.Field("label").I32, d.Field("label").I32[1437:]) {
		t.Error("test split is the unshuffled tail")
	}
	// Three parts.
	s4, err := SplitFractions(d, 0.8, 0.1, 0.1, 1)
	if err != nil || s4.Train.N != 1437 || s4.Val.N != 180 || s4.Test.N != 180 {
		t.Errorf("0.8/0.1/0.1: %v", err)
	}
	if _, err := SplitFractions(d, 0.8, 0, 0.3, 1); err == nil || err.Error() != "builtin:digits: split fractions 0.8 + 0 + 0.3 sum to more than 1" {
		t.Errorf("bad fractions: %v", err)
	}
}

func TestSplitTestSource(t *testing.T) {
	train, err := ReadIDX("testdata/tiny-images-idx3-ubyte.gz", "testdata/tiny-labels-idx1-ubyte", IDXOptions{})
	if err != nil {
		t.Fatal(err)
	}
	test := train.Subset([]int{0, 1})
	test.Field("label").Classes = 4 // as if the test file's largest label were 3
	s, err := SplitTestSource(train, test, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if s.Train != train || s.Test != test || s.Val != nil {
		t.Error("SplitTestSource without val must use the datasets as they are")
	}
	if train.Field("label").Classes != 10 || test.Field("label").Classes != 10 {
		t.Errorf("classes %d / %d, want both 10", train.Field("label").Classes, test.Field("label").Classes)
	}
	s, err = SplitTestSource(train, test, 0.4, 3)
	if err != nil || s.Train.N != 3 || s.Val.N != 2 {
		t.Fatalf("val 0.4 of 5: %v", err)
	}
	csv, err := ReadCSV("testdata/small.csv", CSVOptions{Label: "label"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = SplitTestSource(train, csv, 0, 0)
	if err == nil || err.Error() != "testdata/small.csv: field x f32[4] does not match testdata/tiny-images-idx3-ubyte.gz's image f32[1, 3, 4]" {
		t.Errorf("mismatched test source: %v", err)
	}
}

func TestPreprocess(t *testing.T) {
	mk := func(name string, x []float32, k int) *Dataset {
		return &Dataset{Source: name, N: len(x) / k, Fields: []*Field{
			{Name: "x", DType: F32, Shape: []int{k}, F32: x},
			{Name: "y", DType: I32, Role: Label, Classes: 2, I32: make([]int32, len(x)/k)},
		}}
	}
	// Feature 0 varies, feature 1 is constant on train.
	train := mk("train", []float32{1, 5, 3, 5, 5, 5, 7, 5}, 2)
	test := mk("test", []float32{9, 6, -1, 5}, 2)
	s := &Splits{Train: train, Test: test}
	tr, err := s.Preprocess(Preprocess{Scale: 0.5, Normalize: Standard})
	if err != nil {
		t.Fatal(err)
	}
	// Train feature 0 (scaled): 0.5 1.5 2.5 3.5, mean 2, std √1.25.
	sd := math.Sqrt(1.25)
	want := func(x float64) float32 { return float32((0.5*x - 2) / sd) }
	wantTrain := []float32{want(1), 0, want(3), 0, want(5), 0, want(7), 0}
	wantTest := []float32{want(9), 0.5, want(-1), 0}
	if d := cmp.Diff(wantTrain, train.F32x(), approx); d != "" {
		t.Errorf("train (-want +got):\n%s", d)
	}
	if d := cmp.Diff(wantTest, test.F32x(), approx); d != "" {
		t.Errorf("test, transformed with train's statistics (-want +got):\n%s", d)
	}
	if len(tr.Fields) != 1 || tr.Fields[0].Name != "x" {
		t.Errorf("transform %+v, want one for x", tr)
	}

	train = mk("train", []float32{1, 5, 3, 5}, 2)
	test = mk("test", []float32{5, 7}, 2)
	s = &Splits{Train: train, Test: test}
	if _, err := s.Preprocess(Preprocess{Normalize: MinMax}); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]float32{0, 0, 1, 0}, train.F32x(), approx); d != "" {
		t.Errorf("minmax train (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]float32{2, 2}, test.F32x(), approx); d != "" {
		t.Errorf("minmax test (-want +got):\n%s", d)
	}

	// digits: scale 1/16 maps onto [0, 1]; standard gives mean 0, std 1
	// on train for every non-constant pixel.
	d, _ := Builtin("digits")
	sp, _ := SplitFractions(d, 0.8, 0, 0.2, 7)
	if _, err := sp.Preprocess(Preprocess{Scale: 1.0 / 16}); err != nil {
		t.Fatal(err)
	}
	if hi := slices.Max(sp.Test.Field("image").Values()); hi != 1 {
		t.Errorf("scaled max %v, want 1", hi)
	}
	sp, _ = SplitFractions(d, 0.8, 0, 0.2, 7)
	if _, err := sp.Preprocess(Preprocess{Normalize: Standard}); err != nil {
		t.Fatal(err)
	}
	x := sp.Train.Field("image").Values()
	for j := range 64 {
		var m, v float64
		for i := range sp.Train.N {
			m += float64(x[i*64+j])
		}
		m /= float64(sp.Train.N)
		for i := range sp.Train.N {
			v += (float64(x[i*64+j]) - m) * (float64(x[i*64+j]) - m)
		}
		v /= float64(sp.Train.N)
		if math.Abs(m) > 1e-5 || v != 0 && math.Abs(v-1) > 1e-5 {
			t.Errorf("pixel %d: train mean %v variance %v after standard", j, m, v)
		}
	}

	if _, err := Fit(train, Preprocess{Scale: 2, Fields: []string{"y"}}); err == nil || err.Error() != "train: field y is i32; only f32 fields can be scaled or normalized" {
		t.Errorf("scaling a label: %v", err)
	}
	if _, err := Fit(train, Preprocess{Fields: []string{"z"}}); err == nil {
		t.Error("preprocessing a missing field succeeded")
	}
	if n, err := ParseNorm("minmax"); n != MinMax || err != nil {
		t.Errorf("ParseNorm(minmax) = %v, %v", n, err)
	}
	if _, err := ParseNorm("zscore"); err == nil {
		t.Error("ParseNorm(zscore) succeeded")
	}
}

// F32x returns field x's values (test helper).
func (d *Dataset) F32x() []float32 { return d.Field("x").F32 }

var approx = cmp.Comparer(func(a, b float32) bool { return math.Abs(float64(a-b)) <= 1e-6 })

func TestValidate(t *testing.T) {
	d := &Dataset{Source: "s", N: 2, Fields: []*Field{
		{Name: "y", DType: I32, Role: Label, Classes: 3, I32: []int32{0, 3}},
	}}
	if err := d.Validate(); err == nil || err.Error() != "s: record 2: y 3 out of range [0, 3)" {
		t.Errorf("Validate: %v", err)
	}
	d.Fields[0].I32 = []int32{0}
	if err := d.Validate(); err == nil || err.Error() != "s: field y i32: 1 values, want 2" {
		t.Errorf("Validate: %v", err)
	}
}
