package train

// This file implements WritePlot: training curves as a PNG, drawn with
// image/png and a minimal line drawer (gonum/plot is not a dependency).

import (
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"sort"
)

// Curve colors: left panel train loss and test loss, right panel the
// test metrics in name order.
var (
	colorTrainLoss = color.RGBA{31, 119, 180, 255} // blue
	colorTestLoss  = color.RGBA{255, 127, 14, 255} // orange
	metricColors   = []color.RGBA{{44, 160, 44, 255}, {214, 39, 40, 255}, {148, 103, 189, 255}, {140, 86, 75, 255}}
)

// WritePlot writes the curves of a run to a PNG file: on the left the
// train loss (blue) and test loss (orange) per epoch, on a scale from
// 0 to the largest loss; on the right the test metrics other than loss
// (accuracy green, then red, purple, brown in name order) on [0, 1].
// Axis ends are labelled with their values.
func WritePlot(path string, history []EpochStats) error {
	if len(history) == 0 {
		return fmt.Errorf("no epochs to plot")
	}
	const w, h, pad = 900, 360, 36
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for i := range img.Pix {
		img.Pix[i] = 255
	}
	n := len(history)
	var train, test []float64
	var names []string
	metrics := map[string][]float64{}
	for _, st := range history {
		train = append(train, st.Loss)
		test = append(test, valueOr(st.Test, "loss"))
		for k, v := range st.Test {
			if k == "loss" {
				continue
			}
			if _, ok := metrics[k]; !ok {
				names = append(names, k)
			}
			metrics[k] = append(metrics[k], v)
		}
	}
	sort.Strings(names)
	top := 0.0
	for _, v := range append(append([]float64(nil), train...), test...) {
		if !math.IsNaN(v) && !math.IsInf(v, 0) {
			top = math.Max(top, v)
		}
	}
	if top == 0 {
		top = 1
	}
	left := image.Rect(pad, pad/2, w/2-pad/2, h-pad)
	right := image.Rect(w/2+pad, pad/2, w-pad/2, h-pad)
	for _, r := range []image.Rectangle{left, right} {
		axes(img, r)
		label(img, r.Min.X, r.Max.Y+6, "1")
		label(img, r.Max.X-4*len(fmt.Sprint(history[n-1].Epoch)), r.Max.Y+6, fmt.Sprint(history[n-1].Epoch))
		label(img, r.Min.X-4*3-4, r.Max.Y-5, "0")
	}
	label(img, 2, left.Min.Y, fmt.Sprintf("%.3g", top))
	label(img, right.Min.X-4*1-4, right.Min.Y, "1")
	curve(img, left, train, top, colorTrainLoss)
	curve(img, left, test, top, colorTestLoss)
	for i, k := range names {
		curve(img, right, metrics[k], 1, metricColors[i%len(metricColors)])
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := png.Encode(f, img); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func valueOr(m map[string]float64, k string) float64 {
	if v, ok := m[k]; ok {
		return v
	}
	return math.NaN()
}

var axisColor = color.RGBA{80, 80, 80, 255}

func axes(img *image.RGBA, r image.Rectangle) {
	line(img, r.Min.X, r.Max.Y, r.Max.X, r.Max.Y, axisColor)
	line(img, r.Min.X, r.Min.Y, r.Min.X, r.Max.Y, axisColor)
}

// curve plots ys (one per epoch) in r with y from 0 to top, skipping
// values that are not finite.
func curve(img *image.RGBA, r image.Rectangle, ys []float64, top float64, c color.RGBA) {
	px := func(i int) int {
		if len(ys) == 1 {
			return r.Min.X + r.Dx()/2
		}
		return r.Min.X + i*r.Dx()/(len(ys)-1)
	}
	py := func(y float64) int { return r.Max.Y - int(math.Round(math.Min(math.Max(y/top, 0), 1)*float64(r.Dy()))) }
	prev := -1
	for i, y := range ys {
		if math.IsNaN(y) || math.IsInf(y, 0) {
			prev = -1
			continue
		}
		x := px(i)
		dot(img, x, py(y), c)
		if prev >= 0 {
			for d := -1; d <= 1; d++ { // 2-3 px thick
				line(img, px(prev), py(ys[prev])+d, x, py(y)+d, c)
			}
		}
		prev = i
	}
}

func dot(img *image.RGBA, x, y int, c color.RGBA) {
	for dy := -2; dy <= 2; dy++ {
		for dx := -2; dx <= 2; dx++ {
			img.SetRGBA(x+dx, y+dy, c)
		}
	}
}

// line draws from (x0, y0) to (x1, y1) (Bresenham).
func line(img *image.RGBA, x0, y0, x1, y1 int, c color.RGBA) {
	dx, dy := abs(x1-x0), -abs(y1-y0)
	sx, sy := sign(x1-x0), sign(y1-y0)
	e := dx + dy
	for {
		img.SetRGBA(x0, y0, c)
		if x0 == x1 && y0 == y1 {
			return
		}
		e2 := 2 * e
		if e2 >= dy {
			e += dy
			x0 += sx
		}
		if e2 <= dx {
			e += dx
			y0 += sy
		}
	}
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

func sign(x int) int {
	switch {
	case x < 0:
		return -1
	case x > 0:
		return 1
	}
	return 0
}

// font is a 3×5 bitmap of the characters axis labels use: each glyph is
// 5 rows of 3 bits, high bit left.
var font = map[rune][5]uint8{
	'0': {7, 5, 5, 5, 7}, '1': {2, 6, 2, 2, 7}, '2': {7, 1, 7, 4, 7}, '3': {7, 1, 7, 1, 7},
	'4': {5, 5, 7, 1, 1}, '5': {7, 4, 7, 1, 7}, '6': {7, 4, 7, 5, 7}, '7': {7, 1, 1, 1, 1},
	'8': {7, 5, 7, 5, 7}, '9': {7, 5, 7, 1, 7}, '.': {0, 0, 0, 0, 2}, '-': {0, 0, 7, 0, 0},
	'e': {0, 7, 7, 4, 7}, '+': {0, 2, 7, 2, 0},
}

// label writes s with its top-left corner at (x, y), each glyph pixel a
// 1×1 dot, 4 pixels per character.
func label(img *image.RGBA, x, y int, s string) {
	for i, ch := range s {
		g, ok := font[ch]
		if !ok {
			continue
		}
		for row := 0; row < 5; row++ {
			for col := 0; col < 3; col++ {
				if g[row]&(4>>col) != 0 {
					img.SetRGBA(x+4*i+col, y+row, axisColor)
				}
			}
		}
	}
}
