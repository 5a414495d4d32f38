package data

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"fmt"
	"io"
	"os"
)

// readFile reads a whole file, gunzipping it when it starts with the gzip
// magic (1f 8b), whatever its name.
func readFile(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, openErr(path, err)
	}
	return maybeGunzip(path, b)
}

// maxSizeHint bounds the buffer a gzip trailer's size may reserve up
// front: the trailer is only a hint (the size modulo 2^32 of the last
// member), so a corrupt one must not make a huge allocation. Deflate
// expands at most about 1032:1 (a 258-byte match per 2 bits), so the
// hint is also held to deflateMaxRatio times the compressed size.
const (
	maxSizeHint     = 1 << 30
	deflateMaxRatio = 1032
)

// sizeHint is the buffer to reserve for gunzipping b: its trailer's
// size, unless that is more than the data could expand to.
func sizeHint(b []byte) int {
	if len(b) < 18 {
		return 0
	}
	n := int(binary.LittleEndian.Uint32(b[len(b)-4:]))
	if n > maxSizeHint || n > len(b)*deflateMaxRatio {
		return 0
	}
	return n
}

func maybeGunzip(name string, b []byte) ([]byte, error) {
	if len(b) < 2 || b[0] != 0x1f || b[1] != 0x8b {
		return b, nil
	}
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, &Error{File: name, Msg: fmt.Sprintf("bad gzip data: %v", err), Err: err}
	}
	// The buffer is sized once from the trailer's ISIZE (the data's
	// length modulo 2^32): growing it by doubling cleared and copied
	// most of the data several times over (0.6 s of a 5 s MNIST run).
	var out bytes.Buffer
	if n := sizeHint(b); n > 0 {
		out.Grow(n + bytes.MinRead)
	}
	if _, err := out.ReadFrom(zr); err != nil {
		msg := fmt.Sprintf("bad gzip data: %v", err)
		if err == io.ErrUnexpectedEOF {
			msg = "truncated gzip data"
		}
		return nil, &Error{File: name, Msg: msg, Err: err}
	}
	return out.Bytes(), nil
}
