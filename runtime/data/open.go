package data

import (
	"bufio"
	"bytes"
	"compress/gzip"
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

func maybeGunzip(name string, b []byte) ([]byte, error) {
	if len(b) < 2 || b[0] != 0x1f || b[1] != 0x8b {
		return b, nil
	}
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, &Error{File: name, Msg: fmt.Sprintf("bad gzip data: %v", err), Err: err}
	}
	var out bytes.Buffer
	if _, err := io.Copy(&out, bufio.NewReader(zr)); err != nil {
		msg := fmt.Sprintf("bad gzip data: %v", err)
		if err == io.ErrUnexpectedEOF {
			msg = "truncated gzip data"
		}
		return nil, &Error{File: name, Msg: msg, Err: err}
	}
	return out.Bytes(), nil
}
