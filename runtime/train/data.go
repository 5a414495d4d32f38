package train

// This file implements loading a train's dataset: reading the source,
// splitting it and fitting the preprocessing on the train split only.

import (
	"fmt"
	"path/filepath"
	"slices"

	"github.com/encc-lang/encc/compiler"
	"github.com/encc-lang/encc/runtime/data"
)

// readSource reads one data source of ds (its source or test).
func readSource(ds *compiler.Dataset, src *compiler.ConfigV) (*data.Dataset, error) {
	str := func(name string) string {
		s, _ := src.Args[name].(compiler.StrV)
		return s.V
	}
	path := func(name string) string { return filepath.Join(ds.Dir, str(name)) }
	switch src.E.Name {
	case "builtin":
		return data.Builtin(str("name"))
	case "csv":
		if str("text") != "" {
			return nil, fmt.Errorf("%s: text datasets (csv text:) are not supported by the runtime yet", src.Pos)
		}
		if d := str("delimiter"); d != "" && d != "," {
			return nil, fmt.Errorf("%s: csv delimiter %q is not supported by the runtime yet (only \",\")", src.Pos, d)
		}
		return data.ReadCSV(path("path"), data.CSVOptions{Label: str("label"), FeatureField: "x", LabelField: "label"})
	case "idx":
		return data.ReadIDX(path("images"), path("labels"), data.IDXOptions{ImageField: "image", LabelField: "label"})
	}
	return nil, fmt.Errorf("%s: data source %s is not supported by the runtime yet", src.Pos, src.E.Name)
}

// loadData reads, splits and preprocesses the dataset of a train. The
// split is seeded by the dataset's seed; scale and normalize are fitted
// on the train split and applied to every split.
func loadData(ds *compiler.Dataset) (*data.Splits, *data.Transform, error) {
	all, err := readSource(ds, ds.Source)
	if err != nil {
		return nil, nil, err
	}
	seed := uint64(ds.Seed)
	var sp *data.Splits
	switch {
	case ds.Test != nil:
		test, err := readSource(ds, ds.Test)
		if err != nil {
			return nil, nil, err
		}
		sp, err = data.SplitTestSource(all, test, ds.Split["val"], seed)
		if err != nil {
			return nil, nil, err
		}
	case ds.Split["train"] > 0:
		sp, err = data.SplitFractions(all, ds.Split["train"], ds.Split["val"], ds.Split["test"], seed)
		if err != nil {
			return nil, nil, err
		}
	default:
		sp = &data.Splits{Train: all}
	}
	pre := data.Preprocess{Scale: ds.Scale}
	if ds.Normalize != "" {
		if pre.Normalize, err = data.ParseNorm(ds.Normalize); err != nil {
			return nil, nil, err
		}
	}
	tf, err := sp.Preprocess(pre)
	if err != nil {
		return nil, nil, err
	}
	for _, d := range sp.All() {
		if err := checkFields(ds, d); err != nil {
			return nil, nil, err
		}
	}
	return sp, tf, nil
}

// checkFields checks that d gives the fields the compiler typed.
func checkFields(ds *compiler.Dataset, d *data.Dataset) error {
	for _, f := range ds.Fields {
		got := d.Field(f.Name)
		if got == nil {
			return fmt.Errorf("%s: no field %s (the program expects %s: %s)", d.Source, f.Name, f.Name, f.Type)
		}
		want, _ := f.Type.ConstShape()
		if !slices.Equal(want, got.Shape) || got.DType.String() != f.Type.DType {
			return fmt.Errorf("%s: field %s is %s, the program expects %s", d.Source, f.Name, got.Type(), f.Type)
		}
	}
	return nil
}

// labelField returns the label field of d, or nil.
func labelField(d *data.Dataset) *data.Field {
	for _, f := range d.Fields {
		if f.Role == data.Label {
			return f
		}
	}
	return nil
}
