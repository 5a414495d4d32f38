package train

// This file implements the teacher of a distillation train
// (compiler.Teacher): its weights are read from the checkpoint of the
// train it comes from (from(...)) or from its file (load(...), mapped by
// rename: and split:), under the names teacher.<path>, and bound to the
// graph as constants; they are never updated nor saved with the student.

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/encc-lang/encc/compiler"
	"github.com/encc-lang/encc/runtime/safetensors"
	"github.com/encc-lang/encc/runtime/weights"
)

func init() { compiler.TeacherFileCheck = teacherFile }

// TeacherWeights reads the teacher weights of tr, by teacher.<path>: from
// the checkpoint of the train its teacher comes from, or from the file
// its teacher loads.
func TeacherWeights(tr *compiler.Train) (map[string][]float32, error) {
	var (
		file   string
		params []*compiler.Param
		spec   LoadSpec
		model  string
	)
	if src := tr.Teacher.From; src != nil {
		file, params, model = compiler.DataPath(src.Dir, src.Save), src.Model.Params(), src.Model.Name()
	} else {
		file, model = tr.Teacher.File, tr.Teacher.Model.Name()
		spec.Mapping = loadMapping(tr.Teacher.Load)
		for _, p := range tr.Teacher.Params { // their paths without "teacher."
			q := *p
			q.Path = strings.TrimPrefix(p.Path, "teacher.")
			params = append(params, &q)
		}
	}
	c, err := LoadCheckpoint(file)
	if err != nil {
		return nil, fmt.Errorf("teacher of %s: %w", tr.Name, err)
	}
	w, err := FitWeights(c, params, spec, file, model)
	if err != nil {
		return nil, fmt.Errorf("teacher of %s: %w", tr.Name, err)
	}
	out := make(map[string][]float32, len(w))
	for path, v := range w {
		out["teacher."+path] = v
	}
	for _, p := range tr.Teacher.Params {
		if _, ok := out[p.Path]; !ok {
			return nil, fmt.Errorf("teacher of %s: %s holds no %s", tr.Name, file, p.Path)
		}
	}
	return out, nil
}

// teacherFile is compiler.TeacherFileCheck: it reads the header of a
// teacher's weights file (not its data) and says, as a message and notes,
// why its tensors do not fit params ("" when they do); messages name the
// file as the source writes it (name). An encc checkpoint's optimizer
// state (names with ':') is not a weight; tensors of integers or booleans
// fit no parameter (except PyTorch's BatchNorm counter, which
// LoadCheckpoint reads as a float).
func teacherFile(file, name string, params []*compiler.Param, cv *compiler.ConfigV, model string) (string, []string) {
	h, err := safetensors.ReadHeader(file)
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Sprintf("teacher load: no such file %s", name), nil
	}
	if err != nil {
		return fmt.Sprintf("teacher load: %s: %v", name, strings.TrimPrefix(err.Error(), file+": ")), nil
	}
	encc := h.Metadata["format"] == FormatName
	shapes := map[string][]int{}
	nonFloat := map[string]string{}
	for _, t := range h.Tensors {
		switch {
		case encc && strings.Contains(t.Name, ":"):
			continue
		case t.DType == safetensors.I64 && strings.HasSuffix(t.Name, "num_batches_tracked") && t.NumElements() == 1:
		case t.DType != safetensors.F32 && t.DType != safetensors.F16 && t.DType != safetensors.BF16 && t.DType != safetensors.F64:
			nonFloat[t.Name] = string(t.DType)
		}
		shapes[t.Name] = t.Shape
	}
	pieces, err := loadMapping(cv).Plan(shapes)
	if err != nil {
		return fmt.Sprintf("teacher load: %s: %v", name, err), nil
	}
	want := make([]weights.Param, len(params))
	for i, p := range params {
		shape, _ := p.Type.ConstShape()
		want[i] = weights.Param{Path: p.Path, Shape: shape}
	}
	_, err = weights.Check(pieces, want, weights.CheckOptions{File: name, Model: model, NonFloat: nonFloat})
	var fe *weights.FitError
	if !errors.As(err, &fe) {
		if err != nil {
			return fmt.Sprintf("teacher load: %v", err), nil
		}
		return "", nil
	}
	var notes []string
	list := func(what string, xs []string) {
		if len(xs) > 0 {
			notes = append(notes, fmt.Sprintf("%s (%d): %s", what, len(xs), strings.Join(xs, ", ")))
		}
	}
	list("missing", fe.Missing)
	list("unexpected", fe.Unexpected)
	list("mis-shaped", fe.Misshaped)
	if len(fe.Missing)+len(fe.Unexpected) > 0 {
		notes = append(notes, "rename: and split: map a file's tensor names onto the model's (docs/pytorch-weights.md)")
	}
	return fmt.Sprintf("teacher load: %s does not fit %s", name, model), notes
}

// loadMapping reads rename: and split: of a load(...) (docs/pytorch-weights.md).
func loadMapping(cv *compiler.ConfigV) weights.Mapping {
	var m weights.Mapping
	if mv, ok := cv.Args["rename"].(*compiler.MapV); ok && len(mv.Vals) > 0 {
		m.Rename = map[string]string{}
		for k, v := range mv.Vals {
			if str, ok := v.(compiler.StrV); ok {
				m.Rename[k] = str.V
			}
		}
	}
	if mv, ok := cv.Args["split"].(*compiler.MapV); ok && len(mv.Vals) > 0 {
		m.Split = map[string][]string{}
		for k, v := range mv.Vals {
			if l, ok := v.(*compiler.ListV); ok {
				for _, e := range l.Elems {
					if str, ok := e.(compiler.StrV); ok {
						m.Split[k] = append(m.Split[k], str.V)
					}
				}
			}
		}
	}
	return m
}
