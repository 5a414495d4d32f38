package main

import (
	"errors"
	"testing"
)

// A positioned error names its file once (issue 17, case 19): before,
// `encc run: idx.enc: idx.enc:2:45: ...`.
func TestWithFile(t *testing.T) {
	for _, tc := range []struct{ file, err, want string }{
		{"idx.enc", "idx.enc:2:45: dimension mismatch", "idx.enc:2:45: dimension mismatch"},
		{"idx.enc", "no train named x", "idx.enc: no train named x"},
		{"a.enc", "ab.enc:1:1: x", "a.enc: ab.enc:1:1: x"},
		{"a.enc", "a fit error\n\tmissing: w", "a.enc: a fit error; missing: w"},
	} {
		if got := withFile(tc.file, errors.New(tc.err)); got != tc.want {
			t.Errorf("withFile(%q, %q) = %q, want %q", tc.file, tc.err, got, tc.want)
		}
	}
}
