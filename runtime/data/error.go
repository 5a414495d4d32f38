package data

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// An Error is bad data: it names the file and, where it applies, the
// 1-based line (text files) or record (binary files: the n-th image or
// label).
//
//	data/x.csv:17: row has 63 fields, header has 65
//	labels.idx1-ubyte.gz: record 5: label 12 out of range [0, 10)
//	images.idx3-ubyte: wrong IDX magic 0x00000801, want 0x00000803 (images)
type Error struct {
	File   string
	Line   int // 1-based, 0 if none
	Record int // 1-based, 0 if none
	Msg    string
	Err    error // underlying error, if any
}

func (e *Error) Error() string {
	switch {
	case e.Line > 0:
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	case e.Record > 0:
		return fmt.Sprintf("%s: record %d: %s", e.File, e.Record, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.File, e.Msg)
}

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.Err }

func lineErr(file string, line int, format string, args ...any) *Error {
	return &Error{File: file, Line: line, Msg: fmt.Sprintf(format, args...)}
}

func recordErr(file string, rec int, format string, args ...any) *Error {
	return &Error{File: file, Record: rec, Msg: fmt.Sprintf(format, args...)}
}

func fileErr(file string, format string, args ...any) *Error {
	return &Error{File: file, Msg: fmt.Sprintf(format, args...)}
}

// openErr turns an os error about file into an *Error: "x.csv: no such
// file" rather than "open x.csv: no such file or directory".
func openErr(file string, err error) error {
	var msg string
	switch {
	case errors.Is(err, fs.ErrNotExist):
		msg = "no such file"
	case errors.Is(err, fs.ErrPermission):
		msg = "permission denied"
	default:
		var pe *os.PathError
		if errors.As(err, &pe) {
			msg = pe.Err.Error()
		} else {
			msg = err.Error()
		}
	}
	return &Error{File: file, Msg: msg, Err: err}
}
