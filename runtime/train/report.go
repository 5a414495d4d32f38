package train

// This file implements progress reports: a one-line progress bar on a
// terminal, and one JSON object per epoch otherwise.

import (
	"fmt"
	"io"
	"math"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"
)

// A reporter writes the progress of one run.
type reporter struct {
	w     io.Writer
	bar   bool // a terminal: progress bar and human epoch lines
	train string
	last  time.Time // last bar update
	shown bool      // a bar is on the line
}

func newReporter(w io.Writer, jsonLines bool, train string) *reporter {
	return &reporter{w: w, bar: !jsonLines && isTerminal(w), train: train}
}

// isTerminal reports whether w is a character device.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// progress redraws the bar after batch b (1-based) of nb of epoch e
// (0-based) of end, at most ten times a second.
func (r *reporter) progress(e, end, b, nb int, loss, samplesPerSec float64, epochStart time.Time) {
	if !r.bar {
		return
	}
	now := time.Now()
	if b < nb && now.Sub(r.last) < 100*time.Millisecond {
		return
	}
	r.last = now
	perBatch := now.Sub(epochStart).Seconds() / float64(b)
	eta := time.Duration(perBatch * float64(nb-b+(end-e-1)*nb) * float64(time.Second))
	const width = 24
	fill := width * b / nb
	bar := strings.Repeat("=", fill) + strings.Repeat(" ", width-fill)
	if fill < width {
		bar = bar[:fill] + ">" + bar[fill+1:]
	}
	fmt.Fprintf(r.w, "\r\x1b[K%s epoch %d/%d [%s] %d/%d loss %.4f %.0f samples/s ETA %s",
		r.train, e+1, end, bar, b, nb, loss, samplesPerSec, clock(eta))
	r.shown = true
}

// clear removes the bar from the line.
func (r *reporter) clear() {
	if r.shown {
		fmt.Fprint(r.w, "\r\x1b[K")
		r.shown = false
	}
}

func clock(d time.Duration) string {
	s := int(d.Round(time.Second) / time.Second)
	if s >= 3600 {
		return fmt.Sprintf("%d:%02d:%02d", s/3600, s/60%60, s%60)
	}
	return fmt.Sprintf("%d:%02d", s/60, s%60)
}

// epoch reports a finished epoch: a line replacing the bar on a
// terminal, a JSON object otherwise.
func (r *reporter) epoch(st EpochStats, phases bool) {
	if r.bar {
		r.clear()
		var b strings.Builder
		fmt.Fprintf(&b, "%s", st.Train)
		if phases {
			fmt.Fprintf(&b, " [%s]", st.Phase)
		}
		fmt.Fprintf(&b, " epoch %d/%d  loss %.4f", st.Epoch, st.Epochs, st.Loss)
		for _, k := range metricKeys(st.Test) {
			v := st.Test[k]
			if k == "loss" {
				fmt.Fprintf(&b, "  test_loss %.4f", v)
			} else {
				fmt.Fprintf(&b, "  %s %.2f%%", k, 100*v)
			}
		}
		fmt.Fprintf(&b, "  %.0f samples/s  %.1fs\n", st.SamplesPerSec, st.Seconds)
		io.WriteString(r.w, b.String())
		return
	}
	r.w.Write(append(EpochJSON(st), '\n'))
}

// metricKeys orders metrics: loss first, then by name.
func metricKeys(m map[string]float64) []string {
	var keys []string
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if (keys[i] == "loss") != (keys[j] == "loss") {
			return keys[i] == "loss"
		}
		return keys[i] < keys[j]
	})
	return keys
}

// EpochJSON renders an epoch report as one JSON object with its keys in
// a fixed order: train, phase, epoch, epochs, step, loss, test_loss, the
// test metrics by name, samples_per_sec, seconds. A value that is not a
// finite number is null.
func EpochJSON(st EpochStats) []byte {
	var b strings.Builder
	b.WriteString("{")
	n := 0
	kv := func(k, v string) {
		if n > 0 {
			b.WriteString(",")
		}
		n++
		b.WriteString(strconv.Quote(k) + ":" + v)
	}
	num := func(x float64) string {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return "null"
		}
		return strconv.FormatFloat(x, 'g', 8, 64)
	}
	kv("train", strconv.Quote(st.Train))
	kv("phase", strconv.Quote(st.Phase))
	kv("epoch", strconv.Itoa(st.Epoch))
	kv("epochs", strconv.Itoa(st.Epochs))
	kv("step", strconv.Itoa(st.Step))
	kv("loss", num(st.Loss))
	for _, k := range metricKeys(st.Test) {
		name := k
		if k == "loss" {
			name = "test_loss"
		}
		kv(name, num(st.Test[k]))
	}
	kv("samples_per_sec", num(math.Round(st.SamplesPerSec)))
	kv("seconds", num(math.Round(st.Seconds*1000)/1000))
	b.WriteString("}")
	return []byte(b.String())
}
