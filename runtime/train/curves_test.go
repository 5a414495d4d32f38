package train

import (
	"image/color"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/encc-lang/encc/internal/golden"
)

// plotHistory is a run of two phases, with a metric missing in one epoch.
var plotHistory = []EpochStats{
	{Phase: "head", Epoch: 1, Loss: 2.1, Test: map[string]float64{"loss": 1.7, "accuracy": 0.6, "f1": 0.55}},
	{Phase: "head", Epoch: 2, Loss: 0.9, Test: map[string]float64{"loss": 0.8, "accuracy": 0.85, "f1": 0.8}},
	{Phase: "all", Epoch: 3, Loss: 0.4, Test: map[string]float64{"loss": 0.5, "accuracy": 0.93, "f1": math.NaN()}},
	{Phase: "all", Epoch: 4, Loss: 0.2, Test: map[string]float64{"loss": 0.45, "accuracy": 0.95, "f1": 0.94}},
}

// TestWritePlotPNG decodes the PNG and checks its size and that each
// series' color is drawn.
func TestWritePlotPNG(t *testing.T) {
	for _, logLoss := range []bool{false, true} {
		path := filepath.Join(t.TempDir(), "curves.png")
		if err := WritePlot(path, plotHistory, PlotOptions{Title: "finetune — digits.enc", LogLoss: logLoss}); err != nil {
			t.Fatal(err)
		}
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(f)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		if b := img.Bounds(); b.Dx() != 960 || b.Dy() != 432 {
			t.Errorf("PNG is %d×%d, want 960×432", b.Dx(), b.Dy())
		}
		seen := map[color.RGBA]bool{}
		b := img.Bounds()
		for y := b.Min.Y; y < b.Max.Y; y++ {
			for x := b.Min.X; x < b.Max.X; x++ {
				r, g, bl, a := img.At(x, y).RGBA()
				seen[color.RGBA{uint8(r >> 8), uint8(g >> 8), uint8(bl >> 8), uint8(a >> 8)}] = true
			}
		}
		for _, c := range []color.RGBA{colorTrainLoss, colorTestLoss, metricColors[0], metricColors[1], colorPhase} {
			if !seen[c] {
				t.Errorf("log %v: color %v not drawn", logLoss, c)
			}
		}
	}
}

// TestWritePlotSVG pins the structure of the SVG: title, panel titles,
// axis labels, ticks, legend entries and the phase line. The fonts are
// gonum/plot's embedded Liberation fonts, so text extents, and hence the
// layout, do not depend on the machine's fonts; the file is compared
// with coordinates rounded to 0.1 pt so that floating-point contraction
// on other architectures cannot change it.
func TestWritePlotSVG(t *testing.T) {
	path := filepath.Join(t.TempDir(), "curves.svg")
	if err := WritePlot(path, plotHistory, PlotOptions{Title: "finetune — digits.enc"}); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	golden.Check(t, "testdata/curves.svg", roundNumbers(b))
	svg := string(b)
	for _, s := range []string{">finetune — digits.enc<", ">Loss<", ">Test metrics<", ">epoch<", ">loss<", ">metric<",
		">train loss<", ">test loss<", ">accuracy<", ">f1<", ">phase all<", ">1<", ">2<", ">3<", ">4<"} {
		if !strings.Contains(svg, s) {
			t.Errorf("SVG has no %s", s)
		}
	}
	if strings.Contains(svg, ">phase head<") {
		t.Error("SVG marks the first phase")
	}
}

var number = regexp.MustCompile(`-?[0-9]+\.[0-9]+`)

// roundNumbers rounds every decimal in b to one digit after the point.
func roundNumbers(b []byte) []byte {
	return number.ReplaceAllFunc(b, func(m []byte) []byte {
		v, _ := strconv.ParseFloat(string(m), 64)
		return strconv.AppendFloat(nil, v, 'f', 1, 64)
	})
}

func TestWritePlotErrors(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		path    string
		history []EpochStats
		opts    PlotOptions
		want    string
	}{
		{"a.png", nil, PlotOptions{}, "no epochs to plot"},
		{"a.gif", plotHistory, PlotOptions{}, `unknown extension ".gif" (have: .png, .svg)`},
		{"a.png", []EpochStats{{Epoch: 1, Loss: -1}}, PlotOptions{LogLoss: true}, "no positive loss"},
	} {
		err := WritePlot(filepath.Join(dir, tc.path), tc.history, tc.opts)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want %q", tc.path, err, tc.want)
		}
	}
}
