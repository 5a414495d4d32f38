package data

import (
	_ "embed"
	"fmt"
	"sort"
	"sync"
)

// digitsCSV is scikit-learn's sklearn/datasets/data/digits.csv.gz,
// unchanged: 1,797 rows of 64 pixel values 0..16 and the digit. It is the
// test set of the UCI ML hand-written digits data set (E. Alpaydin and
// C. Kaynak), CC BY 4.0; see NOTICE.
//
//go:embed digits.csv.gz
var digitsCSV []byte

var builtins = map[string]func() (*Dataset, error){
	"digits": loadDigits,
}

var (
	digitsOnce sync.Once
	digits     *Dataset
	digitsErr  error
)

func loadDigits() (*Dataset, error) {
	digitsOnce.Do(func() {
		const name = "builtin:digits"
		b, err := maybeGunzip(name, digitsCSV)
		if err != nil {
			digitsErr = err
			return
		}
		digits, digitsErr = ParseCSV(name, b, CSVOptions{
			NoHeader: true, Label: "64", Classes: 10,
			FeatureField: "image", LabelField: "label",
		})
	})
	if digitsErr != nil {
		return nil, digitsErr
	}
	return digits.Clone(), nil
}

// Builtin returns a fresh copy of a dataset embedded in the binary:
//
//	digits   1,797 samples: image f32[64] (8×8 pixels, 0..16), label i32
//	         (10 classes), in the order of scikit-learn's load_digits
func Builtin(name string) (*Dataset, error) {
	load, ok := builtins[name]
	if !ok {
		return nil, fmt.Errorf("unknown builtin dataset %q (have: %v)", name, BuiltinNames())
	}
	return load()
}

// BuiltinNames lists the builtin datasets, sorted.
func BuiltinNames() []string {
	var names []string
	for n := range builtins {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
