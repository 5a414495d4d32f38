package train

// This file implements the metrics of a train: accuracy, top_k, macro
// F1 and the mean loss, accumulated batch by batch.

import (
	"fmt"
	"math"

	"github.com/encc-lang/encc/compiler"
)

// A metric is one entry of a train's metrics list.
type metric struct {
	Name string // report key: "accuracy", "top5", "f1", "loss"
	Kind string // catalog name: accuracy, top_k, f1, loss
	K    int    // top_k's k
}

func metricsOf(tr *compiler.Train) []metric {
	var out []metric
	for _, cv := range tr.Metrics {
		m := metric{Name: cv.E.Name, Kind: cv.E.Name}
		if m.Kind == "top_k" {
			m.K = argI(cv, "k")
			m.Name = fmt.Sprintf("top%d", m.K)
		}
		out = append(out, m)
	}
	return out
}

// needsLabels reports whether some metric compares predictions to labels.
func needsLabels(ms []metric) bool {
	for _, m := range ms {
		if m.Kind != "loss" {
			return true
		}
	}
	return false
}

// A meter accumulates the evaluation of a split: the loss weighted by
// batch size and, for classification, a confusion matrix and top-k
// counts.
type meter struct {
	classes int
	n       int
	lossSum float64
	conf    []int64 // conf[label*classes+pred]
	topK    map[int]int
	ks      []int
}

func newMeter(ms []metric, classes int) *meter {
	m := &meter{classes: classes, topK: map[int]int{}}
	if classes > 0 {
		m.conf = make([]int64, classes*classes)
	}
	for _, x := range ms {
		if x.Kind == "top_k" {
			m.ks = append(m.ks, x.K)
		}
	}
	return m
}

// add records a batch of n samples: its mean loss and, when labels is
// not nil, the [n, classes] logits and their labels.
func (m *meter) add(n int, loss float32, pred []float32, labels []int32) {
	m.n += n
	m.lossSum += float64(loss) * float64(n)
	if labels == nil || m.classes == 0 {
		return
	}
	c := m.classes
	for i := 0; i < n; i++ {
		row := pred[i*c : (i+1)*c]
		best := 0
		for j, v := range row {
			if v > row[best] {
				best = j
			}
		}
		y := int(labels[i])
		if y < 0 || y >= c {
			continue
		}
		m.conf[y*c+best]++
		if len(m.ks) > 0 {
			// The label is in the top k when fewer than k logits beat it.
			above := 0
			for _, v := range row {
				if v > row[y] {
					above++
				}
			}
			for _, k := range m.ks {
				if above < k {
					m.topK[k]++
				}
			}
		}
	}
}

// values returns the metrics by report name; "loss" is always there.
func (m *meter) values(ms []metric) map[string]float64 {
	out := map[string]float64{"loss": m.meanLoss()}
	for _, x := range ms {
		switch x.Kind {
		case "accuracy":
			out[x.Name] = m.accuracy()
		case "top_k":
			out[x.Name] = ratio(m.topK[x.K], m.n)
		case "f1":
			out[x.Name] = m.macroF1()
		}
	}
	return out
}

func (m *meter) meanLoss() float64 {
	if m.n == 0 {
		return math.NaN()
	}
	return m.lossSum / float64(m.n)
}

func ratio(a, b int) float64 {
	if b == 0 {
		return math.NaN()
	}
	return float64(a) / float64(b)
}

func (m *meter) accuracy() float64 {
	right := 0
	for k := 0; k < m.classes; k++ {
		right += int(m.conf[k*m.classes+k])
	}
	return ratio(right, m.n)
}

// macroF1 is scikit-learn's f1_score(average="macro"): the mean over the
// classes present in the labels or the predictions of 2TP/(2TP+FP+FN).
func (m *meter) macroF1() float64 {
	c := m.classes
	sum, classes := 0.0, 0
	for k := 0; k < c; k++ {
		var tp, fp, fn int64
		tp = m.conf[k*c+k]
		for j := 0; j < c; j++ {
			if j != k {
				fn += m.conf[k*c+j]
				fp += m.conf[j*c+k]
			}
		}
		if tp+fp+fn == 0 {
			continue
		}
		classes++
		sum += 2 * float64(tp) / float64(2*tp+fp+fn)
	}
	if classes == 0 {
		return math.NaN()
	}
	return sum / float64(classes)
}
