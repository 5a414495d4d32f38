package safetensors

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func sample() ([]*Tensor, map[string]string) {
	return []*Tensor{
		FromFloat32("encoder.fc1.weight", []int{2, 3}, []float32{1, 2, 3, -4, 5.5, float32(math.Inf(1))}),
		FromFloat32("encoder.fc1.bias", []int{2}, []float32{0.25, -0.125}),
		FromInt32("step", nil, []int32{42}),
		FromInt64("rng", []int{2}, []int64{-1, 1 << 40}),
		{Name: "mask", DType: Bool, Shape: []int{3}, Data: []byte{1, 0, 1}},
		{Name: "empty", DType: F32, Shape: []int{0, 5}, Data: nil},
	}, map[string]string{"epoch": "3", "source_hash": "abc", "format": "pt"}
}

func TestRoundTrip(t *testing.T) {
	ts, md := sample()
	b, err := Marshal(ts, md)
	if err != nil {
		t.Fatal(err)
	}
	hl := binary.LittleEndian.Uint64(b)
	if hl%8 != 0 {
		t.Errorf("header length %d is not a multiple of 8", hl)
	}
	f, err := Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(md, f.Metadata); d != "" {
		t.Errorf("metadata (-want +got):\n%s", d)
	}
	want := []string{"empty", "encoder.fc1.bias", "encoder.fc1.weight", "mask", "rng", "step"}
	if d := cmp.Diff(want, f.Names()); d != "" {
		t.Errorf("names (-want +got):\n%s", d)
	}
	for _, w := range ts {
		g := f.Get(w.Name)
		if g == nil {
			t.Fatalf("tensor %q missing", w.Name)
		}
		if g.DType != w.DType || !cmp.Equal(g.Shape, w.Shape, cmpShape) || !bytes.Equal(g.Data, w.Data) {
			t.Errorf("tensor %q: got %s%v %x, want %s%v %x", w.Name, g.DType, g.Shape, g.Data, w.DType, w.Shape, w.Data)
		}
	}
	w, _ := f.Get("encoder.fc1.weight").Float32()
	if d := cmp.Diff([]float32{1, 2, 3, -4, 5.5, float32(math.Inf(1))}, w); d != "" {
		t.Errorf("Float32 (-want +got):\n%s", d)
	}
	s, _ := f.Get("step").Int32()
	r, _ := f.Get("rng").Int32()
	if s[0] != 42 {
		t.Errorf("step = %v", s)
	}
	if r != nil {
		t.Errorf("rng as int32 = %v, want an error (1<<40 does not fit)", r)
	}

	// Deterministic: input order does not matter, output is identical.
	rev := make([]*Tensor, len(ts))
	for i := range ts {
		rev[len(ts)-1-i] = ts[i]
	}
	b2, err := Marshal(rev, md)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b, b2) {
		t.Error("Marshal output depends on input order")
	}
	// Writing what was read reproduces the bytes.
	b3, err := Marshal(f.Tensors, f.Metadata)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b, b3) {
		t.Error("Marshal(Parse(b)) != b")
	}
}

var cmpShape = cmp.Comparer(func(a, b []int) bool {
	return len(a) == len(b) && (len(a) == 0 || cmp.Equal(a, b))
})

func TestMarshalErrors(t *testing.T) {
	for _, tc := range []struct {
		ts   []*Tensor
		want string
	}{
		{[]*Tensor{FromInt32("a", []int{1}, []int32{1}), FromInt32("a", []int{1}, []int32{2})}, `duplicate tensor "a"`},
		{[]*Tensor{FromInt32("", []int{1}, []int32{1})}, "empty tensor name"},
		{[]*Tensor{FromInt32("__metadata__", []int{1}, []int32{1})}, "reserved"},
		{[]*Tensor{{Name: "x", DType: "F7", Shape: []int{1}, Data: []byte{1}}}, `unknown dtype "F7"`},
		{[]*Tensor{FromFloat32("x", []int{3}, []float32{1, 2})}, `tensor "x": 8 bytes of data, but F32[3] needs 12`},
	} {
		if _, err := Marshal(tc.ts, nil); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Marshal: got %v, want %q", err, tc.want)
		}
	}
}

func TestWriteAtomic(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "ckpt.safetensors")
	ts, md := sample()
	if err := Write(path, ts, md); err != nil {
		t.Fatal(err)
	}
	first, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o644 {
		t.Errorf("mode %v, want 0644", fi.Mode().Perm())
	}
	f, err := Read(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Tensors) != len(ts) {
		t.Errorf("read %d tensors, want %d", len(f.Tensors), len(ts))
	}

	// A failing write leaves the old file and no temporary behind.
	bad := append(ts, FromInt32("step", nil, []int32{1}))
	if err := Write(path, bad, md); err == nil {
		t.Fatal("Write with a duplicate name succeeded")
	}
	if now, _ := os.ReadFile(path); !bytes.Equal(now, first) {
		t.Error("failed Write changed the file")
	}
	// Overwrite.
	if err := Write(path, ts[:1], nil); err != nil {
		t.Fatal(err)
	}
	if f, err := Read(path); err != nil || len(f.Tensors) != 1 {
		t.Errorf("after overwrite: %v, %v", f, err)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		t.Errorf("directory holds %v, want only ckpt.safetensors", names)
	}
	// A directory that does not exist is an error, not a panic.
	if err := Write(filepath.Join(dir, "no", "x.safetensors"), ts, nil); err == nil {
		t.Error("Write into a missing directory succeeded")
	}
}

// file builds a safetensors file from a header string and a buffer.
func file(header string, buf []byte) []byte {
	b := make([]byte, 8, 8+len(header)+len(buf))
	binary.LittleEndian.PutUint64(b, uint64(len(header)))
	b = append(b, header...)
	return append(b, buf...)
}

func TestCorrupt(t *testing.T) {
	good := file(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`, make([]byte, 8))
	if _, err := Parse(good); err != nil {
		t.Fatalf("good file: %v", err)
	}
	huge := make([]byte, 8)
	binary.LittleEndian.PutUint64(huge, 1<<62)
	beyond := make([]byte, 16)
	binary.LittleEndian.PutUint64(beyond, 100)

	for _, tc := range []struct {
		name string
		b    []byte
		want string
	}{
		{"empty", nil, "truncated: 0 bytes"},
		{"short length", []byte{1, 2, 3}, "truncated: 3 bytes"},
		{"header beyond file", beyond, "truncated: header length 100 but only 8 bytes follow"},
		{"huge header", huge, "exceeds the limit"},
		{"truncated data", good[:len(good)-1], `tensor "a": data_offsets [0, 8] beyond the 7-byte buffer`},
		{"not json", file(`{"a":`, nil), "header: "},
		{"not object", file(`[1,2]`, nil), "does not start with '{'"},
		{"garbage after", file(`{} x`, nil), "unexpected data after the JSON object"},
		{"bad utf8", file("{\"\xff\":1}", nil), "not valid UTF-8"},
		{"duplicate", file(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, make([]byte, 8)), `duplicate tensor "a"`},
		{"duplicate metadata", file(`{"__metadata__":{},"__metadata__":{}}`, nil), "duplicate __metadata__"},
		{"empty name", file(`{"":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, make([]byte, 4)), "empty tensor name"},
		{"unknown dtype", file(`{"a":{"dtype":"F31","shape":[1],"data_offsets":[0,4]}}`, make([]byte, 4)), `unknown dtype "F31"`},
		{"missing dtype", file(`{"a":{"shape":[1],"data_offsets":[0,4]}}`, make([]byte, 4)), "missing dtype"},
		{"missing shape", file(`{"a":{"dtype":"F32","data_offsets":[0,4]}}`, make([]byte, 4)), "missing shape"},
		{"missing offsets", file(`{"a":{"dtype":"F32","shape":[1]}}`, make([]byte, 4)), "missing data_offsets"},
		{"unknown key", file(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4],"x":1}}`, make([]byte, 4)), `unknown field "x"`},
		{"entry not object", file(`{"a":3}`, nil), `tensor "a": json`},
		{"three offsets", file(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4,8]}}`, make([]byte, 4)), "data_offsets has 3 values"},
		{"reversed offsets", file(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,0]}}`, make([]byte, 4)), "bad data_offsets [4, 0]"},
		{"negative offset", file(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[-4,0]}}`, make([]byte, 4)), "bad data_offsets [-4, 0]"},
		{"negative dim", file(`{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}`, make([]byte, 4)), "negative dimension"},
		{"float dim", file(`{"a":{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}}`, make([]byte, 4)), `tensor "a": json`},
		{"huge shape", file(`{"a":{"dtype":"F64","shape":[4294967296,4294967296],"data_offsets":[0,4]}}`, make([]byte, 4)), "too large"},
		{"size mismatch", file(`{"a":{"dtype":"F32","shape":[2,2],"data_offsets":[0,8]}}`, make([]byte, 8)), `data_offsets [0, 8] hold 8 bytes, but F32[2 2] needs 16`},
		{"overlap", file(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, make([]byte, 8)), `tensor "b": data_offsets [4, 8] overlap`},
		{"hole", file(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}`, make([]byte, 12)), "leaving a hole at [4, 8]"},
		{"uncovered tail", file(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, make([]byte, 6)), "the buffer has 6 bytes but the tensors cover only 4"},
		{"metadata not strings", file(`{"__metadata__":{"epoch":3}}`, nil), `__metadata__["epoch"] is not a string`},
		{"metadata not object", file(`{"__metadata__":[1]}`, nil), "__metadata__ is not an object"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(tc.b)
			if err == nil {
				t.Fatalf("Parse succeeded, want an error containing %q", tc.want)
			}
			if !errors.Is(err, ErrFormat) {
				t.Errorf("error %q does not wrap ErrFormat", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %q, want it to contain %q", err, tc.want)
			}
			// ReadHeader finds the same fault without reading the data.
			path := filepath.Join(t.TempDir(), "x.safetensors")
			if err := os.WriteFile(path, tc.b, 0o644); err != nil {
				t.Fatal(err)
			}
			_, err = ReadHeader(path)
			if err == nil || !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), path+": ") {
				t.Errorf("ReadHeader: got %v, want %s: ... %q", err, path, tc.want)
			}
		})
	}
}

func TestReadHeader(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "x.safetensors")
	ts, md := sample()
	if err := Write(path, ts, md); err != nil {
		t.Fatal(err)
	}
	full, err := Read(path)
	if err != nil {
		t.Fatal(err)
	}
	h, err := ReadHeader(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(h.Tensors) != len(full.Tensors) || !reflect.DeepEqual(h.Metadata, full.Metadata) {
		t.Fatalf("ReadHeader: %d tensors, metadata %v; Read: %d, %v", len(h.Tensors), h.Metadata, len(full.Tensors), full.Metadata)
	}
	for i, x := range h.Tensors {
		y := full.Tensors[i]
		if x.Name != y.Name || x.DType != y.DType || !reflect.DeepEqual(x.Shape, y.Shape) || x.Data != nil || h.Get(x.Name) != x {
			t.Errorf("tensor %d: ReadHeader %s %s %v (data %d bytes), Read %s %s %v", i, x.Name, x.DType, x.Shape, len(x.Data), y.Name, y.DType, y.Shape)
		}
	}
	if _, err := ReadHeader(filepath.Join(dir, "missing.safetensors")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("ReadHeader missing file: %v", err)
	}
}

func TestReadNamesFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "bad.safetensors")
	ts, _ := sample()
	b, _ := Marshal(ts, nil)
	if err := os.WriteFile(path, b[:len(b)-3], 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Read(path)
	if err == nil || !strings.HasPrefix(err.Error(), path+": ") || !errors.Is(err, ErrFormat) {
		t.Errorf("Read truncated file: %v", err)
	}
	if _, err := Read(filepath.Join(dir, "missing.safetensors")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Read missing file: %v", err)
	}
}

func TestPaddingAndZeroSize(t *testing.T) {
	// Spaces after the JSON object, an empty header and zero-size tensors
	// are all valid.
	for _, b := range [][]byte{
		file(`{}      `, nil),
		file(`{"__metadata__":null}`, nil),
		file(`{"z":{"dtype":"F32","shape":[0],"data_offsets":[0,0]},"a":{"dtype":"U8","shape":[],"data_offsets":[0,1]}}`, []byte{9}),
	} {
		if _, err := Parse(b); err != nil {
			t.Errorf("Parse(%q): %v", b[8:], err)
		}
	}
}

func TestF16(t *testing.T) {
	for _, tc := range []struct {
		h    uint16
		want float32
	}{
		{0x3c00, 1}, {0xc100, -2.5}, {0x7bff, 65504}, {0x0400, 6.103515625e-05},
		{0x0001, 5.960464477539063e-08}, {0x03ff, 6.097555160522461e-05},
		{0x8000, float32(math.Copysign(0, -1))}, {0x7c00, float32(math.Inf(1))},
		{0xfc00, float32(math.Inf(-1))}, {0x3555, 0.333251953125},
	} {
		got := F16ToF32(tc.h)
		if math.Float32bits(got) != math.Float32bits(tc.want) {
			t.Errorf("F16ToF32(%#04x) = %v, want %v", tc.h, got, tc.want)
		}
	}
	if v := F16ToF32(0x7e00); !math.IsNaN(float64(v)) {
		t.Errorf("F16ToF32(NaN) = %v", v)
	}
	// Every finite half converts to a float32 that converts back exactly
	// (through float64 rounding to the 11-bit significand).
	for h := 0; h < 1<<16; h++ {
		v := float64(F16ToF32(uint16(h)))
		if math.IsNaN(v) || math.IsInf(v, 0) {
			continue
		}
		exp := (h >> 10) & 0x1f
		mant := h & 0x3ff
		var want float64
		if exp == 0 {
			want = math.Ldexp(float64(mant), -24)
		} else {
			want = math.Ldexp(float64(mant|0x400), exp-25)
		}
		if h&0x8000 != 0 {
			want = -want
		}
		if v != want {
			t.Fatalf("F16ToF32(%#04x) = %v, want %v", h, v, want)
		}
	}
}

type fixtureTensor struct {
	DType  DType     `json:"dtype"`
	Shape  []int     `json:"shape"`
	Values []float64 `json:"values"`
}

// TestTorchFixtures reads files written from PyTorch tensors by
// scripts/make_safetensors_fixture.py and checks every value exactly.
func TestTorchFixtures(t *testing.T) {
	jb, err := os.ReadFile("testdata/torch_fixture.json")
	if err != nil {
		t.Fatal(err)
	}
	var want map[string]fixtureTensor
	if err := json.Unmarshal(jb, &want); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, name := range []string{"torch_mlp.safetensors", "torch_dtypes.safetensors"} {
		f, err := Read(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		if name == "torch_mlp.safetensors" {
			if d := cmp.Diff([]string{"0.bias", "0.weight", "2.bias", "2.weight"}, f.Names()); d != "" {
				t.Errorf("names (-want +got):\n%s", d)
			}
			if f.Metadata["format"] != "pt" {
				t.Errorf("metadata = %v", f.Metadata)
			}
		}
		for _, tn := range f.Tensors {
			seen[tn.Name] = true
			w, ok := want[tn.Name]
			if !ok {
				t.Errorf("%s: unexpected tensor %q", name, tn.Name)
				continue
			}
			if tn.DType != w.DType || !cmp.Equal(tn.Shape, w.Shape, cmpShape) {
				t.Errorf("%s: %q is %s%v, want %s%v", name, tn.Name, tn.DType, tn.Shape, w.DType, w.Shape)
			}
			switch tn.DType {
			case F32, F16, BF16, F64:
				got, err := tn.Float32()
				if err != nil {
					t.Fatal(err)
				}
				for i, v := range w.Values {
					if math.Float32bits(got[i]) != math.Float32bits(float32(v)) {
						t.Errorf("%q[%d] = %v, want %v", tn.Name, i, got[i], float32(v))
					}
				}
			default:
				got, err := tn.Int32()
				if tn.Name == "i64" {
					// Holds int32's extremes: fits.
					if err != nil {
						t.Fatal(err)
					}
				} else if err != nil {
					t.Fatal(err)
				}
				for i, v := range w.Values {
					if got[i] != int32(v) {
						t.Errorf("%q[%d] = %v, want %v", tn.Name, i, got[i], v)
					}
				}
			}
		}
	}
	for name := range want {
		if !seen[name] {
			t.Errorf("tensor %q not found in the fixture files", name)
		}
	}
}

func TestConvertErrors(t *testing.T) {
	if _, err := FromInt32("x", []int{1}, []int32{1}).Float32(); err == nil {
		t.Error("I32 as float32 succeeded")
	}
	if _, err := FromFloat32("x", []int{1}, []float32{1}).Int32(); err == nil {
		t.Error("F32 as int32 succeeded")
	}
	b := &Tensor{Name: "b", DType: Bool, Shape: []int{2}, Data: []byte{1, 2}}
	if _, err := b.Int32(); err == nil || !strings.Contains(err.Error(), "element 1 is 2, not a bool") {
		t.Errorf("bad bool: %v", err)
	}
	short := &Tensor{Name: "s", DType: F32, Shape: []int{2}, Data: make([]byte, 4)}
	if _, err := short.Float32(); err == nil {
		t.Error("short data as float32 succeeded")
	}
}

func FuzzParse(f *testing.F) {
	ts, md := sample()
	b, _ := Marshal(ts, md)
	f.Add(b)
	for _, name := range []string{"torch_mlp.safetensors", "torch_dtypes.safetensors"} {
		if fb, err := os.ReadFile(filepath.Join("testdata", name)); err == nil {
			f.Add(fb)
		}
	}
	f.Add(file(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`, make([]byte, 8)))
	f.Fuzz(func(t *testing.T, b []byte) {
		file, err := Parse(b)
		if err != nil {
			if !errors.Is(err, ErrFormat) {
				t.Fatalf("error %q does not wrap ErrFormat", err)
			}
			return
		}
		// A parsed file re-encodes and parses again to the same tensors.
		out, err := Marshal(file.Tensors, file.Metadata)
		if err != nil {
			t.Fatalf("Marshal of a parsed file: %v", err)
		}
		again, err := Parse(out)
		if err != nil {
			t.Fatalf("Parse of re-encoded file: %v", err)
		}
		if len(again.Tensors) != len(file.Tensors) {
			t.Fatalf("%d tensors after round trip, want %d", len(again.Tensors), len(file.Tensors))
		}
		for _, tn := range file.Tensors {
			g := again.Get(tn.Name)
			if g == nil || g.DType != tn.DType || !bytes.Equal(g.Data, tn.Data) {
				t.Fatalf("tensor %q changed in the round trip", tn.Name)
			}
			switch tn.DType {
			case F32, F16, BF16, F64:
				tn.Float32()
			default:
				tn.Int32()
			}
		}
	})
}
