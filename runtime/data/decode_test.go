package data

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"

	"github.com/encc-lang/encc/internal/cputime"
)

// withPortable runs f with the portable decoders, then with the AVX2
// kernels where the CPU has them.
func withPortable(t *testing.T, f func(t *testing.T)) {
	saved := hasDecodeAVX2
	defer func() { hasDecodeAVX2 = saved }()
	for _, avx := range []bool{false, true} {
		if avx && !saved {
			continue
		}
		hasDecodeAVX2 = avx
		t.Run(fmt.Sprintf("avx2=%v", avx), f)
	}
}

// TestDecodeBytes checks the decoders against FieldTransform.ApplyTo on
// the bytes held as floats, bit for bit, at every length around the
// vector width.
func TestDecodeBytes(t *testing.T) {
	withPortable(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(1, 2))
		for n := 1; n <= 40; n++ {
			src := make([]byte, n)
			for i := range src {
				src[i] = byte(r.IntN(256))
			}
			copy(src, []byte{0, 255})
			ft := &FieldTransform{Mul: make([]float64, n), Add: make([]float64, n)}
			for j := range n {
				ft.Mul[j], ft.Add[j] = r.NormFloat64()/255, r.NormFloat64()
			}
			if n > 3 {
				ft.Mul[3], ft.Add[3] = 1/255.0, 0
			}
			want := make([]float32, n)
			for i, b := range src {
				want[i] = float32(b)
			}
			got := make([]float32, n)
			convertBytes(got, src)
			if !slices.Equal(got, want) {
				t.Fatalf("n %d: convertBytes %v, want %v", n, got, want)
			}
			ft.ApplyTo(want)
			clear(got)
			decodeBytes(got, src, ft.Mul, ft.Add)
			for i := range want {
				if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
					t.Fatalf("n %d value %d (byte %d): decoded %v, ApplyTo %v", n, i, src[i], got[i], want[i])
				}
			}
		}
	})
}

// TestScaler checks the float32 decoding of uniform maps: where
// newScaler accepts a map, rows of every length decode as decodeBytes
// decodes them, bit for bit; the images' 1/255 is accepted on a CPU with
// AVX2 and FMA; per-feature maps are not.
func TestScaler(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	accepted := 0
	for _, c := range [][2]float64{{1 / 255.0, 0}, {1 / 256.0, 0}, {2 / 255.0, -1}, {0.1, 0}, {1 / 3.0, 0.5}, {0.3, 0}, {1, 0}, {-1 / 127.5, 1}, {1e-3, -0.1307 / 0.3081}} {
		for _, n := range []int{1, 7, 8, 9, 784, 789} {
			ft := &FieldTransform{Mul: slices.Repeat([]float64{c[0]}, n), Add: slices.Repeat([]float64{c[1]}, n)}
			s, ok := newScaler(ft)
			if !ok {
				continue
			}
			accepted++
			src := make([]byte, n)
			for i := range src {
				src[i] = byte(r.IntN(256))
			}
			got, want := make([]float32, n), make([]float32, n)
			s.decode(got, src)
			decodeBytes(want, src, ft.Mul, ft.Add)
			if !equalBits(got, want) {
				t.Fatalf("map %v, n %d: the scaler gives %v, decodeBytes %v", c, n, got, want)
			}
		}
	}
	_, ok := newScaler(&FieldTransform{Mul: slices.Repeat([]float64{1 / 255.0}, 8), Add: make([]float64, 8)})
	if ok != hasDecodeAVX2 {
		t.Errorf("newScaler(1/255): %v, want %v (AVX2 and FMA)", ok, hasDecodeAVX2)
	}
	if _, ok := newScaler(&FieldTransform{Mul: []float64{1, 2}, Add: []float64{0, 0}}); ok {
		t.Error("newScaler accepts a per-feature map")
	}
	t.Logf("%d of the maps and lengths accepted", accepted)
}

// bytesDataset returns a dataset of n samples with a field "x" f32[k]
// held as bytes and a label, and the same dataset with "x" held as
// floats.
func bytesDataset(n, k int) (u8, f32 *Dataset) {
	r := rand.New(rand.NewPCG(3, 4))
	x := make([]byte, n*k)
	for i := range x {
		if r.IntN(3) > 0 {
			x[i] = byte(r.IntN(256))
		}
	}
	y := make([]int32, n)
	for i := range y {
		y[i] = int32(r.IntN(10))
	}
	u8 = &Dataset{Source: "bytes", N: n, Fields: []*Field{
		{Name: "x", DType: F32, Role: Feature, Shape: []int{1, k}, U8: x},
		{Name: "y", DType: I32, Role: Label, Classes: 10, I32: y},
	}}
	f32 = u8.Clone()
	f32.Fields[0].Materialize()
	return u8, f32
}

// TestBytesFieldSameBatches checks that a field held as bytes gives the
// batches, values and statistics that the same field held as floats
// gives, bit for bit, through a split, each preprocessing and the
// parallel gather.
func TestBytesFieldSameBatches(t *testing.T) {
	withPortable(t, func(t *testing.T) {
		for _, pre := range []Preprocess{{}, {Scale: 1 / 255.0}, {Scale: 0.3}, {Scale: 1 / 255.0, Normalize: Standard}, {Normalize: MinMax}} {
			u8, f32 := bytesDataset(203, 37)
			if u8.Fields[0].F32 != nil || f32.Fields[0].U8 != nil {
				t.Fatal("bytesDataset: wrong storage")
			}
			for _, d := range []*Dataset{u8, f32} {
				if err := d.Validate(); err != nil {
					t.Fatal(err)
				}
			}
			su, err := SplitFractions(u8, 0.7, 0.1, 0.2, 5)
			if err != nil {
				t.Fatal(err)
			}
			sf, _ := SplitFractions(f32, 0.7, 0.1, 0.2, 5)
			tu, err := su.Preprocess(pre)
			if err != nil {
				t.Fatal(err)
			}
			tf, _ := sf.Preprocess(pre)
			if fmt.Sprint(tu) != fmt.Sprint(tf) {
				t.Fatalf("%+v: fitted %v from bytes, %v from floats", pre, tu, tf)
			}
			if su.Train.Fields[0].U8 == nil {
				t.Fatalf("%+v: the train split's bytes were decoded", pre)
			}
			if x := su.Train.Fields[0]; pre.Scale == 1/255.0 && pre.Normalize == NoNorm && (x.scale.of == x.Decode) != hasDecodeAVX2 {
				t.Fatalf("%+v: the scale's fast form is %v, want %v", pre, x.scale.of == x.Decode, hasDecodeAVX2)
			}
			parts := [][2]*Dataset{{su.Train, sf.Train}, {su.Val, sf.Val}, {su.Test, sf.Test}}
			for pi, p := range parts {
				if !equalBits(p[0].Fields[0].Values(), p[1].Fields[0].F32) {
					t.Fatalf("%+v part %d: Values differ from the floats", pre, pi)
				}
				inline := func(n int, r Ranger) { r.Range(0, n/3); r.Range(n/3, n) }
				bu, _ := NewBatcher(p[0], 16, BatchOptions{Shuffle: true, Seed: 2, Parallel: inline})
				bf, _ := NewBatcher(p[1], 16, BatchOptions{Shuffle: true, Seed: 2})
				gu, gf := bu.NewBatch(), bf.NewBatch()
				for e := range 2 {
					bu.Reset(e, 0)
					bf.Reset(e, 0)
					for bf.Next(gf) {
						if !bu.Next(gu) || gu.N != gf.N || !equalBits(gu.F32[0][:gu.N*37], gf.F32[0][:gf.N*37]) ||
							!slices.Equal(gu.I32[1][:gu.N], gf.I32[1][:gf.N]) {
							t.Fatalf("%+v part %d epoch %d: the batches differ", pre, pi, e)
						}
					}
				}
				if s := p[0].Fields[0].Samples(3, 5); !equalBits(s, p[1].Fields[0].F32[3*37:5*37]) {
					t.Fatalf("%+v part %d: Samples(3, 5) differ", pre, pi)
				}
			}
		}
	})
}

// TestBytesBatcherNoAlloc checks that gathering a field held as bytes,
// through the float64 map, the scaler and no map, allocates nothing.
func TestBytesBatcherNoAlloc(t *testing.T) {
	for _, pre := range []*Preprocess{nil, {Scale: 1 / 255.0}, {Scale: 1 / 255.0, Normalize: Standard}} {
		d, _ := bytesDataset(300, 37)
		if pre != nil {
			tr, err := Fit(d, *pre)
			if err != nil {
				t.Fatal(err)
			}
			if err := tr.Apply(d); err != nil {
				t.Fatal(err)
			}
		}
		if allocs := nextAllocs(d); allocs != 0 {
			t.Errorf("%+v: Next allocates %v times per batch", pre, allocs)
		}
	}
}

// TestBytesFieldTwoTransforms checks that a second transform of a field
// held as bytes rounds between the two, as on floats.
func TestBytesFieldTwoTransforms(t *testing.T) {
	u8, f32 := bytesDataset(50, 9)
	for _, s := range []float64{1 / 255.0, 3.7} {
		tr, err := Fit(u8, Preprocess{Scale: s, Normalize: Standard})
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range []*Dataset{u8, f32} {
			if err := tr.Apply(d); err != nil {
				t.Fatal(err)
			}
		}
	}
	if u8.Fields[0].U8 != nil || !equalBits(u8.Fields[0].F32, f32.Fields[0].F32) {
		t.Fatal("two transforms of bytes differ from two of floats")
	}
}

func TestBytesFieldValidate(t *testing.T) {
	u8, _ := bytesDataset(4, 3)
	x := u8.Fields[0]
	x.U8 = x.U8[:11]
	if err := u8.Validate(); err == nil || err.Error() != "bytes: field x f32[1, 3]: 11 values, want 12" {
		t.Errorf("short bytes: %v", err)
	}
	u8, _ = bytesDataset(4, 3)
	u8.Fields[0].Decode = &FieldTransform{Mul: []float64{1}, Add: []float64{0}}
	if err := u8.Validate(); err == nil {
		t.Error("a decoding map of the wrong size is valid")
	}
	u8, _ = bytesDataset(4, 3)
	u8.Fields[1].U8 = make([]byte, 4)
	if err := u8.Validate(); err == nil {
		t.Error("an i32 field with bytes is valid")
	}
}

func equalBits(a, b []float32) bool {
	return slices.EqualFunc(a, b, func(x, y float32) bool { return math.Float32bits(x) == math.Float32bits(y) })
}

// BenchmarkBatcherNext gathers shuffled batches of 64 from 60,000
// samples of 784 values (MNIST's train set) held as floats and as bytes
// with a scale: the run's per-step copy, from memory the cache does not
// hold. cpu-ns/op is the thread's CPU time per batch (the wall time is
// what else runs on the machine).
func BenchmarkBatcherNext(b *testing.B) {
	const n, k = 60000, 784
	x := make([]byte, n*k)
	for i := range x {
		x[i] = byte(i * 7)
	}
	for _, kind := range []string{"f32", "u8"} {
		b.Run(kind, func(b *testing.B) {
			d := &Dataset{Source: "bench", N: n, Fields: []*Field{
				{Name: "x", DType: F32, Role: Feature, Shape: []int{k}, U8: x},
				{Name: "y", DType: I32, Role: Label, Classes: 1, I32: make([]int32, n)},
			}}
			tr, err := Fit(d, Preprocess{Scale: 1 / 255.0})
			if err != nil {
				b.Fatal(err)
			}
			if err := tr.Apply(d); err != nil {
				b.Fatal(err)
			}
			if kind == "f32" {
				d.Fields[0].Materialize()
			}
			bt, _ := NewBatcher(d, 64, BatchOptions{Shuffle: true, Seed: 1})
			batch := bt.NewBatch()
			b.SetBytes(64 * k * 4)
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			b.ResetTimer()
			t0 := cputime.Thread()
			for range b.N {
				if !bt.Next(batch) {
					bt.Reset(bt.Epoch()+1, 0)
				}
			}
			b.ReportMetric(float64(cputime.Thread()-t0)/float64(b.N), "cpu-ns/op")
		})
	}
}
