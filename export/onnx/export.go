package onnx

// This file implements Export: the forward of a model instance, lowered
// to IR at every corner of the dimension grid (dims.go), checked to have
// one structure, and translated op by op (ops.go) into an ONNX graph.

import (
	"encoding/binary"
	"fmt"
	"math"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"google.golang.org/protobuf/proto"

	"github.com/encc-lang/encc/compiler"
	"github.com/encc-lang/encc/export/onnx/internal/onnxpb"
	"github.com/encc-lang/encc/ir"
)

// Opset is the version of the default ONNX operator set the files use.
const Opset = 17

// IRVersion is the ONNX IR version the files declare (that of ONNX 1.12,
// which introduced opset 17).
const IRVersion = 8

// Options say what goes into an exported file besides the graph.
type Options struct {
	// Weights holds every parameter and buffer of the instance by dotted
	// path (encoder.fc1.weight), as a checkpoint does.
	Weights map[string][]float32
	// Metadata is written as the model's metadata_props (encc_version,
	// source_sha256, …), sorted by key.
	Metadata map[string]string
	// ProducerVersion is the encc version, written as producer_version.
	ProducerVersion string
	// DocString describes the model (the instance as a call).
	DocString string
	// Int8 holds the int8 weights of an int8 checkpoint by path: they are
	// written in the QDQ format (qdq.go) instead of their Weights.
	Int8 map[string]Int8Weight
}

// An Error is what in a forward cannot be exported (an op with no ONNX
// form, a size used as a number), at the .enc position that produced it.
type Error struct {
	Pos string // file:line:col, or "" when unknown
	Msg string
}

func (e *Error) Error() string {
	if e.Pos == "" {
		return e.Msg
	}
	return e.Pos + ": " + e.Msg
}

// Export translates the forward of in (eval mode: no dropout) into an
// ONNX model with the given weights as initializers.
func Export(p *compiler.Program, in *compiler.Instance, o Options) (*onnxpb.ModelProto, error) {
	fins, err := p.ForwardInputs(in)
	if err != nil {
		return nil, err
	}
	var vars []string
	seen := map[string]bool{}
	for _, fi := range fins {
		for _, d := range fi.Type.Dims {
			if v, ok := d.Var(); ok && !seen[v] {
				seen[v] = true
				vars = append(vars, v)
			}
		}
	}
	if len(vars) > maxVars {
		return nil, tooManyVars(vars)
	}
	// The smallest grid the forward lowers at: a convolution or pooling
	// over T needs T at least its kernel (a TextCNN's widths).
	var base []int64
	var gs []*ir.Graph
	var first error
	for _, shift := range baseShifts {
		base = make([]int64, len(vars))
		for i := range base {
			base[i] = baseSize(i) + shift
		}
		gs, err = lowerGrid(p, in, vars, base)
		if err == nil {
			break
		}
		if first == nil {
			first = err
		}
	}
	if err != nil {
		return nil, first
	}
	src := map[int]varSource{}
	for _, fi := range fins {
		for j, d := range fi.Type.Dims {
			if v, ok := d.Var(); ok {
				i := slicesIndex(vars, v)
				if _, have := src[i]; !have {
					src[i] = varSource{fi.Name, j}
				}
			}
		}
	}
	return exportGraphs(in.Name(), gs, vars, base, src, o)
}

// baseShifts are the offsets tried, in order, on the base sizes of the
// grid until the forward lowers at every corner.
var baseShifts = []int64{0, 8, 32, 128}

// lowerGrid lowers the forward of in at every corner of the grid.
func lowerGrid(p *compiler.Program, in *compiler.Instance, vars []string, base []int64) ([]*ir.Graph, error) {
	gs := make([]*ir.Graph, 1<<len(vars))
	for k := range gs {
		var err error
		if gs[k], err = p.LowerForward(in, cornerDims(vars, base, k)); err != nil {
			return nil, err
		}
	}
	return gs, nil
}

// exportGraphs translates the forward lowered at every corner of the
// grid of vars (gs[k] at cornerDims(vars, base, k)); src says where each
// variable is read at run time.
func exportGraphs(name string, gs []*ir.Graph, vars []string, base []int64, src map[int]varSource, o Options) (*onnxpb.ModelProto, error) {
	e := &emitter{
		vars: vars, base: base, g: gs[0], varSrc: src,
		names: map[*ir.Value]string{}, dims: map[*ir.Value][]poly{}, aux: map[*ir.Value][]poly{},
		cache: map[string]string{}, int8: o.Int8, qdq: map[string]bool{},
		graph: &onnxpb.GraphProto{Name: proto.String(name)},
	}
	if err := e.analyze(gs); err != nil {
		return nil, err
	}
	if err := e.translate(o.Weights); err != nil {
		return nil, err
	}
	m := &onnxpb.ModelProto{
		IrVersion:       proto.Int64(IRVersion),
		OpsetImport:     []*onnxpb.OperatorSetIdProto{{Domain: proto.String(""), Version: proto.Int64(Opset)}},
		ProducerName:    proto.String("encc"),
		ProducerVersion: proto.String(o.ProducerVersion),
		DocString:       proto.String(o.DocString),
		Graph:           e.graph,
	}
	keys := make([]string, 0, len(o.Metadata))
	for k := range o.Metadata {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		m.MetadataProps = append(m.MetadataProps, &onnxpb.StringStringEntryProto{Key: proto.String(k), Value: proto.String(o.Metadata[k])})
	}
	return m, nil
}

// Encode returns the protobuf encoding of m: the bytes of a .onnx file.
func Encode(m *onnxpb.ModelProto) ([]byte, error) {
	return proto.MarshalOptions{Deterministic: true}.Marshal(m)
}

func slicesIndex(xs []string, x string) int {
	for i, y := range xs {
		if y == x {
			return i
		}
	}
	return -1
}

// A varSource is where a variable is read at run time: an axis of a
// graph input.
type varSource struct {
	input string
	axis  int
}

// An emitter builds the ONNX graph of one lowered forward.
type emitter struct {
	vars   []string
	base   []int64
	g      *ir.Graph            // the graph at the base corner
	names  map[*ir.Value]string // ONNX tensor name of each value
	dims   map[*ir.Value][]poly // fitted dimensions of each value
	aux    map[*ir.Value][]poly // fitted size-dependent attributes: slice starts then stops
	varSrc map[int]varSource    // by variable index
	cache  map[string]string    // constants and shape tensors already emitted, by key
	int8   map[string]Int8Weight
	qdq    map[string]bool // the inputs quantized already (qdq.go)
	graph  *onnxpb.GraphProto
	n      int
}

// analyze checks that the lowerings at every corner have one structure
// and fits the dimensions of every value.
func (e *emitter) analyze(gs []*ir.Graph) error {
	g0 := gs[0]
	for k, g := range gs[1:] {
		if len(g.Values) != len(g0.Values) || len(g.Outputs) != len(g0.Outputs) {
			return fmt.Errorf("the forward lowers to graphs of different structure at %v and %v: export needs one graph for every size (a recurrent layer, RNN, GRU or LSTM, is unrolled over its steps: give the forward a fixed sequence length)", cornerDims(e.vars, e.base, 0), cornerDims(e.vars, e.base, k+1))
		}
		for i, v := range g.Values {
			w := g0.Values[i]
			same := v.Op == w.Op && v.Name == w.Name && len(v.Args) == len(w.Args) && v.Type.Rank() == w.Type.Rank() && v.Type.DType == w.Type.DType
			for j := 0; same && j < len(v.Args); j++ {
				same = v.Args[j].ID == w.Args[j].ID
			}
			if same && v.Op != ir.OpSlice && v.Op != ir.OpLiteral {
				same = reflect.DeepEqual(v.Aux, w.Aux)
			}
			if !same && w.Op == ir.OpFill {
				return &Error{posOf(w), fmt.Sprintf("a size used as a number (%s) would be frozen in the ONNX graph (x.shape[i] in arithmetic, or a loss that divides by the batch: nll, kl_div): export needs one graph for every size", cornerDiff(e.vars, e.base, k+1))}
			}
			if !same {
				return &Error{posOf(w), fmt.Sprintf("%s lowers differently at %v and %v: export needs one graph for every size", w.Op, cornerDims(e.vars, e.base, 0), cornerDims(e.vars, e.base, k+1))}
			}
		}
		for i, o := range g.Outputs {
			if o.Name != g0.Outputs[i].Name || o.Value.ID != g0.Outputs[i].Value.ID {
				return fmt.Errorf("the forward's outputs differ between sizes")
			}
		}
	}
	f := make([]int64, len(gs))
	fitAt := func(get func(g *ir.Graph) int) poly {
		for k, g := range gs {
			f[k] = int64(get(g))
		}
		return fit(f, e.base)
	}
	for i, v := range g0.Values {
		ds := make([]poly, v.Type.Rank())
		for a := range ds {
			ds[a] = fitAt(func(g *ir.Graph) int { return g.Values[i].Type.Shape[a] })
		}
		e.dims[v] = ds
		if v.Op == ir.OpSlice {
			sa := v.Aux.(ir.SliceAttr)
			var ps []poly
			for a := range sa.Start {
				ps = append(ps, fitAt(func(g *ir.Graph) int { return g.Values[i].Aux.(ir.SliceAttr).Start[a] }))
			}
			for a := range sa.Stop {
				ps = append(ps, fitAt(func(g *ir.Graph) int { return g.Values[i].Aux.(ir.SliceAttr).Stop[a] }))
			}
			e.aux[v] = ps
		}
	}
	return nil
}

// cornerDiff names the variables that change between the base corner
// and corner k: "B = 2 or 3".
func cornerDiff(vars []string, base []int64, k int) string {
	var parts []string
	for i, v := range vars {
		if k&(1<<i) != 0 {
			parts = append(parts, fmt.Sprintf("%s = %d or %d", v, base[i], base[i]+1))
		}
	}
	return strings.Join(parts, ", ")
}

// dynamic reports whether some dimension of v depends on a variable.
func (e *emitter) dynamic(v *ir.Value) bool {
	for _, d := range e.dims[v] {
		if _, ok := d.isConst(); !ok {
			return true
		}
	}
	return false
}

func posOf(v *ir.Value) string {
	if v.Pos.File == "" && v.Pos.Line == 0 {
		return ""
	}
	return v.Pos.String()
}

// translate emits the initializers, inputs, nodes and outputs.
func (e *emitter) translate(weights map[string][]float32) error {
	live := e.live()
	for _, v := range e.g.Values {
		if f, ok := forms[v.Op]; live[v] && (!ok || f.emit == nil) {
			why := "it has no ONNX form"
			if ok {
				why = f.reason
			}
			return &Error{posOf(v), fmt.Sprintf("cannot export %s to ONNX: %s", v.Op, why)}
		}
	}
	for _, v := range e.g.Inputs {
		if !live[v] {
			continue
		}
		e.names[v] = v.Name
		switch v.Role() {
		case ir.RoleData:
			vi, err := e.valueInfo(v.Name, v)
			if err != nil {
				return err
			}
			e.graph.Input = append(e.graph.Input, vi)
		case ir.RoleParam, ir.RoleConst:
			if q, ok := e.int8[v.Name]; ok {
				if err := e.qdqWeight(v, q); err != nil {
					return err
				}
				continue
			}
			w, ok := weights[v.Name]
			if !ok {
				return fmt.Errorf("no weights for %s", v.Name)
			}
			if len(w) != v.Type.NumElements() {
				return fmt.Errorf("weights for %s have %d elements, want %d (%v)", v.Name, len(w), v.Type.NumElements(), v.Type)
			}
			raw := make([]byte, 4*len(w))
			for i, x := range w {
				binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(x))
			}
			e.graph.Initializer = append(e.graph.Initializer, &onnxpb.TensorProto{
				Name: proto.String(v.Name), DataType: proto.Int32(int32(onnxpb.TensorProto_FLOAT)),
				Dims: int64s(v.Type.Shape), RawData: raw,
			})
		default:
			return fmt.Errorf("the forward needs %s input %s, which inference does not feed", v.Role(), v.Name)
		}
	}
	for _, v := range e.g.Values {
		if v.Op == ir.OpInput || !live[v] {
			continue
		}
		f := forms[v.Op]
		e.names[v] = "/v" + strconv.Itoa(v.ID) // "/" is in no .enc name, so no clash with inputs and parameters
		if err := f.emit(e, v); err != nil {
			if _, isErr := err.(*Error); isErr {
				return err
			}
			return &Error{posOf(v), fmt.Sprintf("cannot export %s to ONNX: %v", v.Op, err)}
		}
	}
	for _, o := range e.g.Outputs {
		if o.Updates != nil {
			continue
		}
		if e.g.Input(o.Name) != nil {
			return fmt.Errorf("output %s has the name of an input", o.Name)
		}
		e.node("Identity", []string{e.names[o.Value]}, []string{o.Name})
		vi, err := e.valueInfo(o.Name, o.Value)
		if err != nil {
			return err
		}
		e.graph.Output = append(e.graph.Output, vi)
	}
	return nil
}

// live returns the values the outputs depend on.
func (e *emitter) live() map[*ir.Value]bool {
	live := map[*ir.Value]bool{}
	var stack []*ir.Value
	for _, o := range e.g.Outputs {
		if o.Updates == nil {
			stack = append(stack, o.Value)
		}
	}
	for len(stack) > 0 {
		v := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if live[v] {
			continue
		}
		live[v] = true
		stack = append(stack, v.Args...)
	}
	return live
}

// valueInfo describes a graph input or output: its element type and its
// shape, dynamic dimensions named by their polynomial (B, T, B*T).
func (e *emitter) valueInfo(name string, v *ir.Value) (*onnxpb.ValueInfoProto, error) {
	et, err := elemType(v.Type.DType)
	if err != nil {
		return nil, err
	}
	shape := &onnxpb.TensorShapeProto{}
	for _, d := range e.dims[v] {
		dim := &onnxpb.TensorShapeProto_Dimension{}
		if n, ok := d.isConst(); ok {
			dim.Value = &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: n}
		} else {
			dim.Value = &onnxpb.TensorShapeProto_Dimension_DimParam{DimParam: d.format(e.vars)}
		}
		shape.Dim = append(shape.Dim, dim)
	}
	return &onnxpb.ValueInfoProto{
		Name: proto.String(name),
		Type: &onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{TensorType: &onnxpb.TypeProto_Tensor{
			ElemType: proto.Int32(int32(et)), Shape: shape,
		}}},
	}, nil
}

func elemType(d ir.DType) (onnxpb.TensorProto_DataType, error) {
	switch d {
	case ir.F32:
		return onnxpb.TensorProto_FLOAT, nil
	case ir.F64:
		return onnxpb.TensorProto_DOUBLE, nil
	case ir.F16:
		return onnxpb.TensorProto_FLOAT16, nil
	case ir.BF16:
		return onnxpb.TensorProto_BFLOAT16, nil
	case ir.I32:
		return onnxpb.TensorProto_INT32, nil
	case ir.I64:
		return onnxpb.TensorProto_INT64, nil
	case ir.Bool:
		return onnxpb.TensorProto_BOOL, nil
	}
	return 0, fmt.Errorf("dtype %s has no ONNX element type", d)
}

func int64s(s []int) []int64 {
	out := make([]int64, len(s))
	for i, x := range s {
		out[i] = int64(x)
	}
	return out
}

// ---------------------------------------------------------------------
// Building blocks

// tmp returns a fresh tensor name.
func (e *emitter) tmp() string {
	e.n++
	return "/t" + strconv.Itoa(e.n)
}

// node appends a node.
func (e *emitter) node(op string, ins, outs []string, attrs ...*onnxpb.AttributeProto) {
	e.graph.Node = append(e.graph.Node, &onnxpb.NodeProto{
		OpType: proto.String(op), Name: proto.String(fmt.Sprintf("%s_%d", op, len(e.graph.Node))),
		Input: ins, Output: outs, Attribute: attrs,
	})
}

// op appends a node with one fresh output and returns its name.
func (e *emitter) op(op string, ins []string, attrs ...*onnxpb.AttributeProto) string {
	out := e.tmp()
	e.node(op, ins, []string{out}, attrs...)
	return out
}

// out appends the node that computes v.
func (e *emitter) out(v *ir.Value, op string, ins []string, attrs ...*onnxpb.AttributeProto) {
	e.node(op, ins, []string{e.names[v]}, attrs...)
	n := e.graph.Node[len(e.graph.Node)-1]
	if p := posOf(v); p != "" {
		n.DocString = proto.String(p)
	}
}

func (e *emitter) arg(v *ir.Value, i int) string { return e.names[v.Args[i]] }

func attrInt(name string, i int64) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: proto.String(name), Type: onnxpb.AttributeProto_INT.Enum(), I: proto.Int64(i)}
}

func attrInts(name string, is ...int64) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: proto.String(name), Type: onnxpb.AttributeProto_INTS.Enum(), Ints: is}
}

func attrFloat(name string, f float64) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: proto.String(name), Type: onnxpb.AttributeProto_FLOAT.Enum(), F: proto.Float32(float32(f))}
}

func attrTensor(name string, t *onnxpb.TensorProto) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: proto.String(name), Type: onnxpb.AttributeProto_TENSOR.Enum(), T: t}
}

// tensor returns a TensorProto of dtype d and shape dims holding vals.
func tensor(d ir.DType, dims []int64, vals []float64) (*onnxpb.TensorProto, error) {
	et, err := elemType(d)
	if err != nil {
		return nil, err
	}
	t := &onnxpb.TensorProto{DataType: proto.Int32(int32(et)), Dims: dims}
	switch d {
	case ir.F32:
		for _, x := range vals {
			t.FloatData = append(t.FloatData, float32(x))
		}
	case ir.F64:
		t.DoubleData = append(t.DoubleData, vals...)
	case ir.I32, ir.Bool:
		for _, x := range vals {
			if d == ir.Bool && x != 0 {
				x = 1
			}
			t.Int32Data = append(t.Int32Data, int32(x))
		}
	case ir.I64:
		for _, x := range vals {
			t.Int64Data = append(t.Int64Data, int64(x))
		}
	default:
		return nil, fmt.Errorf("constants of dtype %s have no ONNX form here", d)
	}
	return t, nil
}

// constant returns the name of a Constant node holding vals (cached).
func (e *emitter) constant(d ir.DType, dims []int64, vals []float64) (string, error) {
	key := fmt.Sprint("const", d, dims, vals)
	if n, ok := e.cache[key]; ok {
		return n, nil
	}
	t, err := tensor(d, dims, vals)
	if err != nil {
		return "", err
	}
	n := e.op("Constant", nil, attrTensor("value", t))
	e.cache[key] = n
	return n, nil
}

// scalar returns a 0-d constant of dtype d.
func (e *emitter) scalar(d ir.DType, x float64) string {
	n, err := e.constant(d, nil, []float64{x})
	if err != nil {
		panic(err) // only float and integer dtypes are asked for
	}
	return n
}

// i64s returns a 1-d int64 constant.
func (e *emitter) i64s(xs ...int64) string {
	vals := make([]float64, len(xs))
	for i, x := range xs {
		vals[i] = float64(x)
	}
	n, _ := e.constant(ir.I64, []int64{int64(len(xs))}, vals)
	return n
}

// i64Max stands for "to the end" in Slice.
const i64Max = math.MaxInt64

// i64sExact is i64s for values that a float64 cannot hold (i64Max).
func (e *emitter) i64sExact(xs ...int64) string {
	key := fmt.Sprint("i64s", xs)
	if n, ok := e.cache[key]; ok {
		return n
	}
	t := &onnxpb.TensorProto{DataType: proto.Int32(int32(onnxpb.TensorProto_INT64)), Dims: []int64{int64(len(xs))}, Int64Data: xs}
	n := e.op("Constant", nil, attrTensor("value", t))
	e.cache[key] = n
	return n
}

// variable returns a 1-d int64 tensor [value of variable i], read from
// the shape of the input that declares it.
func (e *emitter) variable(i int) (string, error) {
	key := "var" + strconv.Itoa(i)
	if n, ok := e.cache[key]; ok {
		return n, nil
	}
	src, ok := e.varSrc[i]
	if !ok {
		return "", fmt.Errorf("dimension %s is not the size of any input axis", e.vars[i])
	}
	n := e.op("Shape", []string{src.input}, attrInt("start", int64(src.axis)), attrInt("end", int64(src.axis+1)))
	e.cache[key] = n
	return n, nil
}

// polyTensor returns a 1-d int64 tensor [p evaluated at run time].
func (e *emitter) polyTensor(p poly) (string, error) {
	if c, ok := p.isConst(); ok {
		return e.i64sExact(c), nil
	}
	key := "poly" + fmt.Sprint([]int64(p))
	if n, ok := e.cache[key]; ok {
		return n, nil
	}
	sum := ""
	for m := 1; m < len(p); m++ {
		if p[m] == 0 {
			continue
		}
		term := ""
		for i := range e.vars {
			if m&(1<<i) == 0 {
				continue
			}
			x, err := e.variable(i)
			if err != nil {
				return "", err
			}
			if term == "" {
				term = x
			} else {
				term = e.op("Mul", []string{term, x})
			}
		}
		if p[m] != 1 {
			term = e.op("Mul", []string{term, e.i64s(p[m])})
		}
		if sum == "" {
			sum = term
		} else {
			sum = e.op("Add", []string{sum, term})
		}
	}
	if p[0] != 0 {
		sum = e.op("Add", []string{sum, e.i64s(p[0])})
	}
	e.cache[key] = sum
	return sum, nil
}

// vec returns a 1-d int64 tensor of the polynomials ps at run time: a
// constant when they all are.
func (e *emitter) vec(ps []poly) (string, error) {
	consts := make([]int64, len(ps))
	all := true
	for i, p := range ps {
		c, ok := p.isConst()
		consts[i], all = c, all && ok
	}
	if all {
		return e.i64sExact(consts...), nil
	}
	key := "vec"
	for _, p := range ps {
		key += fmt.Sprint([]int64(p))
	}
	if n, ok := e.cache[key]; ok {
		return n, nil
	}
	parts := make([]string, len(ps))
	for i, p := range ps {
		var err error
		if parts[i], err = e.polyTensor(p); err != nil {
			return "", err
		}
	}
	n := e.op("Concat", parts, attrInt("axis", 0))
	e.cache[key] = n
	return n, nil
}

// shapeOf returns the shape of v as a 1-d int64 tensor.
func (e *emitter) shapeOf(v *ir.Value) (string, error) { return e.vec(e.dims[v]) }
