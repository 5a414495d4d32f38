package train

// This file implements feature extraction (encc embed): a trained
// model's representation of every sample of a file, written as .npy,
// safetensors or CSV, and its 2-D PCA projection drawn by label.

import (
	"bufio"
	"encoding/binary"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"image/color"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"

	"github.com/encc-lang/encc/compiler"
	"github.com/encc-lang/encc/ir"
	"github.com/encc-lang/encc/lang"
	"github.com/encc-lang/encc/runtime/data"
	"github.com/encc-lang/encc/runtime/safetensors"
)

// Embeddings are the representations of the samples of a file: Rows
// rows of Dim floats, and the label of each row ("" where the input has
// none).
type Embeddings struct {
	// Of says what was run: "Model" (its output), "Model:name" (a named
	// output) or "Model.member" (a member's forward).
	Of     string
	Rows   int
	Dim    int
	Data   []float32
	Labels []string
}

// EmbedFormats are the file extensions Embeddings.Write writes.
var EmbedFormats = []string{".npy", ".safetensors", ".csv"}

// CheckEmbedPath reports whether Write can write path, by its extension.
func CheckEmbedPath(path string) error {
	ext := strings.ToLower(filepath.Ext(path))
	for _, f := range EmbedFormats {
		if ext == f {
			return nil
		}
	}
	return fmt.Errorf("cannot write embeddings to %s: unknown extension %q (have: %s)", path, filepath.Ext(path), strings.Join(EmbedFormats, ", "))
}

// Embed runs the model named by target (a train's model, or a model with
// default hyper-parameters) with the weights in the file weights on
// every sample of input and returns what at names for each: "" the
// forward's output (the first, when it has named outputs), the name of a
// named output, or the dotted path of a member that is a model instance
// (its forward, run on the input, with the same weights). The input is
// read as Predict reads it: raw text with the vocabulary saved next to
// the weights (.jsonl, .csv with a "text" column, or one text a line),
// else a numeric CSV with the checkpoint's preprocessing; a "label"
// column or field gives the labels.
func Embed(p *compiler.Program, target, at, weights, input string, opts Options) (*Embeddings, error) {
	root, err := Instance(p, target)
	if err != nil {
		return nil, err
	}
	b, _, err := backendFor(opts.Device)
	if err != nil {
		return nil, err
	}
	c, err := LoadCheckpoint(weights)
	if err != nil {
		return nil, err
	}
	w, err := FitWeights(c, root.Params(), LoadSpec{}, weights, root.Name())
	if err != nil {
		return nil, err
	}
	in, output, of, err := embedTarget(root, at)
	if err != nil {
		return nil, err
	}
	var src embedSource
	if vf := VocabPath(weights); fileExists(vf) {
		v, err := data.LoadVocab(vf)
		if err != nil {
			return nil, err
		}
		texts, labels, err := readTexts(input)
		if err != nil {
			return nil, err
		}
		src = &textSource{v: v, texts: texts, labels: labels}
	} else {
		if tokens, err := takesTokens(p, in); err != nil {
			return nil, err
		} else if tokens {
			return nil, fmt.Errorf("%s takes token ids, and there is no vocabulary %s next to the weights: embed reads raw text with the vocabulary that encc run saves there", in.Name(), VocabPath(weights))
		}
		if src, err = readNumericSource(input, c, weights); err != nil {
			return nil, err
		}
	}
	e := &Embeddings{Of: of, Rows: src.rows(), Labels: src.labelsOf()}
	const maxBatch = 64
	type prog struct {
		ex   Executor
		bufs []any
		out  string
	}
	progs := map[int]*prog{}
	for start := 0; start < e.Rows; start += maxBatch {
		n := min(maxBatch, e.Rows-start)
		pr, ok := progs[n]
		if !ok {
			ex, g, xs, err := forward(p, in, w, n, src.seqLen(), b, opts.Threads)
			if err != nil {
				return nil, err
			}
			pr = &prog{ex: ex}
			if pr.bufs, err = src.bind(in, ex, xs, n); err != nil {
				return nil, err
			}
			if output == "" {
				output = g.Outputs[0].Name
			}
			var o *ir.Value
			for _, go_ := range g.Outputs {
				if go_.Name == output {
					o = go_.Value
				}
			}
			if o == nil {
				return nil, fmt.Errorf("%s has no output %s", in.Name(), output)
			}
			if o.Type.DType != ir.F32 || o.Type.Rank() < 1 || o.Type.Shape[0] != n {
				return nil, fmt.Errorf("%s: output %s is %v; embed wants f32[B, ...]", of, output, o.Type)
			}
			e.Dim = o.Type.NumElements() / n
			pr.out = output
			progs[n] = pr
		}
		src.fill(pr.bufs, start, n)
		if err := pr.ex.Run(); err != nil {
			return nil, err
		}
		e.Data = append(e.Data, pr.ex.Float32(pr.out)...)
	}
	return e, nil
}

// embedTarget resolves --at: the instance to run, the output to take
// ("" for the first) and a description.
func embedTarget(root *compiler.Instance, at string) (*compiler.Instance, string, string, error) {
	if at == "" {
		return root, "", root.Name(), nil
	}
	outs, err := forwardOutputs(root)
	if err != nil {
		return nil, "", "", err
	}
	for _, o := range outs {
		if o == at {
			return root, at, root.Name() + ":" + at, nil
		}
	}
	in := root
	for _, part := range strings.Split(at, ".") {
		v, ok := in.Member(part)
		if !ok {
			have := append(append([]string(nil), in.Members()...), outs...)
			return nil, "", "", fmt.Errorf("--at %s: %s has no member or named output %q (have: %s)", at, in.Name(), part, strings.Join(have, ", "))
		}
		sub, isInst := v.(*compiler.InstanceV)
		if !isInst {
			return nil, "", "", fmt.Errorf("--at %s: %s is a %s, not a model with a forward; name a model member or a named output", at, part, v.Kind())
		}
		in = sub.I
	}
	return in, "", root.Name() + "." + at, nil
}

// forwardOutputs lists the named outputs of in's forward (nil for one
// unnamed output).
func forwardOutputs(in *compiler.Instance) ([]string, error) {
	var out []string
	for _, m := range in.Decl().Members {
		fw, ok := m.(*lang.ForwardDecl)
		if !ok || !fw.Named {
			continue
		}
		for _, r := range fw.Results {
			if r.Name != nil {
				out = append(out, r.Name.Name)
			}
		}
	}
	return out, nil
}

// An embedSource feeds the samples of the input to a forward.
type embedSource interface {
	rows() int
	labelsOf() []string
	seqLen() int // T of text models; 0 for numeric ones
	bind(in *compiler.Instance, ex Executor, xs []*ir.Value, n int) ([]any, error)
	fill(bufs []any, start, n int)
}

type textSource struct {
	v      *data.Vocab
	texts  []string
	labels []string
	mask   []int32
}

func (s *textSource) rows() int          { return len(s.texts) }
func (s *textSource) labelsOf() []string { return s.labels }
func (s *textSource) seqLen() int        { return s.v.Tokenizer.MaxLen }

func (s *textSource) bind(in *compiler.Instance, ex Executor, xs []*ir.Value, n int) ([]any, error) {
	T := s.v.Tokenizer.MaxLen
	ids, mask := make([]int32, n*T), make([]bool, n*T)
	bufs := []any{ids, mask}
	for i, x := range xs {
		var err error
		switch {
		case i == 0 && x.Type.DType == ir.I32 && x.Type.NumElements() == n*T:
			err = ex.Bind(x.Name, ids)
		case i == 1 && x.Type.DType == ir.Bool && x.Type.NumElements() == n*T:
			err = ex.Bind(x.Name, mask)
		default:
			return nil, fmt.Errorf("%s takes %s %v; a text model takes ids: i32[B, %d] and an optional mask: bool[B, %d]", in.Name(), x.Name, x.Type, T, T)
		}
		if err != nil {
			return nil, err
		}
	}
	return bufs, nil
}

func (s *textSource) fill(bufs []any, start, n int) {
	T := s.v.Tokenizer.MaxLen
	ids, mask := bufs[0].([]int32), bufs[1].([]bool)
	if len(s.mask) < n*T {
		s.mask = make([]int32, n*T)
	}
	for i := 0; i < n; i++ {
		s.v.Encode(s.v.Prepare(s.texts[start+i]), ids[i*T:(i+1)*T], s.mask[i*T:(i+1)*T])
	}
	for i := range n * T {
		mask[i] = s.mask[i] != 0
	}
}

type numericSource struct {
	x      []float32
	k      int
	labels []string
}

// readNumericSource reads a CSV of numeric features (and an optional
// "label" column) and applies the checkpoint's preprocessing.
func readNumericSource(input string, c *Checkpoint, weights string) (*numericSource, error) {
	ds, xf, err := readFeatures(input, c, weights)
	if err != nil {
		return nil, err
	}
	s := &numericSource{x: xf.F32, k: xf.Size()}
	if lf := ds.Field("label"); lf != nil {
		for _, l := range lf.I32 {
			s.labels = append(s.labels, strconv.Itoa(int(l)))
		}
	}
	return s, nil
}

func (s *numericSource) rows() int          { return len(s.x) / s.k }
func (s *numericSource) labelsOf() []string { return s.labels }
func (s *numericSource) seqLen() int        { return 0 }

func (s *numericSource) bind(in *compiler.Instance, ex Executor, xs []*ir.Value, n int) ([]any, error) {
	x, err := oneF32(in, xs)
	if err != nil {
		return nil, err
	}
	if x.Type.NumElements() != n*s.k {
		return nil, fmt.Errorf("rows have %d features; %s takes %d per sample (input %s)", s.k, in.Name(), x.Type.NumElements()/n, x.Name)
	}
	buf := make([]float32, n*s.k)
	return []any{buf}, ex.Bind(x.Name, buf)
}

func (s *numericSource) fill(bufs []any, start, n int) {
	copy(bufs[0].([]float32), s.x[start*s.k:(start+n)*s.k])
}

// Write writes the embeddings to path by its extension: .npy (a float32
// array [Rows, Dim], NumPy format 1.0), .safetensors (F32 "embeddings"
// [Rows, Dim]; the labels, when there are, in the metadata as a JSON
// list under "labels") or .csv (a header d0..d{Dim-1}, then label when
// there are labels; one row per sample).
func (e *Embeddings) Write(path string) error {
	if err := CheckEmbedPath(path); err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	bw := bufio.NewWriter(f)
	switch strings.ToLower(filepath.Ext(path)) {
	case ".npy":
		err = e.writeNPY(bw)
	case ".safetensors":
		err = e.writeSafetensors(bw)
	case ".csv":
		err = e.writeCSV(bw)
	}
	if err == nil {
		err = bw.Flush()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

func (e *Embeddings) writeNPY(w io.Writer) error {
	hdr := fmt.Sprintf("{'descr': '<f4', 'fortran_order': False, 'shape': (%d, %d), }", e.Rows, e.Dim)
	// Magic, version 1.0, a little-endian uint16 header length; the
	// header ends in a newline and pads the preamble to 64 bytes.
	total := 10 + len(hdr) + 1
	hdr += strings.Repeat(" ", (64-total%64)%64) + "\n"
	var pre [10]byte
	copy(pre[:], "\x93NUMPY\x01\x00")
	binary.LittleEndian.PutUint16(pre[8:], uint16(len(hdr)))
	if _, err := w.Write(pre[:]); err != nil {
		return err
	}
	if _, err := io.WriteString(w, hdr); err != nil {
		return err
	}
	return binary.Write(w, binary.LittleEndian, e.Data)
}

func (e *Embeddings) writeSafetensors(w io.Writer) error {
	raw := make([]byte, 4*len(e.Data))
	for i, x := range e.Data {
		binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(x))
	}
	meta := map[string]string{"encc_of": e.Of}
	if e.Labels != nil {
		b, _ := json.Marshal(e.Labels)
		meta["labels"] = string(b)
	}
	b, err := safetensors.Marshal([]*safetensors.Tensor{{Name: "embeddings", DType: safetensors.F32, Shape: []int{e.Rows, e.Dim}, Data: raw}}, meta)
	if err != nil {
		return err
	}
	_, err = w.Write(b)
	return err
}

func (e *Embeddings) writeCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	h := make([]string, 0, e.Dim+1)
	for j := range e.Dim {
		h = append(h, "d"+strconv.Itoa(j))
	}
	if e.Labels != nil {
		h = append(h, "label")
	}
	if err := cw.Write(h); err != nil {
		return err
	}
	for i := range e.Rows {
		rec := h[:0:0]
		for _, x := range e.Data[i*e.Dim : (i+1)*e.Dim] {
			rec = append(rec, strconv.FormatFloat(float64(x), 'g', -1, 32))
		}
		if e.Labels != nil {
			rec = append(rec, e.Labels[i])
		}
		if err := cw.Write(rec); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// PCA2 projects the rows on their first two principal components (of
// the centred data, found by power iteration on the covariance with
// deflation; each axis's sign makes its largest coordinate positive) and
// returns the projections and the fraction of the variance each axis
// explains.
func (e *Embeddings) PCA2() (xy [][2]float64, explained [2]float64) {
	n, d := e.Rows, e.Dim
	mean := make([]float64, d)
	for i := range n {
		for j, x := range e.Data[i*d : (i+1)*d] {
			mean[j] += float64(x)
		}
	}
	for j := range mean {
		mean[j] /= float64(max(n, 1))
	}
	cov := make([]float64, d*d)
	row := make([]float64, d)
	for i := range n {
		for j, x := range e.Data[i*d : (i+1)*d] {
			row[j] = float64(x) - mean[j]
		}
		for a := range d {
			if row[a] == 0 {
				continue
			}
			for b := range d {
				cov[a*d+b] += row[a] * row[b]
			}
		}
	}
	var trace float64
	for a := range d {
		trace += cov[a*d+a]
	}
	rng := rand.New(rand.NewPCG(1, 2))
	var axes [2][]float64
	for k := range 2 {
		v := make([]float64, d)
		for j := range v {
			v[j] = rng.Float64() - 0.5
		}
		var lambda float64
		for range 500 {
			u := make([]float64, d)
			for a := range d {
				for b := range d {
					u[a] += cov[a*d+b] * v[b]
				}
			}
			norm := math.Sqrt(dotF(u, u))
			if norm == 0 {
				break
			}
			for j := range u {
				u[j] /= norm
			}
			diff := 0.0
			for j := range u {
				diff = math.Max(diff, math.Abs(u[j]-v[j]))
			}
			v, lambda = u, norm
			if diff < 1e-10 {
				break
			}
		}
		big := 0
		for j := range v {
			if math.Abs(v[j]) > math.Abs(v[big]) {
				big = j
			}
		}
		if v[big] < 0 {
			for j := range v {
				v[j] = -v[j]
			}
		}
		axes[k] = v
		if trace > 0 {
			explained[k] = lambda / trace
		}
		for a := range d { // deflate
			for b := range d {
				cov[a*d+b] -= lambda * v[a] * v[b]
			}
		}
	}
	xy = make([][2]float64, n)
	for i := range n {
		for j, x := range e.Data[i*d : (i+1)*d] {
			row[j] = float64(x) - mean[j]
		}
		xy[i] = [2]float64{dotF(row, axes[0]), dotF(row, axes[1])}
	}
	return xy, explained
}

func dotF(a, b []float64) float64 {
	var s float64
	for i := range a {
		s += a[i] * b[i]
	}
	return s
}

// Size of the PCA picture: 7 × 6 inches at plotDPI (672 × 576 pixels).
const (
	pcaWidth  = 7 * vg.Inch
	pcaHeight = 6 * vg.Inch
)

// PCAPixels is the size in pixels of the PNG WritePCAPlot draws.
var PCAPixels = [2]int{int(pcaWidth / vg.Inch * plotDPI), int(pcaHeight / vg.Inch * plotDPI)}

// WritePCAPlot draws the rows projected on their first two principal
// components as a PNG scatter plot, a colour per label (in label order,
// with a legend; one colour when there are no labels), the axes
// labelled with the variance each explains.
func (e *Embeddings) WritePCAPlot(path string) error {
	if ext := strings.ToLower(filepath.Ext(path)); ext != ".png" {
		return fmt.Errorf("cannot plot to %s: the PCA plot is a .png", path)
	}
	if e.Rows < 2 || e.Dim < 1 {
		return fmt.Errorf("a PCA plot needs at least 2 samples, got %d", e.Rows)
	}
	xy, ex := e.PCA2()
	groups := map[string]plotter.XYs{}
	for i, p := range xy {
		l := ""
		if e.Labels != nil {
			l = e.Labels[i]
		}
		groups[l] = append(groups[l], plotter.XY{X: p[0], Y: p[1]})
	}
	names := make([]string, 0, len(groups))
	for l := range groups {
		names = append(names, l)
	}
	sort.Strings(names)
	p := plot.New()
	p.Title.Text = fmt.Sprintf("%s: %d samples, PCA of %d dimensions", e.Of, e.Rows, e.Dim)
	p.Title.TextStyle.Font = font.From(plotFont, 12)
	p.Title.Padding = 8
	p.X.Label.Text = fmt.Sprintf("PC1 (%.3g%% of the variance)", 100*ex[0])
	p.Y.Label.Text = fmt.Sprintf("PC2 (%.3g%% of the variance)", 100*ex[1])
	for _, a := range []*plot.Axis{&p.X, &p.Y} {
		a.Label.TextStyle.Font = font.From(plotFont, 11)
		a.Tick.Label.Font = font.From(plotFont, 10)
	}
	p.Legend.TextStyle.Font = font.From(plotFont, 10)
	p.Legend.Top = true
	p.Add(plotter.NewGrid())
	palette := append([]color.RGBA{colorTrainLoss, colorTestLoss}, metricColors...)
	for i, l := range names {
		s, err := plotter.NewScatter(groups[l])
		if err != nil {
			return err
		}
		c := palette[i%len(palette)]
		s.Color, s.Shape, s.Radius = c, draw.CircleGlyph{}, vg.Points(1.8)
		p.Add(s)
		if l != "" {
			p.Legend.Add(l, s)
		}
	}
	c := vgimg.PngCanvas{Canvas: vgimg.NewWith(vgimg.UseWH(pcaWidth, pcaHeight), vgimg.UseDPI(plotDPI), vgimg.UseBackgroundColor(color.White))}
	p.Draw(draw.New(c))
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
