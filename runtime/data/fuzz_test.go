package data

import (
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
