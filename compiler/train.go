package compiler

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"sort"
	"strings"

	"github.com/encc-lang/encc/internal/diag"
	"github.com/encc-lang/encc/ir"
	"github.com/encc-lang/encc/lang"
)

// This file implements checking of datasets and trains: the fields each
// data source gives, the loss, optimizer and schedule, and the phases of
// a fine-tuning schedule with their freeze, unfreeze and lr_scale paths.

// A Dataset is a checked dataset declaration.
type Dataset struct {
	Name      string
	Decl      *lang.DatasetDecl
	Dir       string      // directory of the .enc file; data paths are relative to it
	Source    *ConfigV    // builtin(...), csv(...), idx(...)...
	Test      *ConfigV    // a separate test source, or nil
	Tokens    *ConfigV    // words(...) or chars(...), or nil
	Fields    []DataField // per-sample fields, in order
	Scale     float64     // 0: none
	Normalize string      // "", "standard" or "minmax"
	Split     map[string]float64
	Seed      int64
	Classes   int // number of label classes when known before reading data; 0 otherwise
}

// A DataField is one per-sample field of a dataset: image: f32[64].
type DataField struct {
	Name string
	Type TensorType
}

// Field returns the field named name.
func (d *Dataset) Field(name string) (DataField, bool) {
	for _, f := range d.Fields {
		if f.Name == name {
			return f, true
		}
	}
	return DataField{}, false
}

// A Train is a checked train declaration.
type Train struct {
	Name         string
	Decl         *lang.TrainDecl
	Model        *Instance
	Data         *Dataset
	Loss         lang.Expr // re-evaluated when lowering
	Optimizer    *ConfigV
	LR           *ConfigV // schedule; nil means constant
	Batch        int
	Epochs       int
	Seed         int64
	Save         string // checkpoint path, relative to the .enc file; "" for none
	ClipGradNorm float64
	Metrics      []*ConfigV
	Init         *ConfigV  // from(...) or load(...), or nil
	Quantize     *Quantize // quantize = int8(...), or nil
	From         *Train    // the train named by from(...)
	Phases       []*Phase  // at least one: a train without phases has one
	Params       []*Param
	Dir          string
	LoRA         *LoRA    // lora = lora(...), or nil
	Teacher      *Teacher // teacher = from(other) or load(...), or nil

	file *fileScope
}

// A Phase is a span of epochs with its own frozen set and rates.
type Phase struct {
	Name    string
	Pos     diag.Pos
	Epochs  int
	Frozen  map[string]bool    // parameter path -> frozen in this phase
	LRScale map[string]float64 // parameter path -> multiplier (absent: 1)
	LR      *ConfigV           // schedule for this phase; nil: the train's
	Prune   *Prune             // prune = magnitude(...) in this phase, or nil
	QAT     *QAT               // qat = fake_int8(...) in this phase, or nil
}

// Trainable lists the paths of parameters trained in phase ph.
func (t *Train) Trainable(ph *Phase) []string {
	var out []string
	for _, p := range t.Params {
		if !p.Buffer && !ph.Frozen[p.Path] {
			out = append(out, p.Path)
		}
	}
	return out
}

var datasetFields = []string{"source", "test", "scale", "normalize", "split", "seed", "tokens"}

// checkDataset checks a dataset declaration once.
func (c *checker) checkDataset(d *datasetDecl) *Dataset {
	if d.ds != nil || d.busy {
		return d.ds
	}
	d.busy = true
	defer func() { d.busy = false }()
	ds := &Dataset{Name: d.name, Decl: d.decl, Dir: filepath.Dir(d.file.name), Split: map[string]float64{}}
	en := &env{sc: d.file.scope, hyper: true}
	seen := map[string]*lang.Field{}
	ok := true
	for _, f := range d.decl.Fields {
		name := f.Name.Name
		if old, dup := seen[name]; dup {
			c.errorAt(f.Name, "field %s set twice", name).WithNote(old.Pos(), "first set here")
			ok = false
			continue
		}
		seen[name] = f
		v := c.eval(f.Value, en)
		if _, bad := v.(InvalidV); bad {
			ok = false
			continue
		}
		switch name {
		case "source", "test":
			cv, good := configOf(v, KSource)
			if !good {
				c.errorAt(f.Value, "%s must be a data source such as builtin(\"digits\"), csv(...) or idx(...), got %s", name, describe(v))
				ok = false
				continue
			}
			if name == "source" {
				ds.Source = cv
			} else {
				ds.Test = cv
			}
		case "tokens":
			cv, good := configOf(v, KTokenizer)
			if !good {
				c.errorAt(f.Value, "tokens must be a tokenizer such as words(vocab: 8000, max_len: 64), got %s", describe(v))
				ok = false
				continue
			}
			ds.Tokens = cv
		case "scale":
			s, good := floatOf(v)
			if !good || s <= 0 {
				c.errorAt(f.Value, "scale must be a positive number, got %s", describe(v))
				ok = false
				continue
			}
			ds.Scale = s
		case "normalize":
			cv, good := configOf(v, KOption)
			if !good {
				c.errorAt(f.Value, "normalize must be standard or minmax, got %s", describe(v))
				ok = false
				continue
			}
			ds.Normalize = cv.E.Name
		case "split":
			m, good := v.(*MapV)
			if !good {
				c.errorAt(f.Value, "split must be a map such as { train: 0.8, test: 0.2 }, got %s", describe(v))
				ok = false
				continue
			}
			sum := 0.0
			for _, k := range m.Keys {
				fv, isNum := floatOf(m.Vals[k])
				if k != "train" && k != "test" && k != "val" {
					c.errorf(m.Pos[k], "split: unknown part %q (have: train, test, val)", k)
					ok = false
					continue
				}
				if !isNum || fv <= 0 || fv >= 1 {
					c.errorf(m.Pos[k], "split: %s must be a fraction between 0 and 1, got %s", k, valueString(m.Vals[k]))
					ok = false
					continue
				}
				ds.Split[k] = fv
				sum += fv
			}
			if _, has := ds.Split["train"]; !has && ok {
				c.errorAt(f.Value, "split must have a train part")
				ok = false
			}
			if sum > 1+1e-9 {
				c.errorAt(f.Value, "split fractions add up to %g, more than 1", sum)
				ok = false
			}
		case "seed":
			n, good := v.(IntV)
			if !good {
				c.errorAt(f.Value, "seed must be an int, got %s", describe(v))
				ok = false
				continue
			}
			ds.Seed = n.V
		default:
			c.errorAt(f.Name, "unknown dataset field %q%s (have: %s)", name, suggestSuffix(name, datasetFields), quoteList(datasetFields))
			ok = false
		}
	}
	if ds.Source == nil {
		if ok {
			c.errorAt(d.decl.Name, "dataset %s has no source", d.name)
		}
		return nil
	}
	if !c.sourceFields(ds) || !ok {
		return nil
	}
	if ds.Test != nil && len(ds.Split) > 0 && ds.Split["test"] > 0 {
		c.errorAt(seen["split"].Value, "dataset %s has both a test source and a test split", d.name)
		return nil
	}
	d.ds = ds
	return ds
}

func configOf(v Value, k Kind) (*ConfigV, bool) {
	switch v := v.(type) {
	case *ConfigV:
		return v, v.E.Kind == k
	case *FuncV:
		if v.E.Kind == k {
			for _, p := range v.E.Params {
				if p.Default == nil && !p.Optional {
					return nil, false
				}
			}
			return &ConfigV{E: v.E, Args: v.E.defaults()}, true
		}
	}
	return nil, false
}

// sourceFields derives the per-sample fields a source gives.
func (c *checker) sourceFields(ds *Dataset) bool {
	src := ds.Source
	label := DataField{Name: "label", Type: tensorOf("i32")}
	text := false
	switch src.E.Name {
	case "builtin":
		name := src.Args["name"].(StrV).V
		switch name {
		case "digits":
			ds.Fields = []DataField{{Name: "image", Type: tensorOf("f32", ConstDim(64))}, label}
			ds.Classes = 10
		default:
			c.errorf(src.Arg["name"], "unknown builtin dataset %q (have: digits)", name)
			return false
		}
	case "idx":
		// Without the file (not downloaded yet) the image is MNIST's
		// 28x28; a file that is there must be a readable IDX image file.
		h, w := int64(28), int64(28)
		if dims, err := idxImageDims(DataPath(ds.Dir, src.Args["images"].(StrV).V)); err == nil {
			h, w = dims[0], dims[1]
		} else if !errors.Is(err, fs.ErrNotExist) {
			c.errorf(src.Arg["images"], "idx: %v", err)
			return false
		}
		ds.Fields = []DataField{{Name: "image", Type: tensorOf("f32", ConstDim(1), ConstDim(h), ConstDim(w))}, label}
	case "csv":
		if src.Args["text"].(StrV).V != "" {
			text = true
			break
		}
		p := DataPath(ds.Dir, src.Args["path"].(StrV).V)
		n, err := csvFeatureCount(p, src.Args["label"].(StrV).V, src.Args["delimiter"].(StrV).V)
		if err != nil {
			c.errorf(src.Arg["path"], "csv: %v", err)
			return false
		}
		ds.Fields = []DataField{{Name: "x", Type: tensorOf("f32", ConstDim(int64(n)))}, label}
	case "synthetic":
		var dims []Dim
		for _, e := range src.Args["shape"].(*ListV).Elems {
			n, ok := e.(IntV)
			if !ok || n.V <= 0 {
				c.errorf(src.Arg["shape"], "synthetic: shape must be a list of positive ints, got %s", valueString(src.Args["shape"]))
				return false
			}
			dims = append(dims, ConstDim(n.V))
		}
		if len(dims) == 0 {
			c.errorf(src.Arg["shape"], "synthetic: shape must not be empty")
			return false
		}
		classes := src.Args["classes"].(IntV).V
		if classes <= 0 || src.Args["n"].(IntV).V <= 0 {
			c.errorf(src.Pos, "synthetic: classes and n must be positive")
			return false
		}
		ds.Classes = int(classes)
		if v := src.Args["vocab"].(IntV).V; v > 0 {
			ds.Fields = []DataField{{Name: "ids", Type: TensorType{DType: "i32", Dims: dims}}, {Name: "mask", Type: TensorType{DType: "bool", Dims: dims}}, label}
		} else {
			ds.Fields = []DataField{{Name: "x", Type: TensorType{DType: "f32", Dims: dims}}, label}
		}
	case "jsonl", "json_dir":
		text = true
	}
	if text {
		if m, ok := src.Args["labels"].(*MapV); ok && len(m.Keys) > 0 {
			classes := map[string]bool{}
			for _, k := range m.Keys {
				cv, isStr := m.Vals[k].(StrV)
				if !isStr {
					c.errorf(m.Pos[k], "labels: class of %q must be a string, got %s", k, describe(m.Vals[k]))
					return false
				}
				classes[cv.V] = true
			}
			ds.Classes = len(classes)
		}
		if ds.Tokens == nil {
			c.errorf(src.Pos, "a text source needs a tokenizer: tokens = words(vocab: 8000, max_len: 64)")
			return false
		}
		ml := ds.Tokens.Args["max_len"].(IntV).V
		if ml <= 0 {
			c.errorf(ds.Tokens.Pos, "max_len must be positive, got %d", ml)
			return false
		}
		if !c.checkStopWords(ds) {
			return false
		}
		ds.Fields = []DataField{{Name: "ids", Type: tensorOf("i32", ConstDim(ml))}, {Name: "mask", Type: tensorOf("bool", ConstDim(ml))}, label}
	} else if ds.Tokens != nil {
		c.errorf(ds.Tokens.Pos, "tokens apply to text sources only; %s gives numbers", src.E.Name)
		return false
	}
	if ds.Test != nil && ds.Test.E.Name != src.E.Name {
		c.errorf(ds.Test.Pos, "test source %s differs from source %s", ds.Test.E.Name, src.E.Name)
		return false
	}
	return true
}

var trainFields = []string{"model", "data", "init", "loss", "optimizer", "lr", "batch", "epochs", "metrics", "seed", "save", "clip_grad_norm", "objective", "quantize",
	"lora", "teacher"} // parameter-efficient fine-tuning (lora.go), distillation (distill.go)

// checkTrain checks a train declaration once.
func (c *checker) checkTrain(d *trainDecl) *Train {
	if d.tr != nil || d.vt != nil {
		return d.tr
	}
	if d.busy {
		return nil
	}
	d.busy = true
	defer func() { d.busy = false }()
	tr := &Train{Name: d.name, Decl: d.decl, Batch: 32, Dir: filepath.Dir(d.file.name), file: d.file}
	en := &env{sc: d.file.scope, hyper: true}
	fields := map[string]*lang.Field{}
	var phases []*lang.Phase
	for _, it := range d.decl.Items {
		switch it := it.(type) {
		case *lang.Field:
			name := it.Name.Name
			if old, dup := fields[name]; dup {
				c.errorAt(it.Name, "field %s set twice", name).WithNote(old.Pos(), "first set here")
				continue
			}
			known := false
			for _, f := range trainFields {
				known = known || f == name
			}
			if !known {
				c.errorAt(it.Name, "unknown train field %q%s", name, suggestSuffix(name, trainFields))
				continue
			}
			fields[name] = it
		case *lang.Phase:
			phases = append(phases, it)
		}
	}
	if fields["objective"] != nil {
		c.checkVectorsTrain(d, fields, phases)
		return nil
	}
	ok := true
	need := func(name, example string) *lang.Field {
		f := fields[name]
		if f == nil {
			c.errorAt(d.decl.Name, "train %s needs %s = %s", d.name, name, example)
			ok = false
		}
		return f
	}
	mf, df, lf := need("model", "Model(...)"), need("data", "a dataset"), need("loss", "cross_entropy(model(x), label)")
	if !ok {
		return nil
	}
	// The model.
	if c.opts != nil && c.opts.Resize[tr.Name] != nil {
		c.resize, c.resizeAt = c.opts.Resize[tr.Name], mf.Value
	}
	mv := c.eval(mf.Value, en)
	iv, isInst := mv.(*InstanceV)
	if m, isModel := mv.(*ModelV); isModel {
		iv, isInst = c.instantiate(m.M, nil, mf.Value, en).(*InstanceV)
	}
	c.resize, c.resizeAt = nil, nil
	if _, isModel := mv.(*ModelV); isModel && !isInst {
		return nil
	}
	if !isInst {
		if _, bad := mv.(InvalidV); !bad {
			c.errorAt(mf.Value, "model must be a model instance such as %s(), got %s", "Classifier", describe(mv))
		}
		return nil
	}
	tr.Model = iv.I
	tr.Params = iv.I.Params()
	// The data.
	dv := c.eval(df.Value, en)
	dsv, isDS := dv.(*DatasetV)
	if !isDS {
		if _, bad := dv.(InvalidV); !bad {
			c.errorAt(df.Value, "data must name a dataset, got %s", describe(dv))
		}
		return nil
	}
	tr.Data = c.checkDataset(dsv.D)
	if tr.Data == nil {
		return nil
	}
	// Scalars.
	tr.Optimizer = catalogOrDefault("Adam")
	c.trainScalars(tr, fields, en)

	// The teacher, before the loss that calls it.
	if f := fields["teacher"]; f != nil {
		if !c.trainTeacher(tr, f, en) {
			return nil
		}
	}
	// The loss, with the model and the data fields in scope.
	tr.Loss = lf.Value
	lv := c.evalLoss(tr, en)
	if t, isT := lv.(*TensorV); isT && !(t.T.Rank() == 0 && isFloat(t.T.DType)) {
		c.errorAt(lf.Value, "loss must be a scalar f32[], got %s", t.T)
		ok = false
	} else if !isT {
		if _, bad := lv.(InvalidV); !bad {
			c.errorAt(lf.Value, "loss must be a scalar f32[], got %s", describe(lv))
		}
		ok = false
	}

	// Initial weights.
	if f := fields["init"]; f != nil {
		c.trainInit(tr, f, en)
		c.initNotSave(tr, fields["save"])
	}
	if f := fields["quantize"]; f != nil {
		c.trainQuantize(tr, f, en)
	}
	// Adapters, after init (a base checkpoint holds no adapters).
	if f := fields["lora"]; f != nil {
		c.trainLoRA(tr, f, en)
	}
	// Phases.
	c.trainPhases(tr, phases, fields["epochs"], en)
	if !ok {
		return nil
	}
	d.tr = tr
	return tr
}

func catalogOrDefault(name string) *ConfigV {
	e := catalog[name]
	return &ConfigV{E: e, Args: e.defaults()}
}

// trainEnv is the scope of a train's loss: the model and the data fields
// with the batch dimension B.
// B is the batch dimension: the variable B when checking, a number when
// lowering.
func (c *checker) trainEnv(tr *Train, en *env, batch Dim) *env {
	le := &env{sc: newScope(en.sc), dims: map[string]Dim{"B": batch}, file: tr.file.name}
	le.sc.names["model"] = &binding{v: &InstanceV{tr.Model}, pos: tr.Decl.Pos()}
	if tr.Teacher != nil {
		le.sc.names["teacher"] = &binding{v: &InstanceV{tr.Teacher.Model}, pos: tr.Teacher.Pos}
	}
	for _, f := range tr.Data.Fields {
		t := TensorType{DType: f.Type.DType, Dims: append([]Dim{batch}, f.Type.Dims...)}
		le.sc.names[f.Name] = &binding{v: c.input(f.Name, t), pos: tr.Data.Decl.Pos()}
	}
	return le
}

// input makes a graph input tensor (a batch field).
func (c *checker) input(name string, t TensorType) *TensorV {
	tv := c.emit(nil, t, func(l *lowerer, t ir.Type, _ []*ir.Value) (*ir.Value, error) {
		return l.input(name, ir.RoleData, t), nil
	})
	if c.tr != nil {
		c.traceInput(name, tv)
	}
	return tv
}

func (c *checker) evalLoss(tr *Train, en *env) Value {
	return c.eval(tr.Loss, c.trainEnv(tr, en, VarDim("B")))
}

func (c *checker) trainScalars(tr *Train, fields map[string]*lang.Field, en *env) {
	for _, name := range []string{"optimizer", "lr", "batch", "epochs", "seed", "save", "clip_grad_norm", "metrics"} {
		f := fields[name]
		if f == nil {
			continue
		}
		v := c.eval(f.Value, en)
		if _, bad := v.(InvalidV); bad {
			continue
		}
		switch name {
		case "optimizer":
			cv, good := configOf(v, KOptimizer)
			if !good {
				c.errorAt(f.Value, "optimizer must be SGD, Adam, AdamW or RMSprop, got %s", describe(v))
				continue
			}
			if lr := cv.Args["lr"].(FloatV).V; lr <= 0 {
				c.errorf(cv.Arg["lr"], "learning rate must be positive, got %g", lr)
			}
			tr.Optimizer = cv
		case "lr":
			cv, good := configOf(v, KSchedule)
			if !good {
				c.errorAt(f.Value, "lr must be a schedule such as cosine(to: 1e-5) or step(every: 10), got %s", describe(v))
				continue
			}
			tr.LR = cv
		case "batch", "epochs":
			n, good := v.(IntV)
			if !good || n.V <= 0 {
				c.errorAt(f.Value, "%s must be a positive int, got %s", name, describe(v))
				continue
			}
			if name == "batch" {
				tr.Batch = int(n.V)
			} else {
				tr.Epochs = int(n.V)
			}
		case "seed":
			n, good := v.(IntV)
			if !good {
				c.errorAt(f.Value, "seed must be an int, got %s", describe(v))
				continue
			}
			tr.Seed = n.V
		case "save":
			s, good := v.(StrV)
			if !good || s.V == "" || !strings.HasSuffix(s.V, ".safetensors") {
				c.errorAt(f.Value, "save must be a path ending in .safetensors, got %s", describe(v))
				continue
			}
			tr.Save = s.V
		case "clip_grad_norm":
			x, good := floatOf(v)
			if !good || x <= 0 {
				c.errorAt(f.Value, "clip_grad_norm must be a positive number, got %s", describe(v))
				continue
			}
			tr.ClipGradNorm = x
		case "metrics":
			l, good := v.(*ListV)
			if !good {
				c.errorAt(f.Value, "metrics must be a list such as [accuracy], got %s", describe(v))
				continue
			}
			for i, e := range l.Elems {
				cv, good := configOf(e, KMetric)
				if !good {
					at := f.Value
					if le, isList := f.Value.(*lang.ListExpr); isList && i < len(le.Elems) {
						at = le.Elems[i]
					}
					c.errorAt(at, "%s is not a metric (have: accuracy, top_k(k), f1, loss)", c.text(at))
					continue
				}
				tr.Metrics = append(tr.Metrics, cv)
			}
		}
	}
}

// initNotSave reports a train whose checkpoint would overwrite the
// weights it starts from: after its first epoch, save = "pre.safetensors"
// would replace init = load("pre.safetensors") (or the checkpoint of the
// train of from(...)), and the pre-trained weights would be lost.
func (c *checker) initNotSave(tr *Train, save *lang.Field) {
	if tr.Init == nil || tr.Save == "" || save == nil {
		return
	}
	var from string
	var at diag.Pos
	switch {
	case tr.Init.E.Name == "from" && tr.From != nil && tr.From.Save != "":
		from, at = DataPath(tr.From.Dir, tr.From.Save), argPos(tr.Init, "train")
	case tr.Init.E.Name == "load":
		p, _ := tr.Init.Args["path"].(StrV)
		from, at = DataPath(tr.Dir, p.V), argPos(tr.Init, "path")
	default:
		return
	}
	if DataPath(tr.Dir, tr.Save) == from {
		c.errorAt(save.Value, "save %q is the file init reads: the checkpoint would overwrite the weights this train starts from; save elsewhere", tr.Save).
			WithNote(at, "init reads %s here", from)
	}
}

// trainInit checks init = from(other, only: ...) or load(...).
func (c *checker) trainInit(tr *Train, f *lang.Field, en *env) {
	v := c.eval(f.Value, en)
	cv, good := configOf(v, KWeights)
	if !good {
		if _, bad := v.(InvalidV); !bad {
			c.errorAt(f.Value, "init must be from(train) or load(\"file.safetensors\"), got %s", describe(v))
		}
		return
	}
	tr.Init = cv
	only := pathsOf(cv.Args["only"])
	for _, o := range only {
		if len(matchParams(tr.Params, o)) == 0 {
			c.errorf(argPos(cv, "only"), "only %q matches no parameter of %s (have: %s)", o, tr.Model.Name(), paramList(tr.Params))
			return
		}
	}
	if cv.E.Name == "vectors" {
		c.checkVectorsInit(tr, cv)
		return
	}
	if cv.E.Name != "from" {
		if _, ok := cv.Args["model"]; ok {
			c.errorf(argPos(cv, "model"), "load: model: names a teacher's model (teacher = load(...)); init loads onto the train's model")
			return
		}
		if p := cv.Args["path"].(StrV).V; !strings.HasSuffix(p, ".safetensors") {
			c.errorf(argPos(cv, "path"), "load reads .safetensors files, got %q", p)
		}
		return
	}
	other := cv.Args["train"].(*TrainV).T
	if other.busy {
		c.errorf(argPos(cv, "train"), "from(%s): train %s depends on itself through from(...)", other.name, tr.Name)
		return
	}
	src := c.checkTrain(other)
	if src == nil {
		return
	}
	tr.From = src
	if src.LoRA != nil {
		c.errorf(argPos(cv, "train"), "from(%s): train %s has lora, so its checkpoint holds only what it trained; merge it (encc merge) and load(...) the merged file", other.name, other.name)
		return
	}
	if src.Save == "" {
		c.errorf(argPos(cv, "train"), "from(%s): train %s saves no checkpoint; add save = \"runs/%s.safetensors\"", other.name, other.name, other.name)
		return
	}
	// Every taken parameter must exist in the source with the same shape.
	have := map[string]*Param{}
	for _, p := range src.Params {
		have[p.Path] = p
	}
	var missing, misshaped []string
	for _, p := range tr.Params {
		if len(only) > 0 && !matchesAny(only, p.Path) {
			continue
		}
		q, ok := have[p.Path]
		switch {
		case !ok:
			missing = append(missing, p.Path)
		case !q.Type.Equal(p.Type):
			misshaped = append(misshaped, fmt.Sprintf("%s (%s here, %s in %s)", p.Path, p.Type, q.Type, src.Name))
		}
	}
	if len(missing)+len(misshaped) > 0 {
		d := c.errorf(cv.Pos, "from(%s): the checkpoint does not fit %s", src.Name, tr.Model.Name())
		if len(missing) > 0 {
			d.WithNote(cv.Pos, "missing in %s: %s", src.Name, strings.Join(missing, ", "))
		}
		if len(misshaped) > 0 {
			d.WithNote(cv.Pos, "mis-shaped: %s", strings.Join(misshaped, ", "))
		}
		if len(only) == 0 {
			d.WithNote(cv.Pos, "use only: \"prefix.*\" to take part of it")
		}
	}
}

func argPos(cv *ConfigV, name string) diag.Pos {
	if p, ok := cv.Arg[name]; ok {
		return p
	}
	return cv.Pos
}

func pathsOf(v Value) []string {
	switch v := v.(type) {
	case StrV:
		if v.V == "" {
			return nil
		}
		return []string{v.V}
	case *ListV:
		var out []string
		for _, e := range v.Elems {
			out = append(out, e.(StrV).V)
		}
		return out
	}
	return nil
}

// MatchPath reports whether a parameter path is selected by pattern: a
// dotted prefix (encoder, encoder.fc1) or a glob where * spans dots
// ("blocks.0.*", "encoder.fc*").
func MatchPath(pattern, p string) bool {
	if pattern == p || strings.HasPrefix(p, pattern+".") {
		return true
	}
	return glob(pattern, p)
}

// glob matches * (any run, dots included) and ? (one character).
func glob(pat, s string) bool {
	if !strings.ContainsAny(pat, "*?") {
		return false
	}
	for len(pat) > 0 {
		switch pat[0] {
		case '*':
			for i := len(s); i >= 0; i-- {
				if glob1(pat[1:], s[i:]) {
					return true
				}
			}
			return false
		case '?':
			if s == "" {
				return false
			}
			pat, s = pat[1:], s[1:]
		default:
			if s == "" || pat[0] != s[0] {
				return false
			}
			pat, s = pat[1:], s[1:]
		}
	}
	return s == ""
}

func glob1(pat, s string) bool {
	if !strings.ContainsAny(pat, "*?") {
		return pat == s
	}
	return glob(pat, s)
}

func matchesAny(patterns []string, p string) bool {
	for _, pat := range patterns {
		if MatchPath(pat, p) {
			return true
		}
	}
	return false
}

func matchParams(ps []*Param, pattern string) []*Param {
	var out []*Param
	for _, p := range ps {
		if MatchPath(pattern, p.Path) {
			out = append(out, p)
		}
	}
	return out
}

func paramList(ps []*Param) string {
	var names []string
	for i, p := range ps {
		if i == 12 {
			names = append(names, fmt.Sprintf("… %d more", len(ps)-12))
			break
		}
		names = append(names, p.Path)
	}
	return strings.Join(names, ", ")
}

// trainPhases checks the phase blocks and fills tr.Phases and tr.Epochs.
func (c *checker) trainPhases(tr *Train, phases []*lang.Phase, epochsField *lang.Field, en *env) {
	if len(phases) == 0 {
		if tr.Epochs == 0 {
			tr.Epochs = 10
		}
		tr.Phases = []*Phase{{Name: "train", Epochs: tr.Epochs, Frozen: tr.loraFrozen(), LRScale: map[string]float64{}}}
		return
	}
	frozen := tr.loraFrozen()
	scale := map[string]float64{}
	var lr *ConfigV
	total := 0
	names := map[string]diag.Pos{}
	for _, ph := range phases {
		if old, dup := names[ph.Name.Name]; dup {
			c.errorAt(ph.Name, "phase %s declared twice", ph.Name.Name).WithNote(old, "first declared here")
			continue
		}
		names[ph.Name.Name] = ph.Name.Pos()
		out := &Phase{Name: ph.Name.Name, Pos: ph.Pos()}
		vals, _, _, ok := c.bind("phase "+ph.Name.Name, []ParamSpec{req("epochs", "int", "epochs in this phase")}, nil, c.evalArgs(ph.Args, en), ph.Name)
		if !ok {
			continue
		}
		out.Epochs = int(vals["epochs"].(IntV).V)
		if out.Epochs <= 0 {
			c.errorAt(ph.Name, "phase %s: epochs must be positive, got %d", ph.Name.Name, out.Epochs)
			continue
		}
		total += out.Epochs
		badPath := false // a path matched nothing: what is frozen is unknown
		for _, st := range ph.Stmts {
			switch st := st.(type) {
			case *lang.Freeze:
				for _, pth := range st.Paths {
					ms := matchParams(tr.Params, pth.Text)
					if len(ms) == 0 {
						verb := "freeze"
						if st.Unfreeze {
							verb = "unfreeze"
						}
						c.errorAt(pth, "%s %q matches no parameter (have: %s)", verb, pth.Text, paramList(tr.Params))
						badPath = true
						continue
					}
					for _, m := range ms {
						frozen[m.Path] = !st.Unfreeze
					}
				}
			case *lang.LRScale:
				v := c.eval(st.Value, en)
				x, good := floatOf(v)
				if !good || x < 0 {
					if _, bad := v.(InvalidV); !bad {
						c.errorAt(st.Value, "lr_scale must be a non-negative number, got %s", describe(v))
					}
					continue
				}
				ms := matchParams(tr.Params, st.Path.Text)
				if len(ms) == 0 {
					c.errorAt(st.Path, "lr_scale %q matches no parameter (have: %s)", st.Path.Text, paramList(tr.Params))
					continue
				}
				for _, m := range ms {
					scale[m.Path] = x
				}
			case *lang.Field:
				if st.Name.Name == "prune" {
					out.Prune = c.phasePrune(tr, st, en)
					continue
				}
				if st.Name.Name == "qat" {
					out.QAT = c.phaseQAT(tr, st, en)
					continue
				}
				if st.Name.Name != "lr" {
					c.errorAt(st.Name, "a phase sets only lr, prune, qat, freeze, unfreeze and lr_scale; %q is a train field", st.Name.Name)
					continue
				}
				v := c.eval(st.Value, en)
				cv, good := configOf(v, KSchedule)
				if !good {
					if _, bad := v.(InvalidV); !bad {
						c.errorAt(st.Value, "lr must be a schedule such as cosine(to: 1e-5), got %s", describe(v))
					}
					continue
				}
				lr = cv
			}
		}
		out.Frozen = copyMap(frozen)
		out.LRScale = copyMap(scale)
		out.LR = lr
		if len(tr.Trainable(out)) == 0 && !badPath {
			c.errorAt(ph.Name, "phase %s freezes every parameter: nothing to train", ph.Name.Name)
		}
		tr.Phases = append(tr.Phases, out)
	}
	switch {
	case epochsField != nil && tr.Epochs != 0 && tr.Epochs != total && len(tr.Phases) == len(phases):
		c.errorAt(epochsField.Value, "epochs = %d, but the phases add up to %d", tr.Epochs, total)
	default:
		tr.Epochs = total
	}
}

func copyMap[V any](m map[string]V) map[string]V {
	out := make(map[string]V, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// sortedParams returns paths sorted, for stable messages.
func sortedParams(ps []*Param) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.Path
	}
	sort.Strings(out)
	return out
}
