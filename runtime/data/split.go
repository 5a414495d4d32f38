package data

import (
	"fmt"
	"math"
	"math/bits"
	"math/rand/v2"
	"slices"
)

// Random streams. Every random choice in this package draws from a
// math/rand/v2 PCG source (PCG-DXSM, whose output Go specifies) created as
// rand.NewPCG(seed, stream): the user's seed and a constant that tells the
// uses apart.
const (
	// StreamSplit draws the permutation that assigns samples to splits.
	StreamSplit uint64 = 0x73706c6974 // "split"
	// StreamEpoch is xored with the epoch number to draw that epoch's
	// batch order.
	StreamEpoch uint64 = 0x9e3779b97f4a7c15
)

// uniform returns a uniform integer in [0, n), n > 0, by Lemire's
// multiply-and-reject method on src.Uint64.
func uniform(src *rand.PCG, n uint64) uint64 {
	hi, lo := bits.Mul64(src.Uint64(), n)
	if lo < n {
		thresh := -n % n
		for lo < thresh {
			hi, lo = bits.Mul64(src.Uint64(), n)
		}
	}
	return hi
}

// Permute fills p with a permutation of 0..len(p)-1 drawn from
// rand.NewPCG(seed, stream): the identity, then Fisher–Yates from the
// end, swapping p[i] with p[j], j uniform in [0, i] (see uniform). The
// result depends only on seed, stream and len(p); it does not rely on
// math/rand's Shuffle or Perm, whose algorithms Go may change.
func Permute(p []int, seed, stream uint64) {
	for i := range p {
		p[i] = i
	}
	src := rand.NewPCG(seed, stream)
	for i := len(p) - 1; i > 0; i-- {
		j := int(uniform(src, uint64(i+1)))
		p[i], p[j] = p[j], p[i]
	}
}

// Splits holds a dataset's train, optional validation and test parts.
type Splits struct {
	Train, Val, Test *Dataset
}

// SplitSizes reports how SplitFractions divides n samples, following
// scikit-learn's train_test_split: test = ⌈n·test⌉, val = ⌈n·val⌉ and,
// when the fractions sum to 1, train gets the rest, otherwise ⌊n·train⌋
// (the remaining samples are left out). A product within 1e-6 of an
// integer counts as that integer, so 0.1·30 is 3. For 1,797 digits at
// 0.8/0.2 this gives 1,437 / 360.
func SplitSizes(n int, train, val, test float64) (nTrain, nVal, nTest int, err error) {
	for _, f := range []float64{train, val, test} {
		if !(f >= 0 && f <= 1) {
			return 0, 0, 0, fmt.Errorf("split fraction %v not in [0, 1]", f)
		}
	}
	sum := train + val + test
	if sum > 1+1e-9 {
		return 0, 0, 0, fmt.Errorf("split fractions %v + %v + %v sum to more than 1", train, val, test)
	}
	const eps = 1e-6
	nf := float64(n)
	nTest = int(math.Ceil(nf*test - eps))
	nVal = int(math.Ceil(nf*val - eps))
	if math.Abs(sum-1) <= 1e-9 {
		nTrain = n - nTest - nVal
	} else {
		nTrain = int(math.Floor(nf*train + eps))
	}
	switch {
	case nTrain <= 0:
		return 0, 0, 0, fmt.Errorf("split %v/%v/%v of %d samples leaves no training samples", train, val, test, n)
	case test > 0 && nTest == 0, val > 0 && nVal == 0:
		return 0, 0, 0, fmt.Errorf("split %v/%v/%v of %d samples leaves an empty part", train, val, test, n)
	case nTrain+nVal+nTest > n:
		return 0, 0, 0, fmt.Errorf("split %v/%v/%v needs %d samples, have %d", train, val, test, nTrain+nVal+nTest, n)
	}
	return nTrain, nVal, nTest, nil
}

// SplitFractions shuffles d's samples with Permute(seed, StreamSplit) and
// cuts the permutation into train, val and test, in that order, with
// sizes from SplitSizes. val may be 0 (Val is then nil). The parts are
// copies; d is not changed. The same seed gives the same parts.
func SplitFractions(d *Dataset, train, val, test float64, seed uint64) (*Splits, error) {
	nTrain, nVal, nTest, err := SplitSizes(d.N, train, val, test)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", d.Source, err)
	}
	p := make([]int, d.N)
	Permute(p, seed, StreamSplit)
	s := &Splits{Train: d.Subset(p[:nTrain])}
	if nVal > 0 {
		s.Val = d.Subset(p[nTrain : nTrain+nVal])
	}
	if nTest > 0 {
		s.Test = d.Subset(p[nTrain+nVal : nTrain+nVal+nTest])
	}
	return s, nil
}

// SplitTestSource uses a separate test dataset (`test = idx(...)`). When
// val > 0 a fraction val of train becomes the validation part, drawn as
// in SplitFractions; otherwise train is used whole, in its order. The two
// datasets must have the same fields (names, dtypes, shapes, roles); a
// label's class count becomes the larger of the two. train and test are
// used, not copied.
func SplitTestSource(train, test *Dataset, val float64, seed uint64) (*Splits, error) {
	if err := compatible(train, test); err != nil {
		return nil, err
	}
	for i, f := range train.Fields {
		g := test.Fields[i]
		if f.Classes != g.Classes {
			c := max(f.Classes, g.Classes)
			f.Classes, g.Classes = c, c
		}
	}
	s := &Splits{Train: train, Test: test}
	if val > 0 {
		nTrain, nVal, _, err := SplitSizes(train.N, 1-val, val, 0)
		if err != nil {
			return nil, fmt.Errorf("%s: %v", train.Source, err)
		}
		p := make([]int, train.N)
		Permute(p, seed, StreamSplit)
		s.Train = train.Subset(p[:nTrain])
		s.Val = train.Subset(p[nTrain : nTrain+nVal])
	}
	return s, nil
}

func compatible(a, b *Dataset) error {
	if len(a.Fields) != len(b.Fields) {
		return fmt.Errorf("%s has %d fields, but %s has %d", b.Source, len(b.Fields), a.Source, len(a.Fields))
	}
	for i, f := range a.Fields {
		g := b.Fields[i]
		if f.Name != g.Name || f.DType != g.DType || f.Role != g.Role || !slices.Equal(f.Shape, g.Shape) {
			return fmt.Errorf("%s: field %s %s does not match %s's %s %s", b.Source, g.Name, g.Type(), a.Source, f.Name, f.Type())
		}
	}
	return nil
}

// All returns the non-nil parts in the order train, val, test.
func (s *Splits) All() []*Dataset {
	var out []*Dataset
	for _, d := range []*Dataset{s.Train, s.Val, s.Test} {
		if d != nil {
			out = append(out, d)
		}
	}
	return out
}
