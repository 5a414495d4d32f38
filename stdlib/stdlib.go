// Package stdlib holds the standard library of encc, written in the
// language itself: DenseBlock and MLP (mlp.enc); MultiHeadAttention,
// TransformerEncoderLayer and TransformerEncoder (transformer.enc);
// TextEncoder, MaskedLM and TextClassifier (text.enc); TextCNN
// (textcnn.enc); DepthwiseSeparable and MobileNetSmall (mobilenet.enc);
// LeNet5 (lenet.enc); Adapter and AdaptedEncoderLayer (adapter.enc). The
// files are embedded in the binary and parsed like any user file; their
// models are in scope in every program (the prelude).
package stdlib

import (
	"embed"
	"io/fs"
	"sort"
)

//go:embed *.enc
var files embed.FS

// Files lists the stdlib source files by name, sorted.
func Files() ([]string, error) {
	ents, err := fs.ReadDir(files, ".")
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	sort.Strings(out)
	return out, nil
}

// Source returns the text of the stdlib file name.
func Source(name string) ([]byte, error) { return files.ReadFile(name) }
