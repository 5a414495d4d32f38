package train

import (
	"context"
	"math"
	"math/rand/v2"
	"reflect"
	"testing"
)

// TestSkipgramLearnsCooccurrence trains SGNS on sentences drawn from two
// topics that never share a sentence: words of the same topic must end
// closer (cosine) than words of different topics, and the loss must
// fall. The same seed gives the same vectors.
func TestSkipgramLearnsCooccurrence(t *testing.T) {
	const rows = 4 + 12 // special tokens, then topic A = 4..9, topic B = 10..15
	rng := rand.New(rand.NewPCG(3, 4))
	var sents [][]int32
	for range 400 {
		base := int32(4)
		if rng.IntN(2) == 1 {
			base = 10
		}
		s := make([]int32, 8)
		for i := range s {
			s[i] = base + int32(rng.IntN(6))
		}
		sents = append(sents, s)
	}
	sg := skipgram{dim: 8, window: 3, negatives: 4, subsample: 0, lr: 0.05}
	var losses []float64
	train := func() []float32 {
		losses = losses[:0]
		v, _, err := sg.train(context.Background(), sents, rows, 5, 5, 7, func(s epochStats) { losses = append(losses, s.loss) })
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	v := train()
	if !(losses[len(losses)-1] < losses[0]) {
		t.Errorf("loss did not fall: %v", losses)
	}
	cos := func(a, b int) float64 {
		x, y := v[a*8:(a+1)*8], v[b*8:(b+1)*8]
		var d, nx, ny float64
		for i := range x {
			d += float64(x[i] * y[i])
			nx += float64(x[i] * x[i])
			ny += float64(y[i] * y[i])
		}
		return d / math.Sqrt(nx*ny)
	}
	var same, cross float64
	var ns, nc int
	for a := 4; a < rows; a++ {
		for b := a + 1; b < rows; b++ {
			if (a < 10) == (b < 10) {
				same += cos(a, b)
				ns++
			} else {
				cross += cos(a, b)
				nc++
			}
		}
	}
	same, cross = same/float64(ns), cross/float64(nc)
	if !(same > cross+0.5) {
		t.Errorf("mean cosine within topics %.3f, across %.3f: want within > across + 0.5", same, cross)
	}
	if w := train(); !reflect.DeepEqual(v, w) {
		t.Error("the same seed gave different vectors")
	}
}

func TestSkipgramNoWords(t *testing.T) {
	sg := skipgram{dim: 4, window: 2, negatives: 2, lr: 0.025}
	if _, _, err := sg.train(context.Background(), [][]int32{{}, {}}, 8, 1, 1, 1, func(epochStats) {}); err == nil {
		t.Error("no error for a corpus without words")
	}
}
