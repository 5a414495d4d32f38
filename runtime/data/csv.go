package data

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

// CSVOptions say how to read a CSV file.
type CSVOptions struct {
	// Label names the label column: integer class indices. Empty means no
	// label field.
	Label string
	// Features lists the numeric feature columns, in the order they are
	// stored; nil means every column but the label.
	Features []string
	// NoHeader says the file has no header row; columns are then named
	// by their 0-based index: "0", "1", ...
	NoHeader bool
	// Classes is the number of classes; labels must lie in [0, Classes).
	// 0 means the largest label + 1.
	Classes int
	// FeatureField and LabelField name the dataset's fields; by default
	// "x" and "y".
	FeatureField, LabelField string
}

// ReadCSV reads a CSV file (gzipped or not, told by its content) into a
// dataset with a feature field f32[len(features)] and, if opt.Label is
// set, a label field i32. Errors are *Error naming the file and line.
func ReadCSV(path string, opt CSVOptions) (*Dataset, error) {
	b, err := readFile(path)
	if err != nil {
		return nil, err
	}
	return ParseCSV(path, b, opt)
}

// ParseCSV parses CSV text b; name is the file name for messages and the
// dataset's Source.
func ParseCSV(name string, b []byte, opt CSVOptions) (*Dataset, error) {
	if opt.FeatureField == "" {
		opt.FeatureField = "x"
	}
	if opt.LabelField == "" {
		opt.LabelField = "y"
	}
	r := csv.NewReader(bytes.NewReader(b))
	r.FieldsPerRecord = -1
	r.ReuseRecord = true
	r.TrimLeadingSpace = true

	read := csvRecords(name, r)

	rec, line, err := read()
	if err == io.EOF {
		return nil, fileErr(name, "empty file")
	}
	if err != nil {
		return nil, err
	}
	var columns []string
	firstData := []string(nil)
	firstLine := 0
	if opt.NoHeader {
		for i := range rec {
			columns = append(columns, strconv.Itoa(i))
		}
		firstData, firstLine = append([]string(nil), rec...), line
	} else {
		for _, c := range rec {
			columns = append(columns, strings.TrimSpace(c))
		}
	}
	index := map[string]int{}
	for i, c := range columns {
		if _, dup := index[c]; dup {
			return nil, lineErr(name, line, "duplicate column %q", c)
		}
		index[c] = i
	}
	find := func(c, what string) (int, error) {
		i, ok := index[c]
		if !ok {
			return 0, lineErr(name, line, "no %s column %q (columns: %s)", what, c, listColumns(columns))
		}
		return i, nil
	}
	labelCol := -1
	if opt.Label != "" {
		if labelCol, err = find(opt.Label, "label"); err != nil {
			return nil, err
		}
	}
	var featCols []int
	if opt.Features == nil {
		for i := range columns {
			if i != labelCol {
				featCols = append(featCols, i)
			}
		}
	} else {
		for _, c := range opt.Features {
			i, err := find(c, "feature")
			if err != nil {
				return nil, err
			}
			if i == labelCol {
				return nil, lineErr(name, line, "column %q is both the label and a feature", c)
			}
			featCols = append(featCols, i)
		}
	}
	colName := func(i int) string {
		if opt.NoHeader {
			return "column " + columns[i]
		}
		return fmt.Sprintf("column %q", columns[i])
	}

	var feats []float32
	var labels []int32
	n := 0
	maxLabel := int64(-1)
	row := func(rec []string, line int) error {
		if len(rec) != len(columns) {
			what := "header has"
			if opt.NoHeader {
				what = "the first row has"
			}
			return lineErr(name, line, "row has %d fields, %s %d", len(rec), what, len(columns))
		}
		for _, c := range featCols {
			s := strings.TrimSpace(rec[c])
			v, err := strconv.ParseFloat(s, 32)
			if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
				l, _ := r.FieldPos(c) // a quoted field may span lines
				if s == "" {
					return lineErr(name, l, "%s is empty, want a number", colName(c))
				}
				if err == nil || errors.Is(err, strconv.ErrRange) {
					return lineErr(name, l, "%s: %q is not a finite float32", colName(c), s)
				}
				return lineErr(name, l, "%s: %q is not a number", colName(c), s)
			}
			feats = append(feats, float32(v))
		}
		if labelCol >= 0 {
			s := strings.TrimSpace(rec[labelCol])
			v, err := parseLabel(s)
			if err != nil {
				return lineErr(name, line, "label %q is not an integer", s)
			}
			if v < 0 || opt.Classes > 0 && v >= int64(opt.Classes) || v > math.MaxInt32-1 {
				if opt.Classes > 0 {
					return lineErr(name, line, "label %d out of range [0, %d)", v, opt.Classes)
				}
				return lineErr(name, line, "label %d out of range: labels are class indices 0, 1, ...", v)
			}
			maxLabel = max(maxLabel, v)
			labels = append(labels, int32(v))
		}
		n++
		return nil
	}
	if firstData != nil {
		if err := row(firstData, firstLine); err != nil {
			return nil, err
		}
	}
	for {
		rec, line, err := read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		if err := row(rec, line); err != nil {
			return nil, err
		}
	}
	if n == 0 {
		return nil, fileErr(name, "no data rows")
	}
	d := &Dataset{Source: name, N: n}
	if len(featCols) > 0 {
		d.Fields = append(d.Fields, &Field{Name: opt.FeatureField, DType: F32, Role: Feature, Shape: []int{len(featCols)}, F32: feats})
	}
	if labelCol >= 0 {
		classes := opt.Classes
		if classes == 0 {
			classes = int(maxLabel) + 1
		}
		d.Fields = append(d.Fields, &Field{Name: opt.LabelField, DType: I32, Role: Label, Classes: classes, I32: labels})
	}
	if len(d.Fields) == 0 {
		return nil, fileErr(name, "no feature or label columns")
	}
	return d, nil
}

// parseLabel parses an integer label; "3.0" is accepted as 3.
func parseLabel(s string) (int64, error) {
	if v, err := strconv.ParseInt(s, 10, 64); err == nil {
		return v, nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f != math.Trunc(f) || math.Abs(f) > 1<<53 {
		return 0, errors.New("not an integer")
	}
	return int64(f), nil
}

func listColumns(cols []string) string {
	const max = 8
	var b strings.Builder
	for i, c := range cols {
		if i == max {
			fmt.Fprintf(&b, ", ... (%d in all)", len(cols))
			break
		}
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(c)
	}
	return b.String()
}

// csvRecords returns a reader of r's records with the line each starts
// on; a malformed row is an *Error naming name and its line.
func csvRecords(name string, r *csv.Reader) func() ([]string, int, error) {
	return func() ([]string, int, error) {
		rec, err := r.Read()
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				return nil, 0, &Error{File: name, Line: pe.Line, Msg: pe.Err.Error(), Err: err}
			}
			return nil, 0, err
		}
		line, _ := r.FieldPos(0)
		return rec, line, nil
	}
}
