package pytorch

import (
	_ "embed"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/encc-lang/encc/compiler"
	"github.com/encc-lang/encc/runtime/data"
	"github.com/encc-lang/encc/runtime/train"
)

//go:embed support.py
var supportPy string

// Options says what to export and where.
type Options struct {
	Name    string // a train or model of the program; "" for the last train (or the last model without one)
	Out     string // the folder to write
	Weights string // weights for the model (safetensors by parameter path); "" for a train's saved checkpoint, if any
	Version string // encc's version, for the header
}

// marker is the file that says a folder was written by encc export, so
// exporting again may replace it.
const marker = ".encc-export"

// Export writes the PyTorch folder for o.Name of prog. The folder is
// written beside o.Out under a temporary name and renamed into place,
// so a failed export leaves nothing half-written; an existing o.Out is
// replaced only when an earlier export wrote it.
func Export(prog *compiler.Program, o Options) error {
	tr, model, err := target(prog, o.Name)
	if err != nil {
		return err
	}
	if fi, err := os.Stat(o.Out); err == nil {
		if !fi.IsDir() {
			return fmt.Errorf("%s exists and is not a folder", o.Out)
		}
		if _, err := os.Stat(filepath.Join(o.Out, marker)); err != nil {
			if ents, _ := os.ReadDir(o.Out); len(ents) > 0 {
				return fmt.Errorf("%s exists and was not written by encc export; remove it or choose another -o", o.Out)
			}
		}
	}
	parent := filepath.Dir(filepath.Clean(o.Out))
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(parent, "."+filepath.Base(o.Out)+".tmp-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	w := &writer{prog: prog, dir: tmp, o: o, g: newModelGen(prog)}
	if tr != nil {
		err = w.train(tr)
	} else {
		err = w.model(model)
	}
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(tmp, marker), []byte("written by encc export\n"), 0o644); err != nil {
		return err
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return err
	}
	if err := os.RemoveAll(o.Out); err != nil {
		return err
	}
	return os.Rename(tmp, o.Out)
}

// target resolves the name to export.
func target(prog *compiler.Program, name string) (*compiler.Train, *compiler.Instance, error) {
	if name == "" {
		if len(prog.Trains) > 0 {
			return prog.Trains[len(prog.Trains)-1], nil, nil
		}
		for i := len(prog.Models) - 1; i >= 0; i-- {
			if prog.Models[i].Default != nil {
				return nil, prog.Models[i].Default, nil
			}
		}
		return nil, nil, fmt.Errorf("%s declares no train and no model with default hyper-parameters", prog.Root.Name)
	}
	if tr := prog.Train(name); tr != nil {
		return tr, nil, nil
	}
	in, err := train.Instance(prog, name)
	if err != nil {
		return nil, nil, err
	}
	return nil, in, nil
}

type writer struct {
	prog  *compiler.Program
	dir   string
	o     Options
	g     *modelGen
	files []string // written, relative to dir
}

func (w *writer) write(name, text string) error {
	p := filepath.Join(w.dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	w.files = append(w.files, name)
	return os.WriteFile(p, []byte(text), 0o644)
}

func (w *writer) header(what string) string {
	return fmt.Sprintf("# %s, written by encc export (encc %s) from %s.\n# Edit freely: it is plain PyTorch.\n\n", what, w.o.Version, w.prog.Root.Name)
}

// model writes model.py and, with weights, weights.safetensors.
func (w *writer) model(in *compiler.Instance) error {
	if err := w.g.visit(in); err != nil {
		return err
	}
	src, err := w.g.write(w.header("model.py: the models of " + in.Name()))
	if err != nil {
		return err
	}
	if err := w.write("model.py", src); err != nil {
		return err
	}
	if err := w.write("encc_support.py", supportPy); err != nil {
		return err
	}
	hasWeights := false
	if w.o.Weights != "" {
		if err := w.weights(in, w.o.Weights); err != nil {
			return err
		}
		hasWeights = true
	}
	return w.write("README.md", modelReadme(w, in, hasWeights))
}

// weights fits a safetensors file to the model's parameters (by path)
// and writes weights.safetensors.
func (w *writer) weights(in *compiler.Instance, file string) error {
	c, err := train.LoadCheckpoint(file)
	if err != nil {
		return err
	}
	ws, err := train.FitWeights(c, in.Params(), train.LoadSpec{}, file, in.Name())
	if err != nil {
		return err
	}
	return writeWeights(filepath.Join(w.dir, "weights.safetensors"), in.Params(), ws)
}

// train writes the folder of a train and of the trains it starts from.
func (w *writer) train(tr *compiler.Train) error {
	var chain []*compiler.Train
	for t := tr; t != nil; t = t.From {
		chain = append([]*compiler.Train{t}, chain...)
	}
	if tr.Init != nil && tr.Init.E.Name != "from" && tr.Init.E.Name != "load" {
		return fmt.Errorf("%s: cannot export init %s", tr.Init.Pos, tr.Init.E.Name)
	}
	for _, t := range chain {
		if err := w.g.visit(t.Model); err != nil {
			return err
		}
	}
	// Translate everything before reading any data, so that what cannot
	// be exported is reported first.
	var losses, entries strings.Builder
	infos := make([]*trainInfo, len(chain))
	for i, t := range chain {
		if t.Init != nil && t.Init.E.Name == "from" && t.From.Save == "" {
			return fmt.Errorf("%s: cannot export from(%s): %s saves no checkpoint", t.Init.Pos, t.From.Name, t.From.Name)
		}
		infos[i] = &trainInfo{tr: t, meta: map[string]string{"format": train.FormatName, "rng": train.RNG}}
		if err := w.g.lossFunc(&losses, infos[i]); err != nil {
			return err
		}
	}
	src, err := w.g.write(w.header("model.py: the models of train " + tr.Name))
	if err != nil {
		return err
	}
	dataDone := map[string]*train.Prepared{}
	for i, t := range chain {
		if t.LoRA != nil {
			return &Error{Pos: t.LoRA.Pos, Msg: fmt.Sprintf("cannot export train %s to PyTorch: it trains LoRA adapters, which model.py does not declare; fold them with encc merge and export the base model", t.Name)}
		}
		if t.Teacher != nil {
			return &Error{Pos: t.Teacher.Pos, Msg: fmt.Sprintf("cannot export train %s to PyTorch: train.py has no teacher (distillation runs in encc)", t.Name)}
		}
		for _, ph := range t.Phases {
			if ph.Prune != nil {
				return &Error{Pos: ph.Prune.Pos, Msg: fmt.Sprintf("cannot export train %s to PyTorch: phase %s prunes (%s), which train.py does not do", t.Name, ph.Name, ph.Prune.Kind)}
			}
			if ph.QAT != nil {
				return &Error{Pos: ph.QAT.Pos, Msg: fmt.Sprintf("cannot export train %s to PyTorch: phase %s trains for int8 (fake_int8), which train.py does not do", t.Name, ph.Name)}
			}
		}
		ti := infos[i]
		text := w.prog.Source(t.Decl.Pos().File)
		if text == nil {
			text, _ = os.ReadFile(t.Decl.Pos().File)
		}
		ti.meta["source_sha256"] = train.SourceHash(text)
		pr, ok := dataDone[t.Data.Name]
		if !ok {
			var err error
			if pr, err = train.PrepareData(w.prog, t); err != nil {
				return err
			}
			dataDone[t.Data.Name] = pr
			if err := w.data(t.Data, pr); err != nil {
				return err
			}
		}
		ti.hasTest = pr.Splits.Test != nil
		for _, f := range pr.Splits.Train.Fields {
			if f.Role == data.Label {
				ti.label = f.Name
			}
		}
		w.g.trainEntry(&entries, ti, t.Data.Name)
		iw, err := train.StartWeights(t, pr)
		if err != nil {
			return err
		}
		if err := writeWeights(filepath.Join(w.dir, "init", t.Name+".safetensors"), t.Params, iw); err != nil {
			return err
		}
		w.files = append(w.files, "init/"+t.Name+".safetensors")
	}
	if err := w.write("model.py", src); err != nil {
		return err
	}
	var imports []string
	for _, c := range w.g.classes {
		imports = append(imports, c.decl.Name.Name)
	}
	sort.Strings(imports)
	var b strings.Builder
	fmt.Fprintf(&b, "%s", pyDoc(w, tr))
	b.WriteString(trainImports)
	fmt.Fprintf(&b, "from model import %s\n\nHERE = os.path.dirname(os.path.abspath(__file__))\n", strings.Join(imports, ", "))
	b.WriteString(losses.String())
	b.WriteString("\n\n# The trains: each as its .enc declaration says (the source line in a comment).\nTRAINS = {\n")
	b.WriteString(entries.String())
	b.WriteString("}\n")
	fmt.Fprintf(&b, "DEFAULT = %q\n", tr.Name)
	b.WriteString(trainMain)
	if err := w.write("train.py", b.String()); err != nil {
		return err
	}
	if err := w.write("encc_support.py", supportPy); err != nil {
		return err
	}
	weights := w.o.Weights
	if weights == "" && tr.Save != "" {
		if _, err := os.Stat(compiler.DataPath(tr.Dir, tr.Save)); err == nil {
			weights = compiler.DataPath(tr.Dir, tr.Save)
		}
	}
	if weights != "" {
		if err := w.weights(tr.Model, weights); err != nil {
			return err
		}
	}
	return w.write("README.md", trainReadme(w, tr, chain, weights))
}

// data writes a dataset's prepared splits and its vocabulary.
func (w *writer) data(ds *compiler.Dataset, pr *train.Prepared) error {
	dir := filepath.Join(w.dir, "data", ds.Name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, s := range []struct {
		name string
		d    *data.Dataset
	}{{"train", pr.Splits.Train}, {"val", pr.Splits.Val}, {"test", pr.Splits.Test}} {
		if s.d == nil {
			continue
		}
		if _, err := writeSplit(dir, s.name, s.d, ds); err != nil {
			return err
		}
	}
	// The fitted preprocessing, which encc's checkpoints record.
	if err := os.WriteFile(filepath.Join(dir, "transform.json"), []byte(pr.Transform+"\n"), 0o644); err != nil {
		return err
	}
	if pr.Vocab != nil {
		return pr.Vocab.Save(filepath.Join(dir, "vocab.json"))
	}
	return nil
}

func pyDoc(w *writer, tr *compiler.Train) string {
	return fmt.Sprintf(`"""Train %s of %s, written by encc export (encc %s).

One process:        python3 train.py
Several (DDP):      torchrun --nproc_per_node N train.py
                    (or set RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT per process)
See README.md.
"""

`, tr.Name, w.prog.Root.Name, w.o.Version)
}

const trainImports = `import argparse
import json
import os
import struct
import time

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch.nn.parallel import DistributedDataParallel as DDP

import encc_support as es
`
