package data

import (
	"bytes"
	"compress/gzip"
	"errors"
	"os"
	"testing"
)

// Bad input of any shape is an *Error, never a panic.

func FuzzParseCSV(f *testing.F) {
	if b, err := os.ReadFile("testdata/small.csv"); err == nil {
		f.Add(b, false)
	}
	f.Add([]byte("1,2,0\n3,4,1\n"), true)
	f.Add([]byte("a,label\n\"1\n\",2\n"), false)
	f.Fuzz(func(t *testing.T, b []byte, noHeader bool) {
		opt := CSVOptions{Label: "label"}
		if noHeader {
			opt = CSVOptions{NoHeader: true, Label: "0"}
		}
		d, err := ParseCSV("f.csv", b, opt)
		if err != nil {
			var de *Error
			if !errors.As(err, &de) {
				t.Fatalf("error %T %q is not *Error", err, err)
			}
			return
		}
		if err := d.Validate(); err != nil {
			t.Fatalf("parsed dataset is invalid: %v", err)
		}
	})
}

func FuzzParseIDX(f *testing.F) {
	f.Add(idxBytes(0x803, []uint32{2, 1, 2}, []byte{1, 2, 3, 4}), idxBytes(0x801, []uint32{2}, []byte{0, 1}))
	f.Fuzz(func(t *testing.T, imgs, labs []byte) {
		d, err := ParseIDX("i", imgs, "l", labs, IDXOptions{})
		if err != nil {
			var de *Error
			if !errors.As(err, &de) {
				t.Fatalf("error %T %q is not *Error", err, err)
			}
			return
		}
		if err := d.Validate(); err != nil {
			t.Fatalf("parsed dataset is invalid: %v", err)
		}
	})
}

// FuzzStreamIDX: the gzipped images path (pixels converted while
// gunzipping) accepts exactly what the whole-file path accepts and gives
// the same pixels; anything it declines, including a header claiming
// more than the data, it declines without allocating the claim (an
// out-of-memory is fatal, not a test failure, so the fuzzer would stop).
// cut truncates the gzip stream, to reach its error paths.
func FuzzStreamIDX(f *testing.F) {
	f.Add(idxBytes(0x803, []uint32{2, 1, 2}, []byte{1, 2, 3, 4}), uint16(0))
	f.Add(idxBytes(0x803, []uint32{1 << 12, 1 << 12, 1 << 11}, nil), uint16(0))
	f.Add(idxBytes(0x803, []uint32{2, 2, 2}, []byte{1, 2, 3, 4, 5, 6, 7, 8, 9}), uint16(5))
	f.Fuzz(func(t *testing.T, imgs []byte, cut uint16) {
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		zw.Write(imgs)
		zw.Close()
		z := buf.Bytes()
		if int(cut) < len(z) && cut > 0 {
			z = z[:len(z)-int(cut)]
		}
		dims, img := streamIDXImages(z)
		if img == nil {
			return
		}
		if int(cut) > 0 && int(cut) < buf.Len() {
			t.Fatalf("a gzip stream cut by %d bytes was accepted", cut)
		}
		ddims, pix, err := idxHeader("i", imgs, IDXImagesMagic, "images")
		if err != nil {
			t.Fatalf("streamed %v, but the whole-file path says %v", dims, err)
		}
		if len(pix) != len(img) || len(ddims) != len(dims) {
			t.Fatalf("streamed %v (%d pixels), whole file %v (%d)", dims, len(img), ddims, len(pix))
		}
		for i := range dims {
			if dims[i] != ddims[i] {
				t.Fatalf("streamed dims %v, whole file %v", dims, ddims)
			}
		}
		for i, p := range pix {
			if img[i] != p {
				t.Fatalf("pixel %d: streamed %v, whole file %d", i, img[i], p)
			}
		}
	})
}
