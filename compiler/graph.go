package compiler

// This file implements the model diagram of `encc graph`: the layers of
// a summary as Graphviz boxes, the models they belong to as clusters,
// the data flow between them as edges, and repeat(...) stacks folded
// into one block.

import (
	"fmt"
	"strconv"
	"strings"
)

// GraphOptions configures Summary.Dot.
type GraphOptions struct {
	Unfold bool   // draw every block of a repeat(...) stack, not the first one labelled ×n
	Title  string // the graph's label; "" labels it with the model
}

// Dot returns the model as a Graphviz graph: one box per layer call
// (its name and kind, output shape, parameter count and marks such as
// frozen), each model call below the root as a labelled cluster of its
// layers, the root's inputs and output with their shapes, and an edge
// wherever a layer reads what another layer (or an input) produced,
// through any tensor operations in between. A stack of n identical
// blocks (repeat(n, ...)) is drawn once, labelled "×n", unless
// opts.Unfold.
func (s *Summary) Dot(opts GraphOptions) []byte {
	g := &dotGraph{s: s, end: make([]int, len(s.Rows)), canon: make([]int, len(s.Rows)), stackOf: make([]int, len(s.Rows)), block: make([]int, len(s.Rows)), count: map[int]int{}}
	for i, r := range s.Rows {
		e := i + 1
		for e < len(s.Rows) && s.Rows[e].Depth > r.Depth {
			e++
		}
		g.end[i] = e
		g.canon[i] = i
		g.stackOf[i] = -1
	}
	if !opts.Unfold {
		g.foldStacks(0, len(s.Rows))
	}

	var b strings.Builder
	g.b = &b
	title := opts.Title
	if title == "" {
		title = s.Model
	}
	b.WriteString("digraph model {\n")
	fmt.Fprintf(&b, "\tgraph [label=%s, labelloc=t, fontname=\"Helvetica\", fontsize=14, rankdir=TB, nodesep=0.3, ranksep=0.35];\n", dotQuote(title))
	b.WriteString("\tnode [shape=box, style=\"rounded,filled\", fillcolor=\"#eef3fb\", color=\"#4a6fa5\", fontname=\"Helvetica\", fontsize=11];\n")
	b.WriteString("\tedge [color=\"#555555\", arrowsize=0.7];\n")
	for i, in := range s.Inputs {
		fmt.Fprintf(&b, "\tin%d [label=%s, shape=oval, fillcolor=\"#e8f5e9\", color=\"#3c8c40\"];\n", i, dotQuote(in.Name+"\n"+in.Type))
	}
	g.rows(0, len(s.Rows), "", "\t")
	for i, out := range s.Outputs {
		fmt.Fprintf(&b, "\tout%d [label=%s, shape=oval, fillcolor=\"#fdecea\", color=\"#b0413e\"];\n", i, dotQuote(out.Name+"\n"+out.Type))
	}
	for _, e := range g.edges() {
		fmt.Fprintf(&b, "\t%s -> %s;\n", e[0], e[1])
	}
	b.WriteString("}\n")
	return []byte(b.String())
}

// A dotGraph is the state of Summary.Dot.
type dotGraph struct {
	s       *Summary
	b       *strings.Builder
	end     []int       // end[i]: the row after row i's subtree
	canon   []int       // the row drawn for each row: itself, or its counterpart in a folded stack's first block
	stackOf []int       // the first row of the folded stack a row belongs to, or -1
	block   []int       // the block of its stack a row is in
	count   map[int]int // blocks of each folded stack, by its first row
}

// foldStacks finds, among the sibling rows in [lo, hi), runs named
// P.0, P.1, … with the same structure, and maps every row of the later
// blocks onto its counterpart in the first; then recurses into the
// subtrees left.
func (g *dotGraph) foldStacks(lo, hi int) {
	rows := g.s.Rows
	for i := lo; i < hi; {
		prefix, ok := stackPrefix(rows[i].Path, 0)
		n := 1
		if ok {
			for j := g.end[i]; j < hi && rows[j].Depth == rows[i].Depth; j = g.end[j] {
				p, ok := stackPrefix(rows[j].Path, n)
				if !ok || p != prefix || !g.sameShape(i, j) {
					break
				}
				n++
			}
		}
		if n < 2 {
			g.foldStacks(i+1, g.end[i])
			i = g.end[i]
			continue
		}
		size := g.end[i] - i
		g.count[i] = n
		for k := 0; k < n; k++ {
			for j := 0; j < size; j++ {
				g.canon[i+k*size+j] = i + j
				g.stackOf[i+k*size+j] = i
				g.block[i+k*size+j] = k
			}
		}
		g.foldStacks(i+1, g.end[i])
		i += n * size
	}
}

// stackPrefix returns P when path is P.k.
func stackPrefix(path string, k int) (string, bool) {
	dot := strings.LastIndexByte(path, '.')
	if dot < 0 || path[dot+1:] != strconv.Itoa(k) {
		return "", false
	}
	return path[:dot], true
}

// sameShape reports whether the subtrees at rows i and j are the same
// sequence of kinds and output types at the same depths.
func (g *dotGraph) sameShape(i, j int) bool {
	if g.end[i]-i != g.end[j]-j {
		return false
	}
	for k := 0; k < g.end[i]-i; k++ {
		a, b := g.s.Rows[i+k], g.s.Rows[j+k]
		if a.Kind != b.Kind || a.Out != b.Out || a.Depth-g.s.Rows[i].Depth != b.Depth-g.s.Rows[j].Depth {
			return false
		}
	}
	return true
}

// rows writes the nodes and clusters of the sibling rows in [lo, hi),
// children of the row at path parent ("" for the root).
func (g *dotGraph) rows(lo, hi int, parent, indent string) {
	rows := g.s.Rows
	for i := lo; i < hi; i = g.end[i] {
		if g.canon[i] != i {
			continue
		}
		r := rows[i]
		// Inside a cluster, the cluster names the path.
		name := strings.TrimPrefix(r.Path, parent+".")
		params := r.Trainable + r.Frozen
		if n := g.count[i]; n > 0 {
			prefix, _ := stackPrefix(name, 0)
			name = fmt.Sprintf("%s ×%d", prefix, n)
			params *= int64(n)
		}
		if r.Leaf {
			g.node(i, name, params, indent)
			continue
		}
		fmt.Fprintf(g.b, "%ssubgraph cluster_%d {\n", indent, i)
		label := name + ": " + r.Kind
		if params > 0 {
			label += ", " + Thousands(params) + " params"
		}
		if marks := rowMarks(r); len(marks) > 0 {
			label += " (" + strings.Join(marks, ", ") + ")"
		}
		fmt.Fprintf(g.b, "%s\tgraph [label=%s, labeljust=l, style=\"rounded,dashed\", color=\"#8899aa\", fontsize=12];\n", indent, dotQuote(label))
		g.rows(i+1, g.end[i], r.Path, indent+"\t")
		fmt.Fprintf(g.b, "%s}\n", indent)
	}
}

// node writes the box of the leaf row i, called name, holding params
// parameters.
func (g *dotGraph) node(i int, name string, params int64, indent string) {
	r := g.s.Rows[i]
	lines := []string{name + ": " + r.Kind, r.Out}
	if params > 0 {
		lines = append(lines, Thousands(params)+" params")
	}
	attrs := ""
	if marks := rowMarks(r); len(marks) > 0 {
		lines = append(lines, strings.Join(marks, ", "))
		attrs = ", fillcolor=\"#e4e4e4\", color=\"#777777\""
	}
	fmt.Fprintf(g.b, "%sn%d [label=%s%s];\n", indent, i, dotQuote(strings.Join(lines, "\n")), attrs)
}

// rowMarks returns the marks of a row: "frozen" when none of its
// parameters is trained. Marks of later kinds (a LoRA adapter, pruned
// weights) belong here.
func rowMarks(r *SummaryRow) []string {
	var marks []string
	if r.Trainable == 0 && r.Frozen > 0 {
		marks = append(marks, "frozen")
	}
	return marks
}

// edges returns the edges of the data flow between drawn nodes, in the
// order of their heads, without duplicates. In a folded stack, edges
// from one block to the next are left out.
func (g *dotGraph) edges() [][2]string {
	var out [][2]string
	seen := map[[2]string]bool{}
	add := func(from source, to string, toRow int) {
		var tail string
		if from < 0 {
			tail = fmt.Sprintf("in%d", -1-from)
		} else {
			if toRow >= 0 && g.stackOf[from] >= 0 && g.stackOf[from] == g.stackOf[toRow] && g.block[from] != g.block[toRow] {
				return
			}
			tail = fmt.Sprintf("n%d", g.drawn(from))
		}
		e := [2]string{tail, to}
		if tail != to && !seen[e] {
			seen[e] = true
			out = append(out, e)
		}
	}
	for i, r := range g.s.Rows {
		if !r.Leaf {
			continue
		}
		for _, f := range r.From {
			add(f, fmt.Sprintf("n%d", g.drawn(i)), i)
		}
	}
	for i, out := range g.s.Outputs {
		for _, f := range out.From {
			add(f, fmt.Sprintf("out%d", i), -1)
		}
	}
	return out
}

// drawn returns the row drawn for row i: i, or its counterpart in the
// first block of the stacks it is folded into.
func (g *dotGraph) drawn(i int) int {
	for g.canon[i] != i {
		i = g.canon[i]
	}
	return i
}

// dotQuote quotes s as a Graphviz string; a newline becomes a centered
// line break.
func dotQuote(s string) string {
	s = strings.ReplaceAll(s, `\`, `\\`)
	s = strings.ReplaceAll(s, `"`, `\"`)
	return `"` + strings.ReplaceAll(s, "\n", `\n`) + `"`
}
