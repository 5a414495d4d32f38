package main

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/encc-lang/encc/compiler"
	"github.com/encc-lang/encc/export/onnx"
	"github.com/encc-lang/encc/runtime/train"
)

// This file implements the onnx target of encc export (export/onnx).

func init() { exportTargets["onnx"] = exportONNX }

func exportONNX(o *exportOptions) error {
	prog, ok := checkProgram(o.File, o.Stderr)
	if !ok {
		return errReported
	}
	name := o.Name
	if name == "" {
		if name = prog.DefaultName(); name == "" {
			return fmt.Errorf("%s: no train and no model with default hyper-parameters to export", o.File)
		}
	}
	in, err := train.Instance(prog, name)
	if err != nil {
		return fmt.Errorf("%s: %v", o.File, err)
	}
	weights, from, err := exportWeights(prog, name, in, o)
	if err != nil {
		return err
	}
	src := prog.Source(o.File)
	if src == nil {
		if src, err = os.ReadFile(o.File); err != nil {
			return err
		}
	}
	sum := sha256.Sum256(src)
	meta := map[string]string{
		"encc_version":  versionString(),
		"source":        filepath.Base(o.File),
		"source_sha256": hex.EncodeToString(sum[:]),
		"model":         in.String(),
		"weights":       from,
	}
	if prog.Train(name) != nil {
		meta["train"] = name
	}
	opts := onnx.Options{Weights: weights, Metadata: meta, ProducerVersion: versionString(), DocString: in.String()}
	if from != initialWeights {
		if opts.Int8, err = int8Weights(from); err != nil {
			return err
		}
	}
	m, err := onnx.Export(prog, in, opts)
	if err != nil {
		var ee *onnx.Error
		if errors.As(err, &ee) && ee.Pos != "" {
			fmt.Fprintln(o.Stderr, err)
			return errReported
		}
		return err
	}
	b, err := onnx.Encode(m)
	if err != nil {
		return err
	}
	if err := writeFileAtomic(o.Out, b); err != nil {
		return err
	}
	if from == initialWeights {
		fmt.Fprintf(o.Stderr, "encc export: no --weights and no saved checkpoint: %s has the initial weights of its initializers (seed 0)\n", o.Out)
	}
	fmt.Fprintf(o.Stdout, "%s: %s (%d bytes, opset %d, weights %s)\n", o.Out, in.String(), len(b), onnx.Opset, from)
	return nil
}

const initialWeights = "initial (seed 0)"

// exportWeights returns the weights to export and where they come from:
// --weights, else the train's saved checkpoint, else (a model, or a train
// that saves nothing) the initializers with seed 0.
func exportWeights(prog *compiler.Program, name string, in *compiler.Instance, o *exportOptions) (map[string][]float32, string, error) {
	path := o.Weights
	if path == "" {
		if tr := prog.Train(name); tr != nil && tr.Save != "" {
			path = compiler.DataPath(tr.Dir, tr.Save)
			if _, err := os.Stat(path); err != nil {
				return nil, "", fmt.Errorf("train %s has no checkpoint at %s yet: run encc run first, or give --weights", name, path)
			}
		}
	}
	if path == "" {
		w, err := train.InitParams(in.Params(), 0)
		if err != nil {
			return nil, "", err
		}
		return w, initialWeights, nil
	}
	if q, err := train.Int8Tensors(path); err != nil {
		return nil, "", err
	} else if q != nil { // an int8 checkpoint: its f32 weights, int8 ones dequantized
		w, _, err := train.InferenceWeights(path, in.Params(), in.Name())
		return w, path, err
	}
	w, err := train.ModelWeights(prog, in, path) // a LoRA checkpoint is merged
	if err != nil {
		return nil, "", err
	}
	return w, path, nil
}

// writeFileAtomic writes b to path through a temporary file in the same
// folder (made if missing), renamed into place: a failed write leaves
// no partial file.
func writeFileAtomic(path string, b []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(b)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp, 0o644)
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
	}
	return err
}

// int8Weights returns the int8 weights of the checkpoint at path for the
// QDQ export (none for an f32 checkpoint).
func int8Weights(path string) (map[string]onnx.Int8Weight, error) {
	ts, err := train.Int8Tensors(path)
	if err != nil || ts == nil {
		return nil, err
	}
	out := map[string]onnx.Int8Weight{}
	for name, t := range ts {
		out[name] = onnx.Int8Weight{Q: t.Q, Scale: t.Scale, InputScale: t.InputScale, InputZero: t.InputZero}
	}
	return out, nil
}
