package data

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func TestCSV(t *testing.T) {
	d, err := ReadCSV("testdata/small.csv", CSVOptions{Label: "label", Features: []string{"pixel a", "pixel_b"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Validate(); err != nil {
		t.Fatal(err)
	}
	x, y := d.Field("x"), d.Field("y")
	if d.N != 4 || x.Type() != "f32[2]" || y.Classes != 3 {
		t.Fatalf("N %d, x %s, classes %d", d.N, x.Type(), y.Classes)
	}
	if diff := cmp.Diff([]float32{1.5, -2, 2.25, 300, 0, 0.5, -1, 4}, x.F32); diff != "" {
		t.Errorf("x (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]int32{1, 0, 2, 2}, y.I32); diff != "" {
		t.Errorf("y (-want +got):\n%s", diff)
	}
	// Default features: every column but the label, in file order.
	d, err = ReadCSV("testdata/small.csv", CSVOptions{Label: "label", Classes: 5, FeatureField: "f", LabelField: "c"})
	if err != nil {
		t.Fatal(err)
	}
	if f := d.Field("f"); f.Type() != "f32[4]" || !cmp.Equal(f.F32[:4], []float32{0, 1.5, -2, 0}) || d.Field("c").Classes != 5 {
		t.Errorf("default features: %s %v classes %d", f.Type(), f.F32[:4], d.Field("c").Classes)
	}
	// No header: columns are numbered; gzipped content is detected.
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte("1,2,0\n3,4,1\n"))
	zw.Close()
	path := filepath.Join(t.TempDir(), "plain.csv") // no .gz suffix on purpose
	os.WriteFile(path, gz.Bytes(), 0o644)
	d, err = ReadCSV(path, CSVOptions{NoHeader: true, Label: "2"})
	if err != nil {
		t.Fatal(err)
	}
	if !cmp.Equal(d.Field("x").F32, []float32{1, 2, 3, 4}) || !cmp.Equal(d.Field("y").I32, []int32{0, 1}) {
		t.Errorf("headerless gz: %v %v", d.Field("x").F32, d.Field("y").I32)
	}
}

func TestCSVErrors(t *testing.T) {
	for _, tc := range []struct {
		name, text string
		opt        CSVOptions
		want       string
	}{
		{"short row", "a,b,label\n1,2,0\n1,0\n", CSVOptions{Label: "label"}, "x.csv:3: row has 2 fields, header has 3"},
		{"long row", "a,b,label\n1,2,0,4\n", CSVOptions{Label: "label"}, "x.csv:2: row has 4 fields, header has 3"},
		{"short headerless", "1,2,0\n1,0\n", CSVOptions{NoHeader: true, Label: "2"}, "x.csv:2: row has 2 fields, the first row has 3"},
		{"non-number", "a,b,label\n1,2,0\n\n1,x1,0\n", CSVOptions{Label: "label"}, `x.csv:4: column "b": "x1" is not a number`},
		{"non-number headerless", "1,2,0\n1,?,0\n", CSVOptions{NoHeader: true, Label: "2"}, `x.csv:2: column 1: "?" is not a number`},
		{"empty field", "a,b,label\n1,,0\n", CSVOptions{Label: "label"}, `x.csv:2: column "b" is empty, want a number`},
		{"nan", "a,label\nNaN,0\n", CSVOptions{Label: "label"}, `x.csv:2: column "a": "NaN" is not a finite float32`},
		{"overflow", "a,label\n1e39,0\n", CSVOptions{Label: "label"}, `x.csv:2: column "a": "1e39" is not a finite float32`},
		{"label out of range", "a,label\n1,0\n2,10\n", CSVOptions{Label: "label", Classes: 10}, "x.csv:3: label 10 out of range [0, 10)"},
		{"negative label", "a,label\n1,-1\n", CSVOptions{Label: "label"}, "x.csv:2: label -1 out of range: labels are class indices 0, 1, ..."},
		{"non-integer label", "a,label\n1,3.5\n", CSVOptions{Label: "label"}, `x.csv:2: label "3.5" is not an integer`},
		{"word label", "a,label\n1,cat\n", CSVOptions{Label: "label"}, `x.csv:2: label "cat" is not an integer`},
		{"missing label column", "a,b\n1,2\n", CSVOptions{Label: "label"}, `x.csv:1: no label column "label" (columns: a, b)`},
		{"missing feature column", "a,b,label\n1,2,0\n", CSVOptions{Label: "label", Features: []string{"a", "c"}}, `x.csv:1: no feature column "c" (columns: a, b, label)`},
		{"label as feature", "a,label\n1,2\n", CSVOptions{Label: "label", Features: []string{"label"}}, `x.csv:1: column "label" is both the label and a feature`},
		{"duplicate column", "a,a,label\n1,2,0\n", CSVOptions{Label: "label"}, `x.csv:1: duplicate column "a"`},
		{"empty", "", CSVOptions{Label: "label"}, "x.csv: empty file"},
		{"header only", "a,label\n", CSVOptions{Label: "label"}, "x.csv: no data rows"},
		{"bad quote", "a,label\n1,\"0\n", CSVOptions{Label: "label"}, `x.csv:2: extraneous or missing " in quoted-field`},
		{"quoted newline", "a,b,label\n\"1\n\",x,0\n", CSVOptions{Label: "label", Features: []string{"b"}}, `x.csv:3: column "b": "x" is not a number`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseCSV("x.csv", []byte(tc.text), tc.opt)
			if err == nil {
				t.Fatalf("no error, want %q", tc.want)
			}
			var de *Error
			if !errors.As(err, &de) {
				t.Errorf("error %T is not *Error", err)
			}
			if err.Error() != tc.want {
				t.Errorf("got  %q\nwant %q", err, tc.want)
			}
		})
	}
	_, err := ReadCSV("testdata/missing.csv", CSVOptions{})
	if err == nil || err.Error() != "testdata/missing.csv: no such file" || !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}

func TestIDX(t *testing.T) {
	d, err := ReadIDX("testdata/tiny-images-idx3-ubyte.gz", "testdata/tiny-labels-idx1-ubyte", IDXOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Validate(); err != nil {
		t.Fatal(err)
	}
	img, lab := d.Field("image"), d.Field("label")
	pix := img.Values()
	if d.N != 5 || img.Type() != "f32[1, 3, 4]" || lab.Type() != "i32" || lab.Classes != 10 {
		t.Fatalf("N %d %s %s classes %d", d.N, img.Type(), lab.Type(), lab.Classes)
	}
	// Pixel j of image i is (37i + 11j) mod 256.
	for i := range 5 {
		for j := range 12 {
			if got, want := pix[i*12+j], float32((37*i+11*j)%256); got != want {
				t.Fatalf("image %d pixel %d = %v, want %v", i, j, got, want)
			}
		}
	}
	if !cmp.Equal(lab.I32, []int32{3, 0, 9, 1, 3}) {
		t.Errorf("labels %v", lab.I32)
	}
}

func idxBytes(magic uint32, dims []uint32, data []byte) []byte {
	b := binary.BigEndian.AppendUint32(nil, magic)
	for _, d := range dims {
		b = binary.BigEndian.AppendUint32(b, d)
	}
	return append(b, data...)
}

func TestIDXErrors(t *testing.T) {
	imgs := idxBytes(0x803, []uint32{2, 2, 2}, []byte{1, 2, 3, 4, 5, 6, 7, 8})
	labs := idxBytes(0x801, []uint32{2}, []byte{1, 7})
	for _, tc := range []struct {
		name       string
		imgs, labs []byte
		opt        IDXOptions
		want       string
	}{
		{"swapped", labs, imgs, IDXOptions{}, "img: wrong IDX magic 0x00000801, want 0x00000803 (images)"},
		{"not idx", []byte("P5\n28 28\n255\n"), labs, IDXOptions{}, "img: wrong IDX magic 0x50350a32, want 0x00000803 (images)"},
		{"wrong labels magic", imgs, imgs, IDXOptions{}, "lab: wrong IDX magic 0x00000803, want 0x00000801 (labels)"},
		{"tiny", []byte{0, 0}, labs, IDXOptions{}, "img: truncated: 2 bytes, not an IDX file"},
		{"short header", imgs[:10], labs, IDXOptions{}, "img: truncated IDX header: 10 bytes, want 16"},
		{"truncated images", imgs[:len(imgs)-3], labs, IDXOptions{}, "img: truncated: the header says images [2 2 2] (8 bytes), but 5 bytes follow"},
		{"truncated labels", imgs, labs[:len(labs)-1], IDXOptions{}, "lab: truncated: the header says labels [2] (2 bytes), but 1 bytes follow"},
		{"extra bytes", append(imgs[:len(imgs):len(imgs)], 0, 0), labs, IDXOptions{}, "img: 2 bytes after the images [2 2 2] the header declares"},
		{"count mismatch", imgs, idxBytes(0x801, []uint32{3}, []byte{1, 2, 3}), IDXOptions{}, "lab: 3 labels, but img has 2 images"},
		{"label out of range", imgs, labs, IDXOptions{Classes: 5}, "lab: record 2: label 7 out of range [0, 5)"},
		{"no images", idxBytes(0x803, []uint32{0, 28, 28}, nil), idxBytes(0x801, []uint32{0}, nil), IDXOptions{}, "img: no image data (0 images of 28x28)"},
		{"huge dims", idxBytes(0x803, []uint32{1 << 30, 1 << 30, 1}, nil), labs, IDXOptions{}, "img: IDX dimensions [1073741824 1073741824] are too large"},
		// A header claiming 128 GB of floats over no data: the gzipped
		// path must not allocate what the header claims.
		{"claims more than the data", idxBytes(0x803, []uint32{1 << 12, 1 << 12, 1 << 11}, nil), labs, IDXOptions{}, "img: truncated: the header says images [4096 4096 2048] (34359738368 bytes), but 0 bytes follow"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseIDX("img", tc.imgs, "lab", tc.labs, tc.opt)
			if err == nil || err.Error() != tc.want {
				t.Errorf("got  %v\nwant %s", err, tc.want)
			}
			// ReadIDX of the images gzipped (converted as they are
			// gunzipped when well formed) says the same.
			dir := t.TempDir()
			img, lab := filepath.Join(dir, "img.gz"), filepath.Join(dir, "lab")
			os.WriteFile(img, gzipped(tc.imgs), 0o644)
			os.WriteFile(lab, tc.labs, 0o644)
			want := strings.ReplaceAll(strings.Replace(tc.want, "lab: ", lab+": ", 1), "img", img)
			if _, err := ReadIDX(img, lab, tc.opt); err == nil || err.Error() != want {
				t.Errorf("gzipped: got  %v\nwant %s", err, want)
			}
		})
	}
	// A corrupt checksum is found after the whole stream is converted.
	bad := gzipped(imgs)
	bad[len(bad)-8] ^= 1
	badPath := filepath.Join(t.TempDir(), "bad.gz")
	os.WriteFile(badPath, bad, 0o644)
	labPath := filepath.Join(t.TempDir(), "lab")
	os.WriteFile(labPath, labs, 0o644)
	if _, err := ReadIDX(badPath, labPath, IDXOptions{}); err == nil || err.Error() != badPath+": bad gzip data: gzip: invalid checksum" {
		t.Errorf("bad checksum: %v", err)
	}
	// Well formed, streamed: the same dataset as ParseIDX's.
	okPath := filepath.Join(t.TempDir(), "ok.gz")
	os.WriteFile(okPath, gzipped(imgs), 0o644)
	got, err := ReadIDX(okPath, labPath, IDXOptions{})
	want, err2 := ParseIDX(okPath, imgs, labPath, labs, IDXOptions{})
	if err != nil || err2 != nil || !cmp.Equal(got, want, cmpopts.IgnoreUnexported(Field{})) {
		t.Errorf("streamed %+v, %v; in memory %+v, %v", got, err, want, err2)
	}

	dir := t.TempDir()
	gzImages, _ := os.ReadFile("testdata/tiny-images-idx3-ubyte.gz")
	trunc := filepath.Join(dir, "trunc-images.gz")
	os.WriteFile(trunc, gzImages[:len(gzImages)-20], 0o644)
	_, err = ReadIDX(trunc, "testdata/tiny-labels-idx1-ubyte", IDXOptions{})
	if err == nil || err.Error() != trunc+": truncated gzip data" {
		t.Errorf("truncated gzip: %v", err)
	}
	_, err = ReadIDX("testdata/tiny-images-idx3-ubyte.gz", filepath.Join(dir, "nope"), IDXOptions{})
	if err == nil || err.Error() != filepath.Join(dir, "nope")+": no such file" {
		t.Errorf("missing labels: %v", err)
	}
}

// TestRealIDX reads MNIST and Fashion-MNIST when they are on this machine
// (scripts/fetch-data.sh says how to get them) and skips otherwise.
func TestRealIDX(t *testing.T) {
	if testing.Short() {
		t.Skip("short mode")
	}
	fashion := os.Getenv("FASHION_MNIST_DIR")
	if fashion == "" {
		fashion = "/usr/share/datasets/fashion-mnist"
	}
	sets := map[string]string{"fashion-mnist": fashion}
	if dir := mnistDir(); dir != "" {
		sets["mnist"] = dir
	}
	found := false
	for name, dir := range sets {
		images := filepath.Join(dir, "t10k-images-idx3-ubyte.gz")
		labels := filepath.Join(dir, "t10k-labels-idx1-ubyte.gz")
		if _, err := os.Stat(images); err != nil {
			continue
		}
		found = true
		t.Run(name, func(t *testing.T) {
			d, err := ReadIDX(images, labels, IDXOptions{Classes: 10})
			if err != nil {
				t.Fatal(err)
			}
			if err := d.Validate(); err != nil {
				t.Fatal(err)
			}
			counts, _ := d.ClassCounts("label")
			if d.N != 10000 || d.Field("image").Type() != "f32[1, 28, 28]" || len(counts) != 10 {
				t.Errorf("N %d, %s, %d classes", d.N, d.Field("image").Type(), len(counts))
			}
			for c, n := range counts {
				if n < 800 || n > 1200 {
					t.Errorf("class %d has %d samples", c, n)
				}
			}
		})
	}
	if !found {
		t.Skip("neither MNIST nor Fashion-MNIST found; see scripts/fetch-data.sh")
	}
}

// mnistDir finds GoMNIST's data folder: $MNIST_DIR (as printed by
// scripts/fetch-data.sh) or the module cache.
func mnistDir() string {
	if dir := os.Getenv("MNIST_DIR"); dir != "" {
		return dir
	}
	cache := os.Getenv("GOMODCACHE")
	if cache == "" {
		gopath := os.Getenv("GOPATH")
		if gopath == "" {
			home, err := os.UserHomeDir()
			if err != nil {
				return ""
			}
			gopath = filepath.Join(home, "go")
		}
		cache = filepath.Join(filepath.SplitList(gopath)[0], "pkg", "mod")
	}
	return filepath.Join(cache, "github.com", "petar", "!go!m!n!i!s!t@v0.0.0-20150320212226-2fbe10d0fa63", "data")
}

func gzipped(b []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	zw.Close()
	return buf.Bytes()
}

// BenchmarkReadMNIST reads MNIST's training IDX pair (60,000 images,
// gzipped) when it is on this machine.
func BenchmarkReadMNIST(b *testing.B) {
	dir := mnistDir()
	images := filepath.Join(dir, "train-images-idx3-ubyte.gz")
	if _, err := os.Stat(images); dir == "" || err != nil {
		b.Skip("MNIST is not on this machine (scripts/fetch-data.sh)")
	}
	for range b.N {
		if _, err := ReadIDX(images, filepath.Join(dir, "train-labels-idx1-ubyte.gz"), IDXOptions{Classes: 10}); err != nil {
			b.Fatal(err)
		}
	}
}

// TestGzipSizeHint: the gzip trailer's size reserves the output buffer
// only when the compressed data could expand to it, so a small file with
// a forged trailer does not reserve a gigabyte; the data still decodes or
// fails with its usual error.
func TestGzipSizeHint(t *testing.T) {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(bytes.Repeat([]byte{7}, 5000))
	zw.Close()
	good := buf.Bytes()
	if got := sizeHint(good); got != 5000 {
		t.Errorf("hint of a real file: %d, want 5000", got)
	}
	forged := append([]byte(nil), good...)
	binary.LittleEndian.PutUint32(forged[len(forged)-4:], 900<<20)
	if got := sizeHint(forged); got != 0 {
		t.Errorf("hint of a %d-byte file claiming 900 MiB: %d, want 0", len(forged), got)
	}
	if got := sizeHint(good[:10]); got != 0 {
		t.Errorf("hint of a 10-byte prefix: %d", got)
	}
	// The forged trailer's data still fails as corrupt gzip (its size
	// check), not with an allocation.
	if _, err := maybeGunzip("x.gz", forged); err == nil || !strings.Contains(err.Error(), "gzip") {
		t.Errorf("forged trailer: %v", err)
	}
	out, err := maybeGunzip("x.gz", good)
	if err != nil || len(out) != 5000 {
		t.Fatalf("real file: %d bytes, %v", len(out), err)
	}
}
