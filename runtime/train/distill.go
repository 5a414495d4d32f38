package train

// This file implements the teacher of a distillation train
// (compiler.Teacher): its weights are read from the checkpoint of the
// train it comes from, under the names teacher.<path>, and bound to the
// graph as constants; they are never updated nor saved with the student.

import (
	"fmt"

	"github.com/encc-lang/encc/compiler"
)

// TeacherWeights reads the teacher weights of tr from the checkpoint of
// the train its teacher comes from, by teacher.<path>.
func TeacherWeights(tr *compiler.Train) (map[string][]float32, error) {
	src := tr.Teacher.From
	file := compiler.DataPath(src.Dir, src.Save)
	c, err := LoadCheckpoint(file)
	if err != nil {
		return nil, fmt.Errorf("teacher of %s: %w", tr.Name, err)
	}
	w, err := FitWeights(c, src.Model.Params(), LoadSpec{}, file, src.Model.Name())
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
