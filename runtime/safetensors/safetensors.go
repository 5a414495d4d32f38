package safetensors

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strings"
	"unicode/utf8"
)

// ErrFormat is wrapped by every error about a malformed file.
var ErrFormat = errors.New("invalid safetensors data")

// MaxHeaderLen is the largest header Parse accepts (100 MB, as the
// reference implementation).
const MaxHeaderLen = 100 << 20

// A DType is a safetensors element type, spelled as in the header.
type DType string

// The dtypes of the format.
const (
	F64    DType = "F64"
	F32    DType = "F32"
	F16    DType = "F16"
	BF16   DType = "BF16"
	F8E4M3 DType = "F8_E4M3"
	F8E5M2 DType = "F8_E5M2"
	I64    DType = "I64"
	I32    DType = "I32"
	I16    DType = "I16"
	I8     DType = "I8"
	U64    DType = "U64"
	U32    DType = "U32"
	U16    DType = "U16"
	U8     DType = "U8"
	Bool   DType = "BOOL"
)

var dtypeSizes = map[DType]int{
	F64: 8, F32: 4, F16: 2, BF16: 2, F8E4M3: 1, F8E5M2: 1,
	I64: 8, I32: 4, I16: 2, I8: 1, U64: 8, U32: 4, U16: 2, U8: 1, Bool: 1,
}

// Size reports the size of one element in bytes, or 0 for an unknown
// dtype.
func (d DType) Size() int { return dtypeSizes[d] }

// Valid reports whether d is a dtype of the format.
func (d DType) Valid() bool { return d.Size() > 0 }

// A Tensor is one named tensor. Data holds the raw little-endian bytes,
// len(Data) == NumElements() * DType.Size(). Tensors returned by Parse
// share Data with the parsed buffer.
type Tensor struct {
	Name  string
	DType DType
	Shape []int
	Data  []byte
}

// NumElements reports the product of the shape (1 for a scalar).
func (t *Tensor) NumElements() int {
	n := 1
	for _, d := range t.Shape {
		n *= d
	}
	return n
}

// A File is the content of a safetensors file.
type File struct {
	// Tensors in the order of their data in the buffer.
	Tensors  []*Tensor
	Metadata map[string]string
	byName   map[string]*Tensor
}

// Get returns the named tensor, or nil.
func (f *File) Get(name string) *Tensor { return f.byName[name] }

// Names returns the tensor names, sorted.
func (f *File) Names() []string {
	names := make([]string, 0, len(f.Tensors))
	for _, t := range f.Tensors {
		names = append(names, t.Name)
	}
	slices.Sort(names)
	return names
}

func formatErr(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrFormat}, args...)...)
}

// Read reads and parses the file at path. Errors name the path.
func Read(path string) (*File, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	f, err := Parse(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return f, nil
}

type entry struct {
	Dtype       *string  `json:"dtype"`
	Shape       *[]int64 `json:"shape"`
	DataOffsets *[]int64 `json:"data_offsets"`
}

// Parse parses a safetensors file held in b. The returned tensors' Data
// alias b.
func Parse(b []byte) (*File, error) {
	if len(b) < 8 {
		return nil, formatErr("truncated: %d bytes, shorter than the 8-byte header length", len(b))
	}
	n := binary.LittleEndian.Uint64(b[:8])
	if n > MaxHeaderLen {
		return nil, formatErr("header length %d exceeds the limit of %d bytes", n, MaxHeaderLen)
	}
	if n > uint64(len(b)-8) {
		return nil, formatErr("truncated: header length %d but only %d bytes follow the length", n, len(b)-8)
	}
	return parse(b[8:8+n], b[8+n:], uint64(len(b))-8-n)
}

// ReadHeader reads and parses only the header of the file at path: the
// tensors' names, dtypes and shapes and the metadata, with no Data (nil).
// It checks the header as Parse does, data offsets against the file's
// size, without reading the data. Errors name the path.
func ReadHeader(path string) (*File, error) {
	fd, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer fd.Close()
	st, err := fd.Stat()
	if err != nil {
		return nil, err
	}
	size := uint64(st.Size())
	var nb [8]byte
	if _, err := io.ReadFull(fd, nb[:]); err != nil {
		return nil, fmt.Errorf("%s: %w", path, formatErr("truncated: %d bytes, shorter than the 8-byte header length", size))
	}
	n := binary.LittleEndian.Uint64(nb[:])
	if n > MaxHeaderLen {
		return nil, fmt.Errorf("%s: %w", path, formatErr("header length %d exceeds the limit of %d bytes", n, MaxHeaderLen))
	}
	if n > size-8 {
		return nil, fmt.Errorf("%s: %w", path, formatErr("truncated: header length %d but only %d bytes follow the length", n, size-8))
	}
	header := make([]byte, n)
	if _, err := io.ReadFull(fd, header); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	f, err := parse(header, nil, size-8-n)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return f, nil
}

// parse parses a header whose data buffer is bufLen bytes long; buf is
// that buffer (the tensors' Data alias it) or nil for the header alone.
func parse(header, buf []byte, bufLen uint64) (*File, error) {
	if !utf8.Valid(header) {
		return nil, formatErr("header is not valid UTF-8")
	}
	if len(header) == 0 || header[0] != '{' {
		return nil, formatErr("header does not start with '{'")
	}

	dec := json.NewDecoder(bytes.NewReader(header))
	dec.UseNumber()
	if _, err := dec.Token(); err != nil {
		return nil, formatErr("header: %v", err)
	}
	f := &File{byName: map[string]*Tensor{}}
	type span struct {
		t          *Tensor
		begin, end uint64
	}
	var spans []span
	seenMeta := false
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, formatErr("header: %v", err)
		}
		name, ok := tok.(string)
		if !ok {
			return nil, formatErr("header: key %v is not a string", tok)
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, formatErr("header: value of %q: %v", name, err)
		}
		if name == "__metadata__" {
			if seenMeta {
				return nil, formatErr("header: duplicate __metadata__")
			}
			seenMeta = true
			md, err := parseMetadata(raw)
			if err != nil {
				return nil, err
			}
			f.Metadata = md
			continue
		}
		if name == "" {
			return nil, formatErr("header: empty tensor name")
		}
		if f.byName[name] != nil {
			return nil, formatErr("header: duplicate tensor %q", name)
		}
		t, begin, end, err := parseEntry(name, raw)
		if err != nil {
			return nil, err
		}
		if end > bufLen {
			return nil, formatErr("tensor %q: data_offsets [%d, %d] beyond the %d-byte buffer", name, begin, end, bufLen)
		}
		if buf != nil {
			t.Data = buf[begin:end:end]
		}
		f.byName[name] = t
		spans = append(spans, span{t, begin, end})
	}
	if _, err := dec.Token(); err != nil {
		return nil, formatErr("header: %v", err)
	}
	rest := header[dec.InputOffset():]
	if len(bytes.Trim(rest, " ")) != 0 {
		return nil, formatErr("header: unexpected data after the JSON object")
	}
	if f.Metadata == nil {
		f.Metadata = map[string]string{}
	}

	// The tensors must tile the buffer exactly: sorted by offset, each
	// starts where the previous one ended and the last ends at the end.
	slices.SortStableFunc(spans, func(a, b span) int {
		if a.begin != b.begin {
			return cmpU64(a.begin, b.begin)
		}
		return cmpU64(a.end, b.end)
	})
	var pos uint64
	for _, s := range spans {
		switch {
		case s.begin < pos:
			return nil, formatErr("tensor %q: data_offsets [%d, %d] overlap the previous tensor, which ends at %d", s.t.Name, s.begin, s.end, pos)
		case s.begin > pos:
			return nil, formatErr("tensor %q: data_offsets start at %d, leaving a hole at [%d, %d]", s.t.Name, s.begin, pos, s.begin)
		}
		pos = s.end
		f.Tensors = append(f.Tensors, s.t)
	}
	if pos != bufLen {
		return nil, formatErr("the buffer has %d bytes but the tensors cover only %d", bufLen, pos)
	}
	return f, nil
}

func cmpU64(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func parseMetadata(raw json.RawMessage) (map[string]string, error) {
	if bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		return map[string]string{}, nil
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, formatErr("header: __metadata__ is not an object of strings: %v", err)
	}
	md := make(map[string]string, len(m))
	for k, v := range m {
		s, ok := v.(string)
		if !ok {
			return nil, formatErr("header: __metadata__[%q] is not a string", k)
		}
		md[k] = s
	}
	return md, nil
}

func parseEntry(name string, raw json.RawMessage) (*Tensor, uint64, uint64, error) {
	var e entry
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil {
		return nil, 0, 0, formatErr("tensor %q: %v", name, err)
	}
	switch {
	case e.Dtype == nil:
		return nil, 0, 0, formatErr("tensor %q: missing dtype", name)
	case e.Shape == nil:
		return nil, 0, 0, formatErr("tensor %q: missing shape", name)
	case e.DataOffsets == nil:
		return nil, 0, 0, formatErr("tensor %q: missing data_offsets", name)
	}
	dt := DType(*e.Dtype)
	if !dt.Valid() {
		return nil, 0, 0, formatErr("tensor %q: unknown dtype %q", name, *e.Dtype)
	}
	off := *e.DataOffsets
	if len(off) != 2 {
		return nil, 0, 0, formatErr("tensor %q: data_offsets has %d values, want 2", name, len(off))
	}
	if off[0] < 0 || off[1] < off[0] {
		return nil, 0, 0, formatErr("tensor %q: bad data_offsets [%d, %d]", name, off[0], off[1])
	}
	shape := make([]int, len(*e.Shape))
	size := uint64(dt.Size())
	for i, d := range *e.Shape {
		if d < 0 {
			return nil, 0, 0, formatErr("tensor %q: negative dimension %d in shape %v", name, d, *e.Shape)
		}
		shape[i] = int(d)
		if d != 0 && size > math.MaxInt64/uint64(d) {
			return nil, 0, 0, formatErr("tensor %q: shape %v is too large", name, *e.Shape)
		}
		size *= uint64(d)
	}
	begin, end := uint64(off[0]), uint64(off[1])
	if end-begin != size {
		return nil, 0, 0, formatErr("tensor %q: data_offsets [%d, %d] hold %d bytes, but %s%v needs %d",
			name, begin, end, end-begin, dt, shape, size)
	}
	return &Tensor{Name: name, DType: dt, Shape: shape}, begin, end, nil
}

// Marshal encodes tensors and metadata in the format, deterministically:
// see the package documentation. Tensor names must be unique and
// non-empty, dtypes valid and len(Data) must match the shape.
func Marshal(tensors []*Tensor, metadata map[string]string) ([]byte, error) {
	var b bytes.Buffer
	if err := encode(&b, tensors, metadata); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

func encode(w io.Writer, tensors []*Tensor, metadata map[string]string) error {
	h, ts, err := header(tensors, metadata)
	if err != nil {
		return err
	}
	return writeFile(w, h, ts)
}

// header validates tensors and metadata and returns the file's first
// part (the 8-byte length and the padded header) and the tensors in the
// order of their data.
func header(tensors []*Tensor, metadata map[string]string) ([]byte, []*Tensor, error) {
	ts := slices.Clone(tensors)
	slices.SortFunc(ts, func(a, b *Tensor) int { return strings.Compare(a.Name, b.Name) })
	var h bytes.Buffer
	h.WriteByte('{')
	first := true
	comma := func() {
		if !first {
			h.WriteByte(',')
		}
		first = false
	}
	if len(metadata) > 0 {
		mb, err := json.Marshal(metadata) // keys sorted
		if err != nil {
			return nil, nil, err
		}
		comma()
		h.WriteString(`"__metadata__":`)
		h.Write(mb)
	}
	var off uint64
	for i, t := range ts {
		switch {
		case t.Name == "":
			return nil, nil, errors.New("safetensors: empty tensor name")
		case t.Name == "__metadata__":
			return nil, nil, errors.New("safetensors: tensor name __metadata__ is reserved")
		case i > 0 && ts[i-1].Name == t.Name:
			return nil, nil, fmt.Errorf("safetensors: duplicate tensor %q", t.Name)
		case !t.DType.Valid():
			return nil, nil, fmt.Errorf("safetensors: tensor %q: unknown dtype %q", t.Name, t.DType)
		}
		for _, d := range t.Shape {
			if d < 0 {
				return nil, nil, fmt.Errorf("safetensors: tensor %q: negative dimension in shape %v", t.Name, t.Shape)
			}
		}
		if want := t.NumElements() * t.DType.Size(); len(t.Data) != want {
			return nil, nil, fmt.Errorf("safetensors: tensor %q: %d bytes of data, but %s%v needs %d", t.Name, len(t.Data), t.DType, t.Shape, want)
		}
		name, _ := json.Marshal(t.Name)
		shape := t.Shape
		if shape == nil {
			shape = []int{}
		}
		sb, _ := json.Marshal(shape)
		comma()
		fmt.Fprintf(&h, `%s:{"dtype":"%s","shape":%s,"data_offsets":[%d,%d]}`, name, t.DType, sb, off, off+uint64(len(t.Data)))
		off += uint64(len(t.Data))
	}
	h.WriteByte('}')
	for h.Len()%8 != 0 {
		h.WriteByte(' ')
	}
	out := make([]byte, 8, 8+h.Len())
	binary.LittleEndian.PutUint64(out, uint64(h.Len()))
	return append(out, h.Bytes()...), ts, nil
}

// writeFile writes a file's header (from header) and its tensors' data.
func writeFile(w io.Writer, h []byte, ts []*Tensor) error {
	if _, err := w.Write(h); err != nil {
		return err
	}
	for _, t := range ts {
		if _, err := w.Write(t.Data); err != nil {
			return err
		}
	}
	return nil
}
