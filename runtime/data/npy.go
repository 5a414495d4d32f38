package data

// This file reads and writes NumPy .npy files (format versions 1.0 to
// 3.0): one array, C order, little-endian, of the dtypes encc's tensors
// have. It lets `encc predict` take token ids or features made by other
// tools and write raw outputs at full precision.

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"regexp"
	"strconv"
	"strings"
)

// An Array is a dense array read from an .npy file: its shape and its
// elements in C order, in F32 (f2, f4, f8 files), I32 (integer files,
// range-checked) or Bool, whichever Kind says.
type Array struct {
	Kind  ArrayKind
	Shape []int
	F32   []float32
	I32   []int32
	Bool  []bool
}

// Len is the number of elements of a.
func (a *Array) Len() int {
	n := 1
	for _, d := range a.Shape {
		n *= d
	}
	return n
}

// ArrayKind is the element type of an Array.
type ArrayKind uint8

// Array kinds.
const (
	ArrayF32 ArrayKind = iota + 1
	ArrayI32
	ArrayBool
)

var npyMagic = []byte("\x93NUMPY")

// maxNPYHeader bounds the header a reader accepts.
const maxNPYHeader = 1 << 20

var (
	descrRE = regexp.MustCompile(`'descr'\s*:\s*'([<>|=])([a-z])(\d+)'`)
	orderRE = regexp.MustCompile(`'fortran_order'\s*:\s*(True|False)`)
	shapeRE = regexp.MustCompile(`'shape'\s*:\s*\(([^)]*)\)`)
)

// ReadNPY reads the .npy file at path. Errors name the file.
func ReadNPY(path string) (*Array, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	a, err := readNPY(f, st.Size())
	if err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	return a, nil
}

func readNPY(r io.Reader, size int64) (*Array, error) {
	var pre [8]byte
	if _, err := io.ReadFull(r, pre[:]); err != nil || !bytes.Equal(pre[:6], npyMagic) {
		return nil, errors.New("not an .npy file (no \\x93NUMPY magic)")
	}
	var hlen int
	switch pre[6] {
	case 1:
		var b [2]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return nil, errors.New("truncated .npy header")
		}
		hlen = int(binary.LittleEndian.Uint16(b[:]))
	case 2, 3:
		var b [4]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return nil, errors.New("truncated .npy header")
		}
		hlen = int(binary.LittleEndian.Uint32(b[:]))
	default:
		return nil, fmt.Errorf(".npy format version %d.%d is not supported", pre[6], pre[7])
	}
	if hlen > maxNPYHeader {
		return nil, fmt.Errorf(".npy header of %d bytes is over the limit", hlen)
	}
	hdr := make([]byte, hlen)
	if _, err := io.ReadFull(r, hdr); err != nil {
		return nil, errors.New("truncated .npy header")
	}
	h := string(hdr)
	dm := descrRE.FindStringSubmatch(h)
	om := orderRE.FindStringSubmatch(h)
	sm := shapeRE.FindStringSubmatch(h)
	if dm == nil || om == nil || sm == nil {
		return nil, fmt.Errorf("bad .npy header %.100q", strings.TrimSpace(h))
	}
	if om[1] == "True" {
		return nil, errors.New("a Fortran-order array is not supported: save it in C order (np.ascontiguousarray)")
	}
	a := &Array{}
	total := int64(1)
	for _, s := range strings.Split(sm[1], ",") {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("bad .npy shape (%s)", sm[1])
		}
		a.Shape = append(a.Shape, n)
		if total *= int64(n); total > 1<<40 {
			return nil, fmt.Errorf("bad .npy shape (%s): too many elements", sm[1])
		}
	}
	order, kind := dm[1], dm[2]
	width, _ := strconv.Atoi(dm[3])
	if order == ">" && width > 1 {
		return nil, fmt.Errorf("big-endian dtype %s%s%s is not supported", order, kind, dm[3])
	}
	switch {
	case kind == "f" && (width == 2 || width == 4 || width == 8):
		a.Kind = ArrayF32
	case (kind == "i" || kind == "u") && (width == 1 || width == 2 || width == 4 || width == 8):
		a.Kind = ArrayI32
	case kind == "b" && width == 1:
		a.Kind = ArrayBool
	default:
		return nil, fmt.Errorf("dtype %s%s%s is not supported (have: floats, integers, bool)", order, kind, dm[3])
	}
	n := int(total)
	want := total * int64(width)
	if size > 0 && want > size {
		return nil, fmt.Errorf("truncated: %d elements of %d bytes need %d bytes, the file has %d", n, width, want, size)
	}
	raw := make([]byte, want)
	if k, err := io.ReadFull(r, raw); err != nil {
		return nil, fmt.Errorf("truncated: %d of %d bytes of data", k, want)
	}
	switch a.Kind {
	case ArrayF32:
		a.F32 = make([]float32, n)
		for i := range a.F32 {
			switch width {
			case 2:
				a.F32[i] = halfToFloat(binary.LittleEndian.Uint16(raw[2*i:]))
			case 4:
				a.F32[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
			case 8:
				a.F32[i] = float32(math.Float64frombits(binary.LittleEndian.Uint64(raw[8*i:])))
			}
		}
	case ArrayI32:
		a.I32 = make([]int32, n)
		for i := range a.I32 {
			var v int64
			switch {
			case width == 1 && kind == "i":
				v = int64(int8(raw[i]))
			case width == 1:
				v = int64(raw[i])
			case width == 2 && kind == "i":
				v = int64(int16(binary.LittleEndian.Uint16(raw[2*i:])))
			case width == 2:
				v = int64(binary.LittleEndian.Uint16(raw[2*i:]))
			case width == 4 && kind == "i":
				v = int64(int32(binary.LittleEndian.Uint32(raw[4*i:])))
			case width == 4:
				v = int64(binary.LittleEndian.Uint32(raw[4*i:]))
			case kind == "i":
				v = int64(binary.LittleEndian.Uint64(raw[8*i:]))
			default:
				u := binary.LittleEndian.Uint64(raw[8*i:])
				if u > math.MaxInt64 {
					return nil, fmt.Errorf("element %d: %d does not fit in 32 bits", i, u)
				}
				v = int64(u)
			}
			if v < math.MinInt32 || v > math.MaxInt32 {
				return nil, fmt.Errorf("element %d: %d does not fit in 32 bits", i, v)
			}
			a.I32[i] = int32(v)
		}
	case ArrayBool:
		a.Bool = make([]bool, n)
		for i, b := range raw {
			a.Bool[i] = b != 0
		}
	}
	return a, nil
}

// halfToFloat converts an IEEE binary16 to float32.
func halfToFloat(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := int(h>>10) & 0x1f
	mant := uint32(h & 0x3ff)
	switch {
	case exp == 0x1f:
		return math.Float32frombits(sign | 0x7f800000 | mant<<13)
	case exp == 0:
		if mant == 0 {
			return math.Float32frombits(sign)
		}
		f := float32(mant) / 1024 / 16384 // subnormal: mant × 2^-24
		if sign != 0 {
			f = -f
		}
		return f
	}
	return math.Float32frombits(sign | uint32(exp-15+127)<<23 | mant<<13)
}

// EncodeNPY returns the .npy (version 1.0) encoding of a float32 array
// of the given shape, little-endian, C order: the full precision of the
// values.
func EncodeNPY(shape []int, v []float32) []byte {
	dims := make([]string, len(shape))
	for i, d := range shape {
		dims[i] = strconv.Itoa(d)
	}
	tuple := strings.Join(dims, ", ")
	if len(shape) == 1 {
		tuple += ","
	}
	h := fmt.Sprintf("{'descr': '<f4', 'fortran_order': False, 'shape': (%s), }", tuple)
	// Pad with spaces and end with a newline so that the data starts at
	// a multiple of 64 bytes.
	total := len(npyMagic) + 2 + 2 + len(h) + 1
	h += strings.Repeat(" ", (64-total%64)%64) + "\n"
	var buf bytes.Buffer
	buf.Write(npyMagic)
	buf.Write([]byte{1, 0})
	binary.Write(&buf, binary.LittleEndian, uint16(len(h)))
	buf.WriteString(h)
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	buf.Write(b)
	return buf.Bytes()
}
