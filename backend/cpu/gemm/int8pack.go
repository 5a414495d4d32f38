package gemm

import (
	"encoding/binary"
	"fmt"
)

// Packing A for the int8 micro-kernels, and the two ways around a
// separate packing pass between layers:
//
//   - QuantizePackedA quantizes a float32 input straight into the packed
//     layout (each micro-panel's rows quantized into a per-worker scratch
//     and transposed into place while still in cache), in parallel.
//   - RunPackedToPacked writes a product's requantized uint8 output
//     straight into the next int8 product's packed A: a 4×16 output tile
//     is exactly 4 of the next product's k groups of one micro-panel, 64
//     contiguous bytes, so the tile is quantized and transposed as a 4×4
//     matrix of 32-bit words, and nothing is packed again.
//
// Both write the bytes packQA would write from the row-major uint8 form,
// so a chain of products gives the same bits either way (tested).

// qpack4x16Go is the portable form of qpack4x16: n chunks of 16 bytes of
// 4 rows (row r at src[r·lds:]) go to dst[64c + 16g + 4r], g the chunk's
// 4-byte group.
func qpack4x16Go(n int, src []uint8, lds int, dst []uint8) {
	for c := range n {
		for r := range qMR {
			row := src[r*lds+16*c:]
			for g := range 4 {
				binary.LittleEndian.PutUint32(dst[64*c+16*g+4*r:], binary.LittleEndian.Uint32(row[4*g:]))
			}
		}
	}
}

// packQA packs the m×k uint8 matrix a (row stride lda) into micro-panels
// of qMR rows with 4-byte k groups: row i's group g at
// (i/qMR)·k4·4·qMR + g·4·qMR + (i%qMR)·4. k values past k and rows past m
// in the last micro-panel are 0.
func packQA(dst []uint8, m, k, k4 int, a []uint8, lda int) {
	for p := range m / qMR {
		packQPanel(dst[p*k4*4*qMR:], qMR, k, k4, a[p*qMR*lda:], lda)
	}
	if r := m % qMR; r != 0 {
		p := m / qMR
		packQPanel(dst[p*k4*4*qMR:], r, k, k4, a[p*qMR*lda:], lda)
	}
}

// packQPanel packs rows ≤ qMR rows of a into one micro-panel.
func packQPanel(d []uint8, rows, k, k4 int, a []uint8, lda int) {
	d = d[:k4*4*qMR]
	g0 := 0
	if rows == qMR && k >= 16 {
		n := k / 16
		qpack4x16(n, a, lda, d)
		g0 = 4 * n
	}
	full := k / 4
	for r := range rows {
		row := a[r*lda : r*lda+k]
		for g := g0; g < full; g++ {
			// One 32-bit load and store each; no unsafe conversion,
			// which checkptr rejects for rows shorter than a word.
			binary.LittleEndian.PutUint32(d[g*4*qMR+r*4:], binary.LittleEndian.Uint32(row[g*4:]))
		}
		if full < k4 {
			var t [4]uint8
			copy(t[:], row[full*4:])
			copy(d[full*4*qMR+r*4:full*4*qMR+r*4+4], t[:])
		}
	}
	// Rows past the matrix's last.
	for r := rows; r < qMR; r++ {
		for g := range k4 {
			clear(d[g*4*qMR+r*4 : g*4*qMR+r*4+4])
		}
	}
}

// qQuantPack is QuantizePackedA's loop body: micro-panels [lo, hi).
type qQuantPack struct {
	j   *QJob
	x   []float32
	ldx int
	m   int
}

func (q *qQuantPack) RangeWorker(worker, lo, hi int) {
	j := q.j
	k, k4 := j.W.K, j.W.k4
	s := j.qscratch[worker*qMR*k : (worker+1)*qMR*k]
	inv := 1 / j.AQ.Scale
	for p := lo; p < hi; p++ {
		rows := min(qMR, q.m-p*qMR)
		for r := range rows {
			x := q.x[(p*qMR+r)*q.ldx:][:k]
			d := s[r*k : (r+1)*k]
			for i := quantizeVec(d, x, inv, j.AQ.Zero); i < k; i++ {
				d[i] = quantize1(x[i], inv, j.AQ.Zero)
			}
		}
		packQPanel(j.packed[p*k4*4*qMR:], rows, k, k4, s, k)
	}
}

// QuantizePackedA quantizes the first m ≤ M rows of the float32 matrix x
// (m×K, row stride ldx) with the job's AQ straight into PackedA, as
// AQ.QuantizeSlice and packing would, spread over the job's pool unless
// the job is Serial. RunPackedF32, RunPackedU8 or RunPackedToPacked
// then compute the product.
func (j *QJob) QuantizePackedA(m int, x []float32, ldx int) {
	k := j.W.K
	if m <= 0 || m > j.M || ldx < k || len(x) < (m-1)*ldx+k {
		panic(fmt.Sprintf("gemm: QuantizePackedA: %d rows of x (%d elements, stride %d) for a job of %d×%d", m, len(x), ldx, j.M, k))
	}
	if j.qscratch == nil {
		// Planned by NewQJob; a job made otherwise gets it here once.
		j.qscratch = make([]uint8, j.pool.Size()*qMR*k)
	}
	j.qp = qQuantPack{j: j, x: x, ldx: ldx, m: m}
	panels := (m + qMR - 1) / qMR
	if !j.Serial && j.pool.Size() > 1 && m*k >= 1<<14 && panels >= 2 {
		j.pool.ForWorker(panels, 1, &j.qp)
	} else {
		j.qp.RangeWorker(0, 0, panels)
	}
	j.qp.x = nil
}

// RunPackedToPacked computes the product of the first m rows of PackedA
// and writes it requantized with next.AQ straight into next's PackedA
// (next.W.K must be the job's N): next.RunPacked* then continues the
// chain. The bytes are those RunU8 would write row-major and next would
// pack.
func (j *QJob) RunPackedToPacked(m int, next *QJob) {
	if next.W.K != j.W.N || m > next.M || j.Spatial != 0 {
		panic(fmt.Sprintf("gemm: RunPackedToPacked: a %d×%d product (spatial %d) into one of %d rows × K %d", j.M, j.W.N, j.Spatial, next.M, next.W.K))
	}
	j.next, j.outQ = next, next.AQ
	j.runPacked(m)
	j.next = nil
}

// scatterPacked writes a float32 tile (the epilogue applied) requantized
// into j.next's packed A.
func (j *QJob) scatterPacked(worker, i0, rows, j0, cols int, ft *[qMR * qNR]float32) {
	nx := j.next
	ub := &j.ubufs[worker]
	j.outQ.QuantizeSlice(ub[:], ft[:]) // stale lanes of a partial tile are quantized and dropped
	d := nx.packed[(i0/qMR)*nx.W.k4*4*qMR+(j0/4)*4*qMR:]
	if rows == qMR && cols == qNR {
		qpack4x16(1, ub[:], qNR, d)
		return
	}
	pad := (cols + 3) &^ 3 // k values past next's K in the last group are 0
	for r := range rows {
		for c := range pad {
			v := uint8(0)
			if c < cols {
				v = ub[r*qNR+c]
			}
			d[(c/4)*4*qMR+r*4+c%4] = v
		}
	}
}

// PackA packs the first m ≤ M rows of the uint8 matrix a (row stride
// lda, values ≤ QMax) into PackedA, as RunU8 and RunF32 do before their
// product; RunPacked* then compute it.
func (j *QJob) PackA(m int, a []uint8, lda int) {
	k := j.W.K
	if m <= 0 || m > j.M || lda < k || len(a) < (m-1)*lda+k {
		panic(fmt.Sprintf("gemm: PackA: %d rows of A (%d elements, stride %d) for a job of %d×%d", m, len(a), lda, j.M, k))
	}
	packQA(j.packed, m, k, j.W.k4, a, lda)
}
