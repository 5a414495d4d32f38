// This file implements Plan, the launch plan written to plan.json: the
// arena, the inputs the host binds, every buffer's place, and the ordered
// steps (kernel launches, cuBLAS GEMMs, copies and memsets).

package cuda

import "encoding/json"

// A Plan is what a host runtime needs to run kernels.cu: one device
// arena of ArenaBytes, the inputs it binds (each its own device buffer),
// and Steps, run in order on one stream. Every pointer argument is an
// Arg: a byte offset into the arena or into an input's buffer.
type Plan struct {
	Graph      string   `json:"graph"`       // the graph's name
	ArenaBytes int      `json:"arena_bytes"` // bytes of the one device arena (a multiple of 64)
	Block      int      `json:"block"`       // threads per block of the elementwise and reduction kernels
	Inputs     []Input  `json:"inputs"`      // bound by the host, in graph order
	Outputs    []Output `json:"outputs"`     // named outputs and updates
	Buffers    []Buffer `json:"buffers"`     // every non-input value of the graph, in graph order
	Steps      []Step   `json:"steps"`       // run in order
}

// An Input is a graph input: the host owns a device buffer of Bytes for it.
type Input struct {
	Name  string `json:"name"`  // dotted name (encoder.fc1.weight, lr)
	Role  string `json:"role"`  // data, param, state, scalar or const
	DType string `json:"dtype"` // f32, i32, i64 or bool (one byte)
	Shape []int  `json:"shape"` // row-major
	Bytes int    `json:"bytes"` // element count × dtype size
}

// An Output is a named output (loss, pred) or an update (Updates names
// the input that takes the value after the step). An update that is not
// InPlace is copied into its input by a copy step at the end.
type Output struct {
	Name    string `json:"name,omitempty"`    // named outputs only
	Updates string `json:"updates,omitempty"` // updates only: the input overwritten
	InPlace bool   `json:"in_place,omitempty"`
	At      Arg    `json:"at"` // where the value is after the step
}

// A Buffer is a non-input value and where it lives: at Offset in the
// arena, or, for aliases (reshapes) and in-place updates, in the storage
// of Root.
type Buffer struct {
	Ref     string `json:"ref"` // %ID
	Op      string `json:"op"`
	DType   string `json:"dtype"`
	Shape   []int  `json:"shape"`
	Bytes   int    `json:"bytes"`
	Offset  *int   `json:"offset,omitempty"`   // arena byte offset, when the value owns a slot
	Alias   string `json:"alias,omitempty"`    // reshape sharing this value's storage
	InPlace string `json:"in_place,omitempty"` // input whose storage an optimizer update overwrites
	Root    string `json:"root"`               // the buffer (%ID) or input (%name) that owns the storage
	Pos     string `json:"pos,omitempty"`      // file:line of the .enc source
}

// An Arg is one argument of a launch, GEMM, copy or memset. Pointer
// arguments have Kind "arena" (Offset is the byte offset in the arena) or
// "input" (Offset is the byte offset in input Input's buffer); scalar
// arguments have Kind "i32", "i64" (Int) or "f32" (Float).
type Arg struct {
	Kind   string   `json:"kind"`
	Value  string   `json:"value,omitempty"`  // pointers: the value referred to (%ID or %name)
	Buffer string   `json:"buffer,omitempty"` // pointers: the storage owner (Buffer.Root)
	Input  string   `json:"input,omitempty"`  // kind input: the input's name
	Offset int      `json:"offset"`           // pointers: bytes from the start of the arena or input
	Bytes  int      `json:"bytes,omitempty"`  // pointers: bytes the step may touch from Offset
	Int    *int64   `json:"int,omitempty"`    // i32, i64
	Float  *float64 `json:"float,omitempty"`  // f32
}

// IsPointer reports whether a is a device pointer.
func (a Arg) IsPointer() bool { return a.Kind == "arena" || a.Kind == "input" }

// A Step is one thing the host does, in order: "launch" a kernel, "gemm"
// (a cuBLAS call, then its epilogue launch if any), "copy" Bytes from Src
// to Out, or "memset" Out to zero. Value is the IR value the step
// computes; Out is where it writes.
type Step struct {
	Kind   string  `json:"kind"`
	Value  string  `json:"value"`
	IR     string  `json:"ir"`            // the value in the IR text form
	Pos    string  `json:"pos,omitempty"` // file:line
	Out    Arg     `json:"out"`
	Launch *Launch `json:"launch,omitempty"`
	GEMM   *GEMM   `json:"gemm,omitempty"`
	Src    *Arg    `json:"src,omitempty"` // copy
}

// A Launch is a kernel launch. Cover is the extent (x, y, z) the launch
// must cover: threads (grid×block per dimension) when Unit is "thread",
// blocks when Unit is "block" (one block per row or output element).
type Launch struct {
	Kernel string `json:"kernel"`
	Grid   [3]int `json:"grid"`
	Block  [3]int `json:"block"`
	Shared int    `json:"shared_bytes"` // dynamic shared memory; kernels here use static shared memory only
	Args   []Arg  `json:"args"`
	Cover  [3]int `json:"cover"`
	Unit   string `json:"unit"`
}

// A GEMM is one cuBLAS call, cublasSgemmStridedBatched(handle, TransA,
// TransB, M, N, K, Alpha, A, LDA, StrideA, B, LDB, StrideB, Beta, C, LDC,
// StrideC, Batch), in cuBLAS's column-major terms.
//
// The IR's matrices are row-major. A row-major X[r,c] is, read
// column-major with leading dimension c, X^T. So the row-major product
// C = op(x)·op(w) of [Rows,Cols] is computed as the column-major
// C^T = op(w)^T·op(x)^T: cuBLAS's A is the IR's w (arg 1), its B is the
// IR's x (arg 0), M = Cols, N = Rows, and LDC = Cols. Rows, Cols, Inner,
// TransX and TransW restate the call in the IR's row-major terms.
//
// Fallback is the same product by the tiled shared-memory kernel
// encc_sgemm of kernels.cu (for hosts without cuBLAS); Epilogue, when
// set, is launched after either (bias and activation of matmul_bias).
type GEMM struct {
	TransA  string  `json:"transa"` // "N" or "T"
	TransB  string  `json:"transb"`
	M       int     `json:"m"`
	N       int     `json:"n"`
	K       int     `json:"k"`
	A       Arg     `json:"a"`
	LDA     int     `json:"lda"`
	StrideA int64   `json:"stride_a"` // elements
	B       Arg     `json:"b"`
	LDB     int     `json:"ldb"`
	StrideB int64   `json:"stride_b"`
	C       Arg     `json:"c"`
	LDC     int     `json:"ldc"`
	StrideC int64   `json:"stride_c"`
	Batch   int     `json:"batch"`
	Alpha   float64 `json:"alpha"`
	Beta    float64 `json:"beta"`

	Rows   int  `json:"rows"`  // row-major restatement: C[Rows,Cols] = op(x)[Rows,Inner]·op(w)[Inner,Cols]
	Cols   int  `json:"cols"`  //
	Inner  int  `json:"inner"` //
	TransX bool `json:"trans_x,omitempty"`
	TransW bool `json:"trans_w,omitempty"`

	Fallback *Launch `json:"fallback"`
	Epilogue *Launch `json:"epilogue,omitempty"`
}

// JSON returns the plan as indented JSON, the content of plan.json.
func (p *Plan) JSON() []byte {
	b, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		panic(err) // the plan holds only plain data
	}
	return append(b, '\n')
}
