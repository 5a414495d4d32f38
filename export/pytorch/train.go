package pytorch

// This file implements train.py: per train, its loss function and its
// entry of TRAINS (model, data, optimizer, schedule, phases, metrics),
// then the loop shared by every train (train_py.go).

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/encc-lang/encc/compiler"
	"github.com/encc-lang/encc/internal/diag"
	"github.com/encc-lang/encc/lang"
)

type diagPos = diag.Pos

// trainInfo is what the export knows of one train beyond its checked
// form: the prepared data's label field and sizes.
type trainInfo struct {
	tr      *compiler.Train
	label   string // the label field ("" when none)
	hasTest bool
	meta    map[string]string // checkpoint metadata: format, rng, source hash
}

// pyValue renders a checked value as a Python literal.
func pyValue(v compiler.Value) string {
	switch v := v.(type) {
	case compiler.IntV:
		return strconv.FormatInt(v.V, 10)
	case compiler.FloatV:
		return pyFloat(v.V)
	case compiler.BoolV:
		if v.V {
			return "True"
		}
		return "False"
	case compiler.StrV:
		return strconv.Quote(v.V)
	case compiler.NoneV, nil:
		return "None"
	case *compiler.ListV:
		var parts []string
		for _, e := range v.Elems {
			parts = append(parts, pyValue(e))
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case *compiler.ConfigV:
		return pyConfig(v)
	}
	return "None"
}

func pyFloat(f float64) string {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return fmt.Sprintf("float(%q)", strconv.FormatFloat(f, 'g', -1, 64))
	}
	s := strconv.FormatFloat(f, 'g', -1, 64)
	if !strings.ContainsAny(s, ".eE") {
		s += ".0"
	}
	return s
}

// pyConfig renders a configuration (optimizer, schedule) as a dict with
// every argument, defaults included.
func pyConfig(cv *compiler.ConfigV) string {
	if cv == nil {
		return "None"
	}
	parts := []string{fmt.Sprintf("%q: %q", "name", cv.E.Name)}
	for _, p := range cv.E.Params {
		v, ok := cv.Args[p.Name]
		if !ok {
			continue
		}
		parts = append(parts, fmt.Sprintf("%q: %s", p.Name, pyValue(v)))
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

// instanceCall renders the construction of an instance from its bound
// hyper-parameters: TextClassifier(vocab=8000, ...).
func instanceCall(in *compiler.Instance) string {
	var parts []string
	for _, n := range in.HPNames {
		parts = append(parts, pyName(n)+"="+pyValue(in.HP[n]))
	}
	return in.Name() + "(" + strings.Join(parts, ", ") + ")"
}

// lossFunc writes the loss function of a train: the .enc loss expression
// over the batch's fields, returning the loss and the model's prediction.
func (g *modelGen) lossFunc(b *strings.Builder, ti *trainInfo) error {
	tr := ti.tr
	f := &fnGen{g: g, c: g.byDecl[tr.Model.Decl()], ctx: ctxLoss, locals: map[string]kind{}, fields: map[string]string{}}
	var names, gets []string
	used := map[string]bool{}
	lang.Inspect(tr.Loss, func(n lang.Node) bool {
		if id, ok := n.(*lang.Ident); ok {
			used[id.Name] = true
		}
		return true
	})
	for _, fd := range tr.Data.Fields {
		if !used[fd.Name] {
			continue
		}
		f.locals[fd.Name] = kTensor
		f.fields[fd.Name] = pyName(fd.Name)
		if f.dev == "" {
			f.dev = pyName(fd.Name)
		}
		names = append(names, pyName(fd.Name))
		gets = append(gets, fmt.Sprintf("batch[%q]", fd.Name))
	}
	code, _, err := f.expr(tr.Loss)
	if err != nil {
		return err
	}
	fmt.Fprintf(b, "\n\ndef loss_%s(model, batch):\n", tr.Name)
	fmt.Fprintf(b, "    \"\"\"The loss of train %s and the model's prediction (metrics read it).\"\"\"\n", tr.Name)
	fmt.Fprintf(b, "    %s\n", g.where(tr.Decl.Pos().File, tr.Loss))
	if len(names) > 0 {
		fmt.Fprintf(b, "    %s = %s\n", strings.Join(names, ", "), strings.Join(gets, ", "))
	}
	for _, l := range f.pre {
		fmt.Fprintf(b, "    %s\n", l)
	}
	pred := "None"
	if f.pred != "" {
		pred = "pred"
	}
	fmt.Fprintf(b, "    return %s, %s\n", code, pred)
	return nil
}

// trainEntry writes the TRAINS entry of a train.
func (g *modelGen) trainEntry(b *strings.Builder, ti *trainInfo, dataName string) {
	tr := ti.tr
	file := tr.Decl.Pos().File
	fieldLine := func(name string) string {
		for _, it := range tr.Decl.Items {
			if fd, ok := it.(*lang.Field); ok && fd.Name.Name == name {
				return "  " + g.where(file, fd)
			}
		}
		return ""
	}
	fmt.Fprintf(b, "    %q: dict(  %s:%d: train %s\n", tr.Name, "# "+displayName(file), tr.Decl.Pos().Line, tr.Name)
	fmt.Fprintf(b, "        model=lambda: %s,%s\n", instanceCall(tr.Model), fieldLine("model"))
	fmt.Fprintf(b, "        data=%q,%s (prepared by encc: data/%s/)\n", dataName, fieldLine("data"), dataName)
	fmt.Fprintf(b, "        has_test=%s,\n", pyBool(ti.hasTest))
	fmt.Fprintf(b, "        label=%q,\n", ti.label)
	fmt.Fprintf(b, "        loss=loss_%s,\n", tr.Name)
	fmt.Fprintf(b, "        optimizer=%s,%s\n", pyConfig(tr.Optimizer), fieldLine("optimizer"))
	fmt.Fprintf(b, "        lr=%s,%s\n", pyConfig(tr.LR), fieldLine("lr"))
	fmt.Fprintf(b, "        batch=%d,\n", tr.Batch)
	fmt.Fprintf(b, "        seed=%d,\n", tr.Seed)
	fmt.Fprintf(b, "        clip_grad_norm=%s,\n", pyFloat(tr.ClipGradNorm))
	var ms []string
	for _, m := range tr.Metrics {
		name, k := m.E.Name, 0
		if name == "top_k" {
			k = int(m.Args["k"].(compiler.IntV).V)
			name = fmt.Sprintf("top%d", k)
		}
		ms = append(ms, fmt.Sprintf("{\"name\": %q, \"kind\": %q, \"k\": %d}", name, m.E.Name, k))
	}
	fmt.Fprintf(b, "        metrics=[%s],\n", strings.Join(ms, ", "))
	fmt.Fprintf(b, "        save=%q,\n", tr.Save)
	if tr.From != nil {
		var only []string
		spec := tr.Init
		for _, p := range tr.Params {
			if selects(spec, p.Path) {
				only = append(only, strconv.Quote(p.Path))
			}
		}
		fmt.Fprintf(b, "        # init = from(%s): it runs first when its checkpoint is missing; these parameters are taken from it\n", tr.From.Name)
		fmt.Fprintf(b, "        from_={\"train\": %q, \"only\": [%s]},\n", tr.From.Name, strings.Join(only, ", "))
	} else {
		fmt.Fprintf(b, "        from_=None,\n")
	}
	// Phases: the frozen parameters and lr_scale resolved to paths; span
	// is the epochs of the phase's own lr schedule (consecutive phases
	// sharing it), as encc's runtime counts them.
	b.WriteString("        phases=[\n")
	start := 0
	starts := make([]int, len(tr.Phases))
	for i, ph := range tr.Phases {
		starts[i] = start
		start += ph.Epochs
	}
	for i, ph := range tr.Phases {
		var frozen []string
		for _, p := range tr.Params {
			if ph.Frozen[p.Path] {
				frozen = append(frozen, strconv.Quote(p.Path))
			}
		}
		var scales []string
		keys := make([]string, 0, len(ph.LRScale))
		for k := range ph.LRScale {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			scales = append(scales, fmt.Sprintf("%q: %s", k, pyFloat(ph.LRScale[k])))
		}
		first, last := i, i
		for first > 0 && tr.Phases[first-1].LR == ph.LR {
			first--
		}
		for last+1 < len(tr.Phases) && tr.Phases[last+1].LR == ph.LR {
			last++
		}
		where := ""
		if ph.Pos.IsValid() {
			where = "  " + g.where(file, posNode{ph.Pos})
		}
		fmt.Fprintf(b, "            dict(name=%q, epochs=%d, lr=%s, span=(%d, %d),%s\n", ph.Name, ph.Epochs, pyConfig(ph.LR), starts[first], starts[last]+tr.Phases[last].Epochs, where)
		fz := "set()"
		if len(frozen) > 0 {
			fz = "{" + strings.Join(frozen, ", ") + "}"
		}
		fmt.Fprintf(b, "                 frozen=%s,\n", fz)
		fmt.Fprintf(b, "                 lr_scale={%s}),\n", strings.Join(scales, ", "))
	}
	b.WriteString("        ],\n")
	var mk []string
	for _, k := range []string{"format", "rng", "source_sha256"} {
		mk = append(mk, fmt.Sprintf("%q: %q", k, ti.meta[k]))
	}
	fmt.Fprintf(b, "        meta={%s},  # for encc's checkpoint metadata (with data/%s/transform.json)\n", strings.Join(mk, ", "), dataName)
	b.WriteString("    ),\n")
}

func pyBool(v bool) string {
	if v {
		return "True"
	}
	return "False"
}

// selects reports whether the from()/load() spec takes parameter path.
func selects(spec *compiler.ConfigV, path string) bool {
	if spec == nil {
		return true
	}
	var pats []string
	switch v := spec.Args["only"].(type) {
	case compiler.StrV:
		if v.V != "" {
			pats = append(pats, v.V)
		}
	case *compiler.ListV:
		for _, e := range v.Elems {
			if s, ok := e.(compiler.StrV); ok {
				pats = append(pats, s.V)
			}
		}
	}
	if len(pats) == 0 {
		return true
	}
	for _, p := range pats {
		if compiler.MatchPath(p, path) {
			return true
		}
	}
	return false
}

// posNode is a position as a node, for where.
type posNode struct{ p diagPos }

func (n posNode) Pos() diagPos { return n.p }
func (n posNode) End() diagPos { return n.p }
