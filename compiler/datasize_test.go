package compiler

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDatasetSamples: the samples of a dataset are read from an IDX
// header (raw or gzip, the test source added), counted as the *.json
// files under a json_dir (recursively, through a linked root, other files
// ignored), taken from synthetic's n and a builtin's size; a csv, or a
// missing file, is not sized and says why.
func TestDatasetSamples(t *testing.T) {
	dir := t.TempDir()
	idx := func(name string, n uint32, gz bool) {
		var b bytes.Buffer
		hdr := make([]byte, 16)
		binary.BigEndian.PutUint32(hdr[0:], 0x803)
		binary.BigEndian.PutUint32(hdr[4:], n)
		binary.BigEndian.PutUint32(hdr[8:], 2)
		binary.BigEndian.PutUint32(hdr[12:], 2)
		b.Write(hdr)
		b.Write(make([]byte, 4*int(n)))
		data := b.Bytes()
		if gz {
			var z bytes.Buffer
			w := gzip.NewWriter(&z)
			w.Write(data)
			w.Close()
			data = z.Bytes()
		}
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	idx("train.idx", 7, false)
	idx("test.idx.gz", 3, true)
	docs := filepath.Join(dir, "docs")
	for _, f := range []string{"a/1.json", "a/2.JSON", "b/c/3.json", "b/readme.txt"} {
		os.MkdirAll(filepath.Dir(filepath.Join(docs, f)), 0o755)
		os.WriteFile(filepath.Join(docs, f), []byte(`{"text": "x", "label": "y"}`), 0o644)
	}
	if err := os.Symlink(docs, filepath.Join(dir, "linked")); err != nil {
		t.Fatal(err)
	}
	src := func(name string, args map[string]Value) *ConfigV {
		return &ConfigV{E: &Entry{Name: name}, Args: args}
	}
	s := func(v string) Value { return StrV{V: v} }
	cases := []struct {
		ds   *Dataset
		n    int64
		why  string
		desc string
	}{
		{&Dataset{Dir: dir, Source: src("idx", map[string]Value{"images": s("train.idx")}), Test: src("idx", map[string]Value{"images": s("test.idx.gz")})}, 10, "", "idx + test"},
		{&Dataset{Dir: dir, Source: src("json_dir", map[string]Value{"path": s("linked")})}, 3, "", "json_dir"},
		{&Dataset{Dir: dir, Source: src("synthetic", map[string]Value{"n": IntV{V: 64}})}, 64, "", "synthetic"},
		{&Dataset{Dir: dir, Source: src("builtin", map[string]Value{"name": s("digits")})}, 1797, "", "builtin"},
		{&Dataset{Dir: dir, Source: src("csv", map[string]Value{"path": s("x.csv")})}, 0, "csv is counted only by reading it whole", "csv"},
		{&Dataset{Dir: dir, Source: src("idx", map[string]Value{"images": s("nope.idx")})}, 0, "nope.idx: not found", "missing"},
	}
	for _, c := range cases {
		n, why := DatasetSamples(c.ds)
		if n != c.n || !strings.Contains(why, c.why) || (c.why == "") != (why == "") {
			t.Errorf("%s: %d samples (%q), want %d (%q)", c.desc, n, why, c.n, c.why)
		}
	}
}
