package train

import (
	"encoding/binary"
	"image/png"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/encc-lang/encc/runtime/safetensors"
)

func testEmbeddings() *Embeddings {
	return &Embeddings{Of: "Net.encoder", Rows: 3, Dim: 2, Data: []float32{1, -2, 0.5, 3, -1e-3, 4}, Labels: []string{"ham", "spam", "ham"}}
}

func TestEmbeddingsNPY(t *testing.T) {
	p := filepath.Join(t.TempDir(), "e.npy")
	if err := testEmbeddings().Write(p); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(p)
	if string(b[:8]) != "\x93NUMPY\x01\x00" {
		t.Fatalf("magic %q", b[:8])
	}
	n := int(binary.LittleEndian.Uint16(b[8:10]))
	hdr := string(b[10 : 10+n])
	if (10+n)%64 != 0 || !strings.HasSuffix(hdr, "\n") {
		t.Errorf("preamble of %d bytes, header %q: want a multiple of 64 ending in a newline", 10+n, hdr)
	}
	if want := "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 2), }"; strings.TrimRight(hdr, " \n") != want {
		t.Errorf("header %q, want %q", hdr, want)
	}
	data := b[10+n:]
	got := make([]float32, len(data)/4)
	for i := range got {
		got[i] = math.Float32frombits(binary.LittleEndian.Uint32(data[4*i:]))
	}
	if !reflect.DeepEqual(got, testEmbeddings().Data) {
		t.Errorf("data %v", got)
	}
	// NumPy itself reads it (Debian python3-numpy, which CI installs
	// with python3-gensim); elsewhere this part is skipped without it.
	if exec.Command("/usr/bin/python3", "-c", "import numpy").Run() != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("numpy is needed in CI")
		}
		t.Skip("no numpy: the header was checked by hand only")
	}
	out, err := exec.Command("/usr/bin/python3", "-c", "import sys, numpy; a = numpy.load(sys.argv[1]); print(a.dtype, a.shape, a.tolist())", p).CombinedOutput()
	if want := "float32 (3, 2) [[1.0, -2.0], [0.5, 3.0], [-0.0010000000474974513, 4.0]]\n"; err != nil || string(out) != want {
		t.Errorf("numpy.load: %v %q, want %q", err, out, want)
	}
}

func TestEmbeddingsSafetensorsAndCSV(t *testing.T) {
	dir := t.TempDir()
	e := testEmbeddings()
	if err := e.Write(filepath.Join(dir, "e.safetensors")); err != nil {
		t.Fatal(err)
	}
	f, err := safetensors.Read(filepath.Join(dir, "e.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	tt := f.Get("embeddings")
	if tt == nil || tt.DType != safetensors.F32 || !reflect.DeepEqual(tt.Shape, []int{3, 2}) {
		t.Fatalf("tensor %+v", tt)
	}
	if f.Metadata["labels"] != `["ham","spam","ham"]` || f.Metadata["encc_of"] != "Net.encoder" {
		t.Errorf("metadata %v", f.Metadata)
	}
	if err := e.Write(filepath.Join(dir, "e.csv")); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(filepath.Join(dir, "e.csv"))
	if want := "d0,d1,label\n1,-2,ham\n0.5,3,spam\n-0.001,4,ham\n"; string(b) != want {
		t.Errorf("csv %q, want %q", b, want)
	}
	e.Labels = nil
	e.Write(filepath.Join(dir, "e.csv"))
	if b, _ := os.ReadFile(filepath.Join(dir, "e.csv")); !strings.HasPrefix(string(b), "d0,d1\n1,-2\n") {
		t.Errorf("csv without labels %q", b)
	}
	if err := e.Write(filepath.Join(dir, "e.json")); err == nil {
		t.Error("no error for .json")
	}
}

// TestPCA2 projects points on a known plane: x = 3a·u + b·v + 7 with orthonormal u, v in 4-D, so PC1 is ±u (explaining 9/10 of the
// variance when a and b have the same spread) and PC2 is ±v.
func TestPCA2(t *testing.T) {
	u := []float64{0.5, 0.5, 0.5, 0.5}
	v := []float64{0.5, -0.5, 0.5, -0.5}
	as := []float64{-1, 1, -1, 1}
	bs := []float64{-1, -1, 1, 1}
	e := &Embeddings{Rows: 4, Dim: 4}
	for i := range as {
		for j := range 4 {
			e.Data = append(e.Data, float32(3*as[i]*u[j]+bs[i]*v[j]+7))
		}
	}
	xy, ex := e.PCA2()
	if math.Abs(ex[0]-0.9) > 1e-6 || math.Abs(ex[1]-0.1) > 1e-6 {
		t.Errorf("explained %v, want [0.9 0.1]", ex)
	}
	for i := range xy {
		if math.Abs(math.Abs(xy[i][0])-3) > 1e-4 || math.Abs(math.Abs(xy[i][1])-1) > 1e-4 {
			t.Errorf("sample %d projects to %v, want (±3, ±1)", i, xy[i])
		}
		if (xy[i][0]*xy[0][0] > 0) != (as[i] == as[0]) {
			t.Errorf("sample %d: PC1 sign does not follow a", i)
		}
	}
}

// TestPCAPlotPNG draws the plot and decodes it: a PNG of PCAPixels.
func TestPCAPlotPNG(t *testing.T) {
	e := &Embeddings{Of: "Net", Rows: 40, Dim: 3}
	for i := range 40 {
		c := float32(i % 2 * 4)
		e.Data = append(e.Data, c+float32(i%5)*0.1, -c+float32(i%3)*0.2, float32(i)*0.01)
		e.Labels = append(e.Labels, []string{"ham", "spam"}[i%2])
	}
	p := filepath.Join(t.TempDir(), "pca.png")
	if err := e.WritePCAPlot(p); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	if b := img.Bounds(); b.Dx() != PCAPixels[0] || b.Dy() != PCAPixels[1] || PCAPixels != [2]int{672, 576} {
		t.Errorf("image %v, want %v (672×576)", b, PCAPixels)
	}
	// Both label colours are drawn.
	found := map[[3]uint32]bool{}
	for y := 0; y < img.Bounds().Dy(); y++ {
		for x := 0; x < img.Bounds().Dx(); x++ {
			r, g, b, _ := img.At(x, y).RGBA()
			found[[3]uint32{r >> 8, g >> 8, b >> 8}] = true
		}
	}
	for _, c := range [][3]uint32{{31, 119, 180}, {255, 127, 14}} {
		if !found[c] {
			t.Errorf("colour %v not in the plot", c)
		}
	}
	if err := e.WritePCAPlot(filepath.Join(t.TempDir(), "pca.svg")); err == nil {
		t.Error("no error for .svg")
	}
	one := &Embeddings{Rows: 1, Dim: 2, Data: []float32{1, 2}}
	if err := one.WritePCAPlot(p); err == nil {
		t.Error("no error for one sample")
	}
}
