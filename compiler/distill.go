package compiler

import (
	"strings"

	"github.com/encc-lang/encc/internal/diag"
	"github.com/encc-lang/encc/ir"
	"github.com/encc-lang/encc/lang"
)

// This file implements knowledge distillation as a train declares it:
//
//	teacher = from(lenet)
//	loss    = 0.5 * cross_entropy(model(image), label) + 0.5 * distill(model(image), teacher(image), T: 4)
//
// The teacher is the model of another train, with the weights that train
// saves, or a model given with a weights file:
//
//	teacher = load("lenet.safetensors", model: LeNet5(), rename: {...})
//
// whose tensors must fit the model when the file is checked (only its
// header is read, by TeacherFileCheck). In the loss it is called like model; its parameters are graph
// constants named teacher.<path> (role const): they get no gradient, no
// backward op reads them beyond the forward, they have no optimizer
// state and the student's checkpoint does not hold them. Its forward
// runs without dropout, as in evaluation.

// A Teacher is the checked teacher of a train.
type Teacher struct {
	From   *Train    // the train whose model and checkpoint it is; nil for load(...)
	Load   *ConfigV  // teacher = load(...): the file, its rename: and split:; nil for from(...)
	File   string    // load(...)'s file, resolved against the .enc file's folder
	Model  *Instance // a fresh instance of the teacher's model, at path "teacher"
	Params []*Param  // teacher.<path>, all Buffer (constants)
	Pos    diag.Pos
}

// trainTeacher checks teacher = from(other) or load(file, model: M(...)).
func (c *checker) trainTeacher(tr *Train, f *lang.Field, en *env) bool {
	v := c.eval(f.Value, en)
	cv, good := configOf(v, KWeights)
	if !good || cv.E.Name != "from" && cv.E.Name != "load" {
		if _, bad := v.(InvalidV); !bad {
			c.errorAt(f.Value, "teacher must be from(train) or load(\"file.safetensors\", model: M()): a model with its trained weights, got %s", describe(v))
		}
		return false
	}
	if s, ok := cv.Args["only"].(StrV); !ok || s.V != "" {
		c.errorf(argPos(cv, "only"), "a teacher takes every weight of its model: only: does not apply")
		return false
	}
	if cv.E.Name == "load" {
		return c.teacherLoad(tr, cv)
	}
	other := cv.Args["train"].(*TrainV).T
	if other.busy {
		c.errorf(argPos(cv, "train"), "teacher from(%s): train %s depends on itself", other.name, tr.Name)
		return false
	}
	src := c.checkTrain(other)
	if src == nil {
		return false
	}
	if src.Save == "" {
		c.errorf(argPos(cv, "train"), "teacher from(%s): train %s saves no checkpoint; add save = \"runs/%s.safetensors\"", other.name, other.name, other.name)
		return false
	}
	if src.Teacher != nil || src.LoRA != nil {
		c.errorf(argPos(cv, "train"), "teacher from(%s): a teacher must be a plain train (no teacher or lora of its own)", other.name)
		return false
	}
	// A fresh instance of the source's model, attached at "teacher".
	var mf *lang.Field
	for _, it := range src.Decl.Items {
		if fl, ok := it.(*lang.Field); ok && fl.Name.Name == "model" {
			mf = fl
		}
	}
	mv := c.eval(mf.Value, &env{sc: src.file.scope, hyper: true})
	iv, isInst := mv.(*InstanceV)
	if m, isModel := mv.(*ModelV); isModel {
		iv, isInst = c.instantiate(m.M, nil, mf.Value, en).(*InstanceV)
	}
	if !isInst {
		return false
	}
	tr.Teacher = newTeacher(iv, cv)
	tr.Teacher.From = src
	return true
}

// newTeacher attaches a model instance at "teacher", evaluation-only,
// with its parameters as constants.
func newTeacher(iv *InstanceV, cv *ConfigV) *Teacher {
	attach(iv, "teacher")
	iv.I.evalOnly = true
	t := &Teacher{Model: iv.I, Pos: cv.Pos}
	for _, p := range iv.I.Params() {
		q := *p
		q.Buffer = true
		t.Params = append(t.Params, &q)
	}
	return t
}

// TeacherFileCheck checks, when the program is checked, the weights file
// of a teacher = load(...) (file; name is its path as the source writes
// it): that it exists and that its tensors, mapped by load's rename: and
// split: (cv), fit params, the teacher model's parameters. It returns a
// message and notes ("" when the file fits). The compiler reads no
// weights file itself (internal/arch): runtime/train sets this, so every
// program that links the runtime (encc check, the language server in
// encc) checks the file; without it, the run does.
var TeacherFileCheck func(file, name string, params []*Param, cv *ConfigV, model string) (msg string, notes []string)

// teacherLoad checks teacher = load("file.safetensors", model: M(),
// rename:, split:): the model is an instance, and the file exists and its
// tensors, mapped by rename: and split:, fit the model's parameters.
func (c *checker) teacherLoad(tr *Train, cv *ConfigV) bool {
	path := cv.Args["path"].(StrV).V
	if !strings.HasSuffix(path, ".safetensors") {
		c.errorf(argPos(cv, "path"), "load reads .safetensors files, got %q", path)
		return false
	}
	mv, given := cv.Args["model"]
	if !given {
		c.errorf(cv.Pos, "teacher = load(...) needs model: the teacher's model, e.g. load(%q, model: LeNet5())", path)
		return false
	}
	iv, isInst := mv.(*InstanceV)
	if !isInst {
		c.errorf(argPos(cv, "model"), "teacher load: model must be a model instance such as LeNet5(), got %s", describe(mv))
		return false
	}
	file := DataPath(tr.Dir, path)
	params := iv.I.Params()
	if TeacherFileCheck == nil {
		// no file reader linked in: the run checks the file
	} else if msg, notes := TeacherFileCheck(file, path, params, cv, iv.I.Name()); msg != "" {
		d := c.errorf(argPos(cv, "path"), "%s", msg)
		for _, n := range notes {
			d.WithNote(argPos(cv, "path"), "%s", n)
		}
		return false
	}
	tr.Teacher = newTeacher(iv, cv)
	tr.Teacher.Load, tr.Teacher.File = cv, file
	return true
}

// distillEntry is the loss distill(student, teacher, T:).
func distillEntry() *Entry {
	return &Entry{Name: "distill", Kind: KLoss,
		In:     []ParamSpec{req("student", "tensor", "the student's logits"), req("teacher", "tensor", "the teacher's logits")},
		Params: []ParamSpec{p("T", "float", FloatV{1}, "temperature: both logits are divided by T")},
		Doc:    "distill is Hinton et al.'s distillation loss T² · KL(softmax(teacher/T) ‖ softmax(student/T)), summed over classes and averaged over the first dimension (PyTorch: kl_div(log_softmax(s/T), log_softmax(t/T), log_target=True, reduction=\"batchmean\") · T²).",
		Sig:    "f32[N, C], f32[N, C] -> f32[]",
		fn: func(k *callCtx) Value {
			s, t := k.tensor("student"), k.tensor("teacher")
			if !isFloat(s.T.DType) || s.T.Rank() < 1 {
				return k.errorf("student", "distill expects the student's logits f32[N, C], got %s", s.T)
			}
			if !s.T.Equal(t.T) {
				return k.errorf("teacher", "distill: the teacher's logits %s do not fit the student's %s", t.T, s.T)
			}
			temp := k.float("T")
			if temp <= 0 {
				return k.errorf("T", "distill: temperature T must be positive, got %g", temp)
			}
			return k.emit(tensorOf("f32"), asLoss(lowerDistill(temp)), s, t)
		}}
}

// lowerDistill lowers T² · Σ p_t (log p_t − log p_s) / N with log p =
// log_softmax(logits / T) over the last axis.
func lowerDistill(temp float64) lowerFunc {
	return func(l *lowerer, _ ir.Type, in []*ir.Value) (*ir.Value, error) {
		b, s, t := l.b, in[0], in[1]
		dt := s.Type.DType
		last := s.Type.Rank() - 1
		invT := l.must(b.Const(dt, 1/temp))
		ls := l.must(b.LogSoftmax(l.must(b.Mul(s, invT)), last))
		lt := l.must(b.LogSoftmax(l.must(b.Mul(t, invT)), last))
		e := l.must(b.Mul(l.must(b.Exp(lt)), l.must(b.Sub(lt, ls))))
		if e == nil {
			return nil, nil
		}
		sum := l.must(b.Sum(e, allAxes(e.Type.Rank()), false))
		return b.Mul(sum, l.must(b.Const(dt, temp*temp/float64(s.Type.Shape[0]))))
	}
}
