package weights

import (
	"fmt"
	"slices"
	"sort"
	"strings"
)

// A Mapping turns the tensor names of a weights file (PyTorch's
// state_dict names) into encc parameter paths.
//
// Rename rewrites names in one left-to-right pass. A key matches only at
// a segment boundary: it must start at the start of the name or just
// after a ".", and end at the end of the name, just before a ".", or with
// a "." of its own. At each boundary the longest matching key is
// replaced by its value and the scan continues after it (replaced text is
// never matched again); where no key matches, the segment is copied. So
// {"layers.": "blocks.", "linear1.": "ff1."} maps
// "layers.0.linear1.weight" to "blocks.0.ff1.weight", and "xlinear1."
// is left alone.
//
// Split cuts fused tensors along their first axis into equal parts. A key
// matches a whole name or a suffix of it that starts after a "."; the
// longest matching key wins. The part before the suffix is renamed as
// above and each target is appended to it, in order: with
// {"self_attn.in_proj_weight": ["attn.q.weight", "attn.k.weight",
// "attn.v.weight"]}, "layers.0.self_attn.in_proj_weight" [96, 32] gives
// "blocks.0.attn.q.weight" (rows 0:32), "blocks.0.attn.k.weight" (rows
// 32:64) and "blocks.0.attn.v.weight" (rows 64:96), each [32, 32]. The
// targets are not renamed.
//
// The zero Mapping is the identity: every tensor keeps its name.
type Mapping struct {
	Rename map[string]string
	Split  map[string][]string
}

// TorchTransformerEncoder maps the state_dict of PyTorch's
// nn.TransformerEncoder (layers of nn.TransformerEncoderLayer, and norm
// for the final LayerNorm of a pre-norm stack) onto the stdlib
// TransformerEncoder, for any number of layers. at is the encc path of
// the TransformerEncoder instance: "" when it is the model itself,
// "encoder" for a member encoder. It is the mapping
// docs/pytorch-weights.md writes in .enc syntax.
func TorchTransformerEncoder(at string) Mapping {
	if at != "" {
		at += "."
	}
	qkv := func(kind string) []string {
		return []string{"attn.q." + kind, "attn.k." + kind, "attn.v." + kind}
	}
	return Mapping{
		Rename: map[string]string{
			"layers.":             at + "blocks.",
			"norm.":               at + "final_norm.",
			"self_attn.out_proj.": "attn.o.",
			"linear1.":            "ff1.",
			"linear2.":            "ff2.",
		},
		Split: map[string][]string{
			"self_attn.in_proj_weight": qkv("weight"),
			"self_attn.in_proj_bias":   qkv("bias"),
		},
	}
}

// Name applies the renames to a file's tensor name.
func (m Mapping) Name(name string) string {
	if len(m.Rename) == 0 {
		return name
	}
	keys := make([]string, 0, len(m.Rename))
	for k := range m.Rename {
		if k != "" {
			keys = append(keys, k)
		}
	}
	// longest first; equal lengths cannot both match at one place
	sort.Slice(keys, func(i, j int) bool {
		if len(keys[i]) != len(keys[j]) {
			return len(keys[i]) > len(keys[j])
		}
		return keys[i] < keys[j]
	})
	var b strings.Builder
	i := 0
	for i < len(name) {
		matched := false
		for _, k := range keys {
			if !strings.HasPrefix(name[i:], k) {
				continue
			}
			end := i + len(k)
			if end != len(name) && !strings.HasSuffix(k, ".") && name[end] != '.' {
				continue
			}
			b.WriteString(m.Rename[k])
			i = end
			matched = true
			break
		}
		if matched {
			continue
		}
		j := strings.IndexByte(name[i:], '.')
		if j < 0 {
			b.WriteString(name[i:])
			break
		}
		b.WriteString(name[i : i+j+1])
		i += j + 1
	}
	return b.String()
}

// splitKey returns the longest split key matching name and the part of
// name before it.
func (m Mapping) splitKey(name string) (key, prefix string, ok bool) {
	for k := range m.Split {
		if k == "" || len(k) <= len(key) {
			continue
		}
		if name == k || strings.HasSuffix(name, "."+k) {
			key, prefix, ok = k, name[:len(name)-len(k)], true
		}
	}
	return
}

// A Piece is one encc parameter taken from a file's tensor: the whole
// tensor, or part Part (0-based) of Parts equal slices along its first
// axis.
type Piece struct {
	From        string // the tensor's name in the file
	To          string // encc parameter path
	Part, Parts int    // 0, 1 for a whole tensor
	Shape       []int  // the piece's shape
}

// from describes where p comes from, for messages: "" when it is a whole
// tensor of the same name.
func (p Piece) from() string {
	switch {
	case p.Parts > 1:
		return fmt.Sprintf(" (part %d of %d of %s)", p.Part+1, p.Parts, p.From)
	case p.From != p.To:
		return " (from " + p.From + ")"
	}
	return ""
}

// Plan maps every tensor of a file (name → shape) to its pieces, sorted
// by target path. It fails, listing every problem, when a fused tensor's
// first axis does not divide into its parts, when two tensors map to the
// same path, or when a split key matches no tensor.
func (m Mapping) Plan(shapes map[string][]int) ([]Piece, error) {
	names := make([]string, 0, len(shapes))
	for n := range shapes {
		names = append(names, n)
	}
	sort.Strings(names)
	var out []Piece
	from := map[string]string{}
	used := map[string]bool{}
	var errs []string
	add := func(p Piece) {
		if prev, dup := from[p.To]; dup {
			errs = append(errs, fmt.Sprintf("%s and %s both map to %s", prev, p.From, p.To))
			return
		}
		from[p.To] = p.From
		out = append(out, p)
	}
	for _, n := range names {
		shape := shapes[n]
		key, prefix, ok := m.splitKey(n)
		if !ok {
			add(Piece{From: n, To: m.Name(n), Part: 0, Parts: 1, Shape: slices.Clone(shape)})
			continue
		}
		used[key] = true
		targets := m.Split[key]
		k := len(targets)
		if k == 0 || len(shape) == 0 || shape[0]%k != 0 {
			errs = append(errs, fmt.Sprintf("%s %s cannot be split into %d equal parts along its first axis (split %q)", n, ShapeString(shape), k, key))
			continue
		}
		ps := slices.Clone(shape)
		ps[0] /= k
		base := m.Name(prefix)
		for i, t := range targets {
			add(Piece{From: n, To: base + t, Part: i, Parts: k, Shape: slices.Clone(ps)})
		}
	}
	var unused []string
	for k := range m.Split {
		if !used[k] {
			unused = append(unused, k)
		}
	}
	sort.Strings(unused)
	for _, k := range unused {
		errs = append(errs, fmt.Sprintf("split %q matches no tensor (a key is a whole name or the end of one after a \".\")", k))
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("mapping the names: %s", strings.Join(errs, "; "))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].To < out[j].To })
	return out, nil
}

// A FitError says how the mapped tensors of a file do not fit a model:
// the parameters no tensor maps to, the mapped tensors the model has no
// parameter for, and the pieces whose shape (or dtype) differs from their
// parameter's. Each entry names the parameter path, its shape and, when
// it was renamed or split, the file's tensor.
type FitError struct {
	File       string
	Model      string
	Missing    []string
	Unexpected []string
	Misshaped  []string
}

func (e *FitError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s does not fit %s", e.File, e.Model)
	list := func(what string, xs []string) {
		if len(xs) > 0 {
			fmt.Fprintf(&b, "\n\t%s (%d): %s", what, len(xs), strings.Join(xs, ", "))
		}
	}
	list("missing", e.Missing)
	list("unexpected", e.Unexpected)
	list("mis-shaped", e.Misshaped)
	return b.String()
}

// CheckOptions says what Check compares pieces with.
type CheckOptions struct {
	File, Model string // the two sides, named in the FitError
	// Only, when not nil, selects the parameters to load: the others are
	// neither missing nor loaded, and a piece whose path is not a
	// parameter is unexpected only when Only selects that path.
	Only func(path string) bool
	// NonFloat names the file's tensors that hold integers or booleans
	// (name → dtype): their pieces fit no parameter.
	NonFloat map[string]string
}

// A Param is a parameter of a model: its path and its shape.
type Param struct {
	Path  string
	Shape []int
}

// Check compares planned pieces with a model's parameters. It returns the
// pieces to load by parameter path, or a *FitError unless every selected
// parameter gets a piece of its shape and every selected piece lands on a
// parameter. The error lists missing and mis-shaped parameters in the
// order of params, unexpected tensors sorted.
func Check(pieces []Piece, params []Param, o CheckOptions) (map[string]Piece, error) {
	selects := func(path string) bool { return o.Only == nil || o.Only(path) }
	byPath := make(map[string]Piece, len(pieces))
	for _, p := range pieces {
		byPath[p.To] = p
	}
	fe := &FitError{File: o.File, Model: o.Model}
	out := map[string]Piece{}
	have := make(map[string]bool, len(params))
	for _, prm := range params {
		have[prm.Path] = true
		if !selects(prm.Path) {
			continue
		}
		p, ok := byPath[prm.Path]
		switch {
		case !ok:
			fe.Missing = append(fe.Missing, prm.Path+" "+ShapeString(prm.Shape))
		case o.NonFloat[p.From] != "":
			fe.Misshaped = append(fe.Misshaped, fmt.Sprintf("%s: %s %s in the file%s, f32 %s in the model", p.To, o.NonFloat[p.From], ShapeString(p.Shape), p.from(), ShapeString(prm.Shape)))
		case !slices.Equal(prm.Shape, p.Shape):
			fe.Misshaped = append(fe.Misshaped, fmt.Sprintf("%s: %s in the file%s, %s in the model", p.To, ShapeString(p.Shape), p.from(), ShapeString(prm.Shape)))
		default:
			out[p.To] = p
		}
	}
	for _, p := range pieces {
		if !have[p.To] && selects(p.To) {
			fe.Unexpected = append(fe.Unexpected, p.To+" "+ShapeString(p.Shape)+p.from())
		}
	}
	sort.Strings(fe.Unexpected)
	if len(fe.Missing)+len(fe.Unexpected)+len(fe.Misshaped) > 0 {
		return nil, fe
	}
	return out, nil
}

// Take returns the values of piece p from its tensor's data (row-major,
// of the tensor's full shape): the whole data, or the p.Part-th of
// p.Parts equal runs — a slice along the first axis is contiguous.
func Take[T any](p Piece, data []T) []T {
	if p.Parts <= 1 {
		return data
	}
	n := len(data) / p.Parts
	return data[p.Part*n : (p.Part+1)*n]
}

// ShapeString formats a shape as messages write it: [16, 8].
func ShapeString(s []int) string {
	parts := make([]string, len(s))
	for i, d := range s {
		parts[i] = fmt.Sprint(d)
	}
	return "[" + strings.Join(parts, ", ") + "]"
}
