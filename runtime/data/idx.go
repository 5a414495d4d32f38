package data

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"io"
	"os"
	"slices"
)

// IDX magic numbers: two zero bytes, the element type (0x08: unsigned
// byte) and the number of dimensions.
const (
	IDXImagesMagic = 0x00000803 // u8[N, rows, cols]
	IDXLabelsMagic = 0x00000801 // u8[N]
)

// IDXOptions say how to read an IDX pair.
type IDXOptions struct {
	// Classes is the number of classes; labels must lie in [0, Classes).
	// 0 means the largest label + 1.
	Classes int
	// ImageField and LabelField name the dataset's fields; by default
	// "image" and "label".
	ImageField, LabelField string
}

// ReadIDX reads an IDX images file and its labels file (MNIST,
// Fashion-MNIST), each raw or gzipped (told by its content), into a
// dataset with image f32[1, rows, cols] (the raw bytes 0..255 as floats,
// held as the bytes: Field.U8) and label i32. Errors are *Error naming the file and, for a bad label,
// the record.
//
// The two files are read (and gunzipped) at the same time; an error in
// the images file is reported before one in the labels file. Gzipped
// images are gunzipped straight into the field's bytes.
func ReadIDX(images, labels string, opt IDXOptions) (*Dataset, error) {
	var lb []byte
	var lerr error
	done := make(chan struct{})
	go func() {
		defer close(done)
		lb, lerr = readFile(labels)
	}()
	zb, err := os.ReadFile(images)
	if err != nil {
		<-done
		return nil, openErr(images, err)
	}
	dims, img := streamIDXImages(zb)
	var ib []byte
	if img == nil {
		ib, err = maybeGunzip(images, zb)
	}
	<-done
	if err != nil {
		return nil, err
	}
	if lerr != nil {
		return nil, lerr
	}
	if img != nil {
		return buildIDX(images, dims, img, labels, lb, opt)
	}
	return ParseIDX(images, ib, labels, lb, opt)
}

// streamIDXImages gunzips a well-formed gzipped IDX images file straight
// into the pixel bytes, without the header. It returns nil for
// anything else (not gzip, a bad header, bad gzip data, too few or too
// many bytes): the caller then reads the file whole, as ParseIDX does,
// for the same result and the same error.
func streamIDXImages(b []byte) ([]int, []byte) {
	if len(b) < 2 || b[0] != 0x1f || b[1] != 0x8b {
		return nil, nil
	}
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, nil
	}
	var hdr [16]byte
	if _, err := io.ReadFull(zr, hdr[:]); err != nil || binary.BigEndian.Uint32(hdr[:]) != IDXImagesMagic {
		return nil, nil
	}
	dims := make([]int, 3)
	size := uint64(1)
	for i := range dims {
		dims[i] = int(binary.BigEndian.Uint32(hdr[4+4*i:]))
		size *= uint64(dims[i])
	}
	// A header may claim any size: allocate only what the compressed
	// bytes could expand to (else the whole-file path reports the
	// mismatch).
	if size == 0 || size > 1<<36 || size > uint64(len(b))*deflateMaxRatio {
		return nil, nil
	}
	img := make([]byte, size)
	if _, err := io.ReadFull(zr, img); err != nil {
		return nil, nil
	}
	var one [1]byte
	if n, err := zr.Read(one[:]); n != 0 || err != io.EOF {
		return nil, nil // too few bytes, bytes after the data, a bad checksum
	}
	return dims, img
}

// ParseIDX parses IDX images and labels held in memory (already
// gunzipped); the names are for messages.
func ParseIDX(imagesName string, images []byte, labelsName string, labels []byte, opt IDXOptions) (*Dataset, error) {
	if opt.ImageField == "" {
		opt.ImageField = "image"
	}
	if opt.LabelField == "" {
		opt.LabelField = "label"
	}
	idims, ipix, err := idxHeader(imagesName, images, IDXImagesMagic, "images")
	if err != nil {
		return nil, err
	}
	if _, _, err := idxHeader(labelsName, labels, IDXLabelsMagic, "labels"); err != nil {
		return nil, err
	}
	if err := checkIDXCounts(imagesName, idims, labelsName, labels); err != nil {
		return nil, err
	}
	return buildIDX(imagesName, idims, slices.Clone(ipix), labelsName, labels, opt)
}

// checkIDXCounts checks that there are as many labels as images and
// that there is image data; labels has a valid header.
func checkIDXCounts(imagesName string, idims []int, labelsName string, labels []byte) error {
	n, rows, cols := idims[0], idims[1], idims[2]
	if l := int(binary.BigEndian.Uint32(labels[4:])); n != l {
		return fileErr(labelsName, "%d labels, but %s has %d images", l, imagesName, n)
	}
	if n == 0 || rows == 0 || cols == 0 {
		return fileErr(imagesName, "no image data (%d images of %dx%d)", n, rows, cols)
	}
	return nil
}

// buildIDX makes the dataset of images already converted to floats
// (img holds idims' pixels) and the labels file.
// buildIDX makes the dataset; the image field holds img (U8), not a copy.
func buildIDX(imagesName string, idims []int, img []byte, labelsName string, labels []byte, opt IDXOptions) (*Dataset, error) {
	if opt.ImageField == "" {
		opt.ImageField = "image"
	}
	if opt.LabelField == "" {
		opt.LabelField = "label"
	}
	_, lvals, err := idxHeader(labelsName, labels, IDXLabelsMagic, "labels")
	if err != nil {
		return nil, err
	}
	if err := checkIDXCounts(imagesName, idims, labelsName, labels); err != nil {
		return nil, err
	}
	n, rows, cols := idims[0], idims[1], idims[2]
	lab := make([]int32, n)
	maxLabel := 0
	for i, v := range lvals {
		if opt.Classes > 0 && int(v) >= opt.Classes {
			return nil, recordErr(labelsName, i+1, "label %d out of range [0, %d)", v, opt.Classes)
		}
		lab[i] = int32(v)
		maxLabel = max(maxLabel, int(v))
	}
	classes := opt.Classes
	if classes == 0 {
		classes = maxLabel + 1
	}
	return &Dataset{
		Source: imagesName,
		N:      n,
		Fields: []*Field{
			{Name: opt.ImageField, DType: F32, Role: Feature, Shape: []int{1, rows, cols}, U8: img},
			{Name: opt.LabelField, DType: I32, Role: Label, Classes: classes, I32: lab},
		},
	}, nil
}

// idxHeader checks an IDX file's magic and size and returns its
// dimensions and data.
func idxHeader(name string, b []byte, magic uint32, what string) ([]int, []byte, error) {
	if len(b) < 4 {
		return nil, nil, fileErr(name, "truncated: %d bytes, not an IDX file", len(b))
	}
	got := binary.BigEndian.Uint32(b)
	if got != magic {
		return nil, nil, fileErr(name, "wrong IDX magic 0x%08x, want 0x%08x (%s)", got, magic, what)
	}
	ndim := int(magic & 0xff)
	hdr := 4 + 4*ndim
	if len(b) < hdr {
		return nil, nil, fileErr(name, "truncated IDX header: %d bytes, want %d", len(b), hdr)
	}
	dims := make([]int, ndim)
	size := uint64(1)
	for i := range dims {
		d := binary.BigEndian.Uint32(b[4+4*i:])
		dims[i] = int(d)
		size *= uint64(d) // < 2^40 · 2^32: no overflow
		if size > 1<<40 {
			return nil, nil, fileErr(name, "IDX dimensions %v are too large", dims[:i+1])
		}
	}
	data := b[hdr:]
	if uint64(len(data)) < size {
		return nil, nil, fileErr(name, "truncated: the header says %s %v (%d bytes), but %d bytes follow", what, dims, size, len(data))
	}
	if uint64(len(data)) > size {
		return nil, nil, fileErr(name, "%d bytes after the %s %v the header declares", uint64(len(data))-size, what, dims)
	}
	return dims, data, nil
}
