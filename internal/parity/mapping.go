// Package parity holds the numerical parity tests of encc against
// PyTorch (the fixtures of testdata/torch, written by
// scripts/torch_reference.py) and the name mapping they use to load
// PyTorch weights: a [Mapping] of prefix renames and fused-tensor splits,
// the same spec as the runtime's load(..., rename:, split:). See
// docs/pytorch-weights.md.
package parity

import (
	"fmt"
	"slices"
	"sort"
	"strings"
)

// A Mapping turns the tensor names of a checkpoint (PyTorch's
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
type Mapping struct {
	Rename map[string]string
	Split  map[string][]string
}

// TorchTransformerEncoder maps the state_dict of PyTorch's
// nn.TransformerEncoder (layers of nn.TransformerEncoderLayer, and norm
// for the final LayerNorm of a pre-norm stack) onto the stdlib
// TransformerEncoder. at is the encc path of the TransformerEncoder
// instance: "" when it is the model itself, "encoder" for a member
// encoder.
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

// Name applies the renames to a checkpoint name.
func (m Mapping) Name(name string) string {
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

// A Piece is one encc parameter taken from a checkpoint tensor: the
// whole tensor, or part Part of Parts equal slices along its first axis.
type Piece struct {
	From        string // checkpoint name
	To          string // encc path
	Part, Parts int    // 0, 1 for a whole tensor
	Shape       []int  // the piece's shape
}

// Plan maps every checkpoint tensor (name → shape) to its pieces, sorted
// by target path. It fails when a fused tensor's first axis does not
// divide into its parts or when two tensors map to the same path.
func (m Mapping) Plan(shapes map[string][]int) ([]Piece, error) {
	names := make([]string, 0, len(shapes))
	for n := range shapes {
		names = append(names, n)
	}
	sort.Strings(names)
	var out []Piece
	from := map[string]string{}
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
		targets := m.Split[key]
		k := len(targets)
		if len(shape) == 0 || shape[0]%k != 0 {
			errs = append(errs, fmt.Sprintf("%s %v cannot be split into %d equal parts along its first axis (split %q)", n, shape, k, key))
			continue
		}
		ps := slices.Clone(shape)
		ps[0] /= k
		base := m.Name(prefix)
		for i, t := range targets {
			add(Piece{From: n, To: base + t, Part: i, Parts: k, Shape: slices.Clone(ps)})
		}
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("mapping checkpoint names: %s", strings.Join(errs, "; "))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].To < out[j].To })
	return out, nil
}

// A Report lists how mapped checkpoint tensors fail to fit a model's
// parameters.
type Report struct {
	Missing    []string // parameters no tensor maps to
	Unexpected []string // mapped names that are not parameters ("to (from from)")
	Misshaped  []string // "path: checkpoint [a b] (from name), model [c d]"
}

// OK reports whether every parameter is matched exactly once and every
// tensor is used.
func (r *Report) OK() bool {
	return len(r.Missing) == 0 && len(r.Unexpected) == 0 && len(r.Misshaped) == 0
}

func (r *Report) Error() string {
	var parts []string
	list := func(what string, xs []string) {
		if len(xs) > 0 {
			parts = append(parts, fmt.Sprintf("%d %s: %s", len(xs), what, strings.Join(xs, ", ")))
		}
	}
	list("missing", r.Missing)
	list("unexpected", r.Unexpected)
	list("mis-shaped", r.Misshaped)
	return strings.Join(parts, "; ")
}

// Check compares planned pieces with a model's parameters (path →
// shape).
func Check(pieces []Piece, params map[string][]int) *Report {
	r := &Report{}
	got := map[string]bool{}
	for _, p := range pieces {
		want, ok := params[p.To]
		switch {
		case !ok:
			r.Unexpected = append(r.Unexpected, fmt.Sprintf("%s (from %s)", p.To, p.From))
		case !slices.Equal(want, p.Shape):
			r.Misshaped = append(r.Misshaped, fmt.Sprintf("%s: checkpoint %v (from %s), model %v", p.To, p.Shape, p.From, want))
		}
		got[p.To] = true
	}
	for path := range params {
		if !got[path] {
			r.Missing = append(r.Missing, path)
		}
	}
	sort.Strings(r.Missing)
	sort.Strings(r.Unexpected)
	sort.Strings(r.Misshaped)
	return r
}

// Take returns the values of piece p from its tensor's data (row-major,
// of the tensor's full shape): the whole data, or the p.Part-th of
// p.Parts equal runs — a slice along the first axis is contiguous.
func Take[T any](p Piece, data []T) []T {
	n := len(data) / p.Parts
	return data[p.Part*n : (p.Part+1)*n]
}
