package data

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func npyFile(t *testing.T, version byte, descr, shape string, raw []byte) string {
	t.Helper()
	h := fmt.Sprintf("{'descr': '%s', 'fortran_order': False, 'shape': %s, }\n", descr, shape)
	var b bytes.Buffer
	b.WriteString("\x93NUMPY")
	b.WriteByte(version)
	b.WriteByte(0)
	if version == 1 {
		binary.Write(&b, binary.LittleEndian, uint16(len(h)))
	} else {
		binary.Write(&b, binary.LittleEndian, uint32(len(h)))
	}
	b.WriteString(h)
	b.Write(raw)
	path := filepath.Join(t.TempDir(), "a.npy")
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestReadNPY(t *testing.T) {
	le := func(vs ...any) []byte {
		var b bytes.Buffer
		for _, v := range vs {
			binary.Write(&b, binary.LittleEndian, v)
		}
		return b.Bytes()
	}
	for _, tc := range []struct {
		version      byte
		descr, shape string
		raw          []byte
		want         string
	}{
		{1, "<f4", "(2, 2)", le(float32(1), float32(-2.5), float32(3), float32(4)), "f32 [2 2] [1 -2.5 3 4]"},
		{2, "<f8", "(3,)", le(1.5, math.Inf(1), math.Copysign(0, -1)), "f32 [3] [1.5 +Inf -0]"},
		{1, "<f2", "(2,)", le(uint16(0x3c00), uint16(0xc100)), "f32 [2] [1 -2.5]"},
		{3, "<i4", "(1, 2)", le(int32(7), int32(-1)), "i32 [1 2] [7 -1]"},
		{1, "|u1", "(3,)", []byte{0, 200, 255}, "i32 [3] [0 200 255]"},
		{1, "<i8", "(2,)", le(int64(1), int64(1<<40)), "error: element 1: 1099511627776 does not fit in 32 bits"},
		{1, "|b1", "(2,)", []byte{1, 0}, "bool [2] [true false]"},
		{1, ">f4", "(1,)", le(float32(1)), "error: big-endian dtype >f4 is not supported"},
		{1, "<c8", "(1,)", le(float32(1), float32(1)), "error: dtype <c8 is not supported"},
		{1, "<f4", "(4,)", le(float32(1)), "error: truncated"},
		{1, "<f4", "(-1,)", nil, "error: bad .npy shape"},
	} {
		path := npyFile(t, tc.version, tc.descr, tc.shape, tc.raw)
		a, err := ReadNPY(path)
		var got string
		switch {
		case err != nil:
			got = "error: " + strings.TrimPrefix(err.Error(), path+": ")
		case a.Kind == ArrayF32:
			got = fmt.Sprint("f32 ", a.Shape, " ", a.F32)
		case a.Kind == ArrayI32:
			got = fmt.Sprint("i32 ", a.Shape, " ", a.I32)
		default:
			got = fmt.Sprint("bool ", a.Shape, " ", a.Bool)
		}
		if !strings.HasPrefix(got, tc.want) {
			t.Errorf("%s %s: got %q, want %q", tc.descr, tc.shape, got, tc.want)
		}
	}
}

func TestEncodeNPYRoundTrip(t *testing.T) {
	v := []float32{1, float32(math.Pi), -0, float32(math.SmallestNonzeroFloat32), math.MaxFloat32, 7}
	b := EncodeNPY([]int{2, 3}, v)
	if (len(b)-4*len(v))%64 != 0 {
		t.Errorf("data starts at %d, not a multiple of 64", len(b)-4*len(v))
	}
	path := filepath.Join(t.TempDir(), "x.npy")
	os.WriteFile(path, b, 0o644)
	a, err := ReadNPY(path)
	if err != nil {
		t.Fatal(err)
	}
	for i := range v {
		if math.Float32bits(a.F32[i]) != math.Float32bits(v[i]) {
			t.Fatalf("element %d: %v, want %v (bits)", i, a.F32[i], v[i])
		}
	}
	if fmt.Sprint(a.Shape) != "[2 3]" {
		t.Errorf("shape %v", a.Shape)
	}
	if b1 := EncodeNPY([]int{4}, nil); !bytes.Contains(b1, []byte("'shape': (4,)")) {
		t.Errorf("a 1-D shape is not a tuple: %q", b1)
	}
}
