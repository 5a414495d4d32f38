package compiler

// This file sizes a train's dataset for `encc summary`: the number of
// samples a run holds in memory, where checking can know it without
// reading the data.

import (
	"bufio"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// DatasetSamples returns the number of samples of ds (its source and
// its test source: every split, as a run holds them), read from what
// is cheap to read: an IDX header's count, the *.json files of a
// json_dir, a synthetic source's n, a builtin's known size. For a
// source that would have to be read whole (csv, jsonl) it returns 0
// and why.
func DatasetSamples(ds *Dataset) (int64, string) {
	if ds == nil || ds.Source == nil {
		return 0, "no dataset"
	}
	n, why := sourceSamples(ds, ds.Source)
	if why != "" || ds.Test == nil {
		return n, why
	}
	m, why := sourceSamples(ds, ds.Test)
	return n + m, why
}

// builtinSamples are the sizes of the builtin datasets (runtime/data).
var builtinSamples = map[string]int64{"digits": 1797}

func sourceSamples(ds *Dataset, src *ConfigV) (int64, string) {
	str := func(k string) string { s, _ := src.Args[k].(StrV); return s.V }
	switch src.E.Name {
	case "builtin":
		if n, ok := builtinSamples[str("name")]; ok {
			return n, ""
		}
	case "synthetic":
		if n, ok := src.Args["n"].(IntV); ok {
			return n.V, ""
		}
	case "idx":
		n, err := idxCount(DataPath(ds.Dir, str("images")))
		if err != nil {
			return 0, dataErr(str("images"), err)
		}
		return n, ""
	case "json_dir":
		n, err := jsonFiles(DataPath(ds.Dir, str("path")))
		if err != nil {
			return 0, dataErr(str("path"), err)
		}
		return n, ""
	case "csv", "jsonl":
		return 0, src.E.Name + " is counted only by reading it whole"
	}
	return 0, fmt.Sprintf("%s: size unknown before reading", src.E.Name)
}

// dataErr says why a data file could not be sized, naming it as the
// source does.
func dataErr(name string, err error) string {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return name + ": not found"
	case errors.Is(err, fs.ErrPermission):
		return name + ": permission denied"
	}
	return name + ": " + err.Error()
}

// idxCount reads the item count of an IDX file's header (raw or gzip).
func idxCount(path string) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	br := bufio.NewReader(f)
	var r io.Reader = br
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		gz, err := gzip.NewReader(br)
		if err != nil {
			return 0, err
		}
		r = gz
	}
	var hdr [8]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return 0, fmt.Errorf("short IDX header")
	}
	return int64(binary.BigEndian.Uint32(hdr[4:8])), nil
}

// jsonFiles counts the *.json files under dir as runtime/data's
// ReadJSONDir finds them (one document each).
func jsonFiles(dir string) (int64, error) {
	var n int64
	err := filepath.WalkDir(dir+string(filepath.Separator), func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.HasSuffix(strings.ToLower(d.Name()), ".json") {
			n++
		}
		return nil
	})
	return n, err
}
