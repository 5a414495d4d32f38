package train

// This file implements the teacher of a distillation train
// (compiler.Teacher): its weights are read from the checkpoint of the
// train it comes from (from(...)) or from its file (load(...), mapped by
// rename: and split:), under the names teacher.<path>, and bound to the
// graph as constants; they are never updated nor saved with the student.

import (
	"fmt"
	"strings"

	"github.com/encc-lang/encc/compiler"
)

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
		spec.Mapping = compiler.LoadMapping(tr.Teacher.Load)
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
