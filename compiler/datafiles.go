package compiler

import (
	"bufio"
	"compress/gzip"
	"encoding/binary"
	"encoding/csv"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// DataPath resolves a path written in an .enc file (a dataset file, a
// checkpoint to save or load) against dir, the folder of that file: an
// absolute path stays as written, as an import's does; a relative one is
// joined to dir.
func DataPath(dir, p string) string {
	if filepath.IsAbs(p) {
		return filepath.Clean(p)
	}
	return filepath.Join(dir, p)
}

// This file reads the little that checking needs from data files: the
// image size in an IDX header and the columns of a CSV header. Reading
// the data itself is the runtime's job.

// idxImageDims reads the rows and columns from an IDX image file header.
func idxImageDims(path string) ([2]int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return [2]int64{}, err
	}
	defer f.Close()
	var r io.Reader = bufio.NewReader(f)
	br := r.(*bufio.Reader)
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		gz, err := gzip.NewReader(br)
		if err != nil {
			return [2]int64{}, err
		}
		r = gz
	}
	var hdr [16]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return [2]int64{}, fmt.Errorf("%s: short IDX header", path)
	}
	if binary.BigEndian.Uint32(hdr[:4]) != 0x803 {
		return [2]int64{}, fmt.Errorf("%s: not an IDX image file", path)
	}
	return [2]int64{int64(binary.BigEndian.Uint32(hdr[8:12])), int64(binary.BigEndian.Uint32(hdr[12:16]))}, nil
}

// csvFeatureCount reads a CSV header and counts the columns other than
// the label.
func csvFeatureCount(path, label, delim string) (int, error) {
	f, err := os.Open(path)
	if err != nil {
		if os.IsNotExist(err) {
			return 0, fmt.Errorf("%s: no such file", path)
		}
		return 0, err
	}
	defer f.Close()
	r := csv.NewReader(bufio.NewReader(f))
	if delim != "" {
		r.Comma = []rune(delim)[0]
	}
	hdr, err := r.Read()
	if err != nil {
		return 0, fmt.Errorf("%s:1: cannot read the header: %v", path, err)
	}
	n, found := 0, false
	for _, h := range hdr {
		if strings.TrimSpace(h) == label {
			found = true
			continue
		}
		n++
	}
	if !found {
		return 0, fmt.Errorf("%s:1: no column %q in the header (have: %s)", path, label, strings.Join(hdr, ", "))
	}
	return n, nil
}
