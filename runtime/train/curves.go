package train

// This file implements WritePlot: the training curves of a run drawn
// with gonum.org/v1/plot, as PNG or SVG by the file's extension.

import (
	"fmt"
	"image/color"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"
)

// PlotOptions configures WritePlot.
type PlotOptions struct {
	Title   string // the figure's title: the train and its file
	LogLoss bool   // draw the loss on a log scale
}

// PlotFormats are the file extensions WritePlot writes.
var PlotFormats = []string{".png", ".svg"}

// CheckPlotPath reports whether WritePlot can write path, by its
// extension, so that a command rejects a bad --plot before training.
func CheckPlotPath(path string) error {
	ext := strings.ToLower(filepath.Ext(path))
	for _, f := range PlotFormats {
		if ext == f {
			return nil
		}
	}
	return fmt.Errorf("cannot plot to %s: unknown extension %q (have: %s)", path, filepath.Ext(path), strings.Join(PlotFormats, ", "))
}

// The figure's size; a PNG is drawn at plotDPI, so it is
// plotWidth/vg.Inch*plotDPI pixels wide.
const (
	plotWidth  = 10 * vg.Inch
	plotHeight = 4.5 * vg.Inch
	plotDPI    = 96
)

// Series colors: the loss panel's train loss and test loss, then the
// metrics panel's metrics in name order (the matplotlib tab10 palette).
var (
	colorTrainLoss = color.RGBA{31, 119, 180, 255}  // blue
	colorTestLoss  = color.RGBA{255, 127, 14, 255}  // orange
	colorPhase     = color.RGBA{110, 110, 110, 255} // gray
	metricColors   = []color.RGBA{{44, 160, 44, 255}, {214, 39, 40, 255}, {148, 103, 189, 255}, {140, 86, 75, 255}, {227, 119, 194, 255}, {23, 190, 207, 255}}
)

// plotFont is the typeface of every label: Liberation Sans, which
// gonum/plot embeds, so the picture does not depend on the fonts of the
// machine that draws it.
var plotFont = font.Font{Typeface: "Liberation", Variant: "Sans"}

// WritePlot writes the curves of a run to path: a PNG or an SVG by its
// extension. On the left, the loss per epoch (train loss and test loss;
// a log scale with opts.LogLoss); on the right, when the train has
// metrics, the test metrics per epoch. Each series has a legend entry,
// both axes are labelled, the x ticks are whole epochs, and a train with
// several phases has a labelled dashed line where each later phase
// begins.
func WritePlot(path string, history []EpochStats, opts PlotOptions) error {
	if err := CheckPlotPath(path); err != nil {
		return err
	}
	if len(history) == 0 {
		return fmt.Errorf("no epochs to plot")
	}
	lossPlot, err := lossPanel(history, opts.LogLoss)
	if err != nil {
		return err
	}
	panels := []*plot.Plot{lossPlot}
	if p, err := metricPanel(history); err != nil {
		return err
	} else if p != nil {
		panels = append(panels, p)
	}
	for _, p := range panels {
		p.Add(phaseLines(history))
	}

	var c vg.CanvasWriterTo
	if strings.ToLower(filepath.Ext(path)) == ".svg" {
		c = vgsvg.New(plotWidth, plotHeight)
	} else {
		c = vgimg.PngCanvas{Canvas: vgimg.NewWith(vgimg.UseWH(plotWidth, plotHeight), vgimg.UseDPI(plotDPI), vgimg.UseBackgroundColor(color.White))}
	}
	dc := draw.New(c)
	top := vg.Length(0)
	if opts.Title != "" {
		sty := textStyle(14)
		sty.XAlign, sty.YAlign = draw.XCenter, draw.YTop
		top = sty.Height(opts.Title) + 10
		dc.FillText(sty, vg.Point{X: dc.Center().X, Y: dc.Max.Y - 6}, opts.Title)
	}
	tiles := draw.Tiles{
		Rows: 1, Cols: len(panels),
		PadTop: top + 4, PadBottom: 4, PadLeft: 6, PadRight: 10, PadX: 24,
	}
	canvases := plot.Align([][]*plot.Plot{panels}, tiles, dc)
	for i, p := range panels {
		p.Draw(canvases[0][i])
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := c.WriteTo(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// lossPanel plots the train loss and the test loss per epoch.
func lossPanel(history []EpochStats, logScale bool) (*plot.Plot, error) {
	p := newPanel("Loss", "loss")
	var train, test plotter.XYs
	for _, st := range history {
		train = appendPoint(train, st.Epoch, st.Loss, logScale)
		if v, ok := st.Test["loss"]; ok {
			test = appendPoint(test, st.Epoch, v, logScale)
		}
	}
	if logScale {
		p.Y.Label.Text = "loss (log scale)"
		p.Y.Scale = plot.LogScale{}
		p.Y.Tick.Marker = plot.TickerFunc(logTicks)
		if len(train)+len(test) == 0 {
			return nil, fmt.Errorf("no positive loss to plot on a log scale")
		}
	}
	if err := addSeries(p, "train loss", train, colorTrainLoss); err != nil {
		return nil, err
	}
	if err := addSeries(p, "test loss", test, colorTestLoss); err != nil {
		return nil, err
	}
	p.Legend.Top = true
	return p, nil
}

// metricPanel plots each test metric other than the loss per epoch, or
// returns nil when there is none.
func metricPanel(history []EpochStats) (*plot.Plot, error) {
	var names []string
	for _, st := range history {
		for k := range st.Test {
			if k != "loss" && !slices.Contains(names, k) {
				names = append(names, k)
			}
		}
	}
	if len(names) == 0 {
		return nil, nil
	}
	sort.Strings(names)
	p := newPanel("Test metrics", "metric")
	for i, k := range names {
		var xys plotter.XYs
		for _, st := range history {
			if v, ok := st.Test[k]; ok {
				xys = appendPoint(xys, st.Epoch, v, false)
			}
		}
		if err := addSeries(p, k, xys, metricColors[i%len(metricColors)]); err != nil {
			return nil, err
		}
	}
	p.Legend.Top = false
	return p, nil
}

// newPanel returns a plot titled title with the epoch on x and yLabel on y.
func newPanel(title, yLabel string) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.Title.TextStyle.Font = font.From(plotFont, 12)
	p.Title.Padding = 6
	p.X.Label.Text = "epoch"
	p.Y.Label.Text = yLabel
	for _, a := range []*plot.Axis{&p.X, &p.Y} {
		a.Label.TextStyle.Font = font.From(plotFont, 11)
		a.Tick.Label.Font = font.From(plotFont, 10)
	}
	p.X.Tick.Marker = plot.TickerFunc(epochTicks)
	p.Legend.TextStyle.Font = font.From(plotFont, 10)
	p.Legend.Left = false
	p.Legend.XOffs = -6
	p.Add(plotter.NewGrid())
	return p
}

// textStyle is the style of text drawn outside a plot's own elements.
func textStyle(size vg.Length) text.Style {
	return text.Style{Color: color.Black, Font: font.From(plotFont, size), Handler: plot.DefaultTextHandler}
}

// appendPoint adds (epoch, v) to xys unless v cannot be drawn: not
// finite, or not positive on a log scale.
func appendPoint(xys plotter.XYs, epoch int, v float64, logScale bool) plotter.XYs {
	if math.IsNaN(v) || math.IsInf(v, 0) || logScale && v <= 0 {
		return xys
	}
	return append(xys, plotter.XY{X: float64(epoch), Y: v})
}

// addSeries draws xys as a line with a dot per epoch and a legend
// entry, or only the legend entry when xys is empty.
func addSeries(p *plot.Plot, name string, xys plotter.XYs, c color.Color) error {
	if len(xys) == 0 {
		return nil
	}
	l, s, err := plotter.NewLinePoints(xys)
	if err != nil {
		return fmt.Errorf("%s: %v", name, err)
	}
	l.Color, l.Width = c, vg.Points(1.5)
	s.Color, s.Shape, s.Radius = c, draw.CircleGlyph{}, vg.Points(2)
	p.Add(l, s)
	p.Legend.Add(name, l, s)
	return nil
}

// epochTicks labels whole epochs, at most about ten of them.
func epochTicks(min, max float64) []plot.Tick {
	lo, hi := math.Ceil(min), math.Floor(max)
	step := 1.0
	for (hi-lo)/step > 10 {
		switch {
		case step < 2:
			step = 2
		case step < 5:
			step = 5
		default:
			step *= 2
		}
	}
	var ticks []plot.Tick
	for v := lo; v <= hi; v++ {
		t := plot.Tick{Value: v}
		if math.Mod(v, step) == 0 || step == 1 {
			t.Label = strconv.Itoa(int(v))
		}
		ticks = append(ticks, t)
	}
	return ticks
}

// logTicks labels 1, 2 and 5 times the powers of ten in [min, max]
// (every digit when that gives fewer than two labels), with a minor
// tick at the other digits: a loss that falls by less than a decade
// still gets readable labels.
func logTicks(min, max float64) []plot.Tick {
	lo, hi := math.Floor(math.Log10(min)), math.Ceil(math.Log10(max))
	var ticks []plot.Tick
	labelled := 0
	for _, every := range []bool{false, true} {
		ticks, labelled = ticks[:0], 0
		for e := lo; e <= hi; e++ {
			for d := 1; d <= 9; d++ {
				v := float64(d) * math.Pow(10, e)
				if v < min*(1-1e-9) || v > max*(1+1e-9) {
					continue
				}
				t := plot.Tick{Value: v}
				if every || d == 1 || d == 2 || d == 5 {
					t.Label = strconv.FormatFloat(v, 'g', -1, 64)
					labelled++
				}
				ticks = append(ticks, t)
			}
		}
		if labelled >= 2 {
			break
		}
	}
	return ticks
}

// A phaseMarks plotter draws a dashed vertical line, labelled with the
// phase's name, before the first epoch of each phase but the first.
type phaseMarks []phaseMark

type phaseMark struct {
	x    float64 // halfway between the phase's first epoch and the one before
	name string
}

// phaseLines returns the boundaries between the phases of history.
func phaseLines(history []EpochStats) phaseMarks {
	var marks phaseMarks
	for i := 1; i < len(history); i++ {
		if history[i].Phase != history[i-1].Phase {
			marks = append(marks, phaseMark{x: float64(history[i].Epoch) - 0.5, name: history[i].Phase})
		}
	}
	return marks
}

// Plot implements plot.Plotter.
func (ms phaseMarks) Plot(c draw.Canvas, p *plot.Plot) {
	trX, _ := p.Transforms(&c)
	sty := draw.LineStyle{Color: colorPhase, Width: vg.Points(1), Dashes: []vg.Length{vg.Points(4), vg.Points(3)}}
	lbl := textStyle(9)
	lbl.Color = colorPhase
	lbl.XAlign, lbl.YAlign = draw.XLeft, draw.YTop
	for _, m := range ms {
		x := trX(m.x)
		c.StrokeLine2(sty, x, c.Min.Y, x, c.Max.Y)
		c.FillText(lbl, vg.Point{X: x + 3, Y: c.Max.Y - 3}, "phase "+m.name)
	}
}
