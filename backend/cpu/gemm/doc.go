// Package gemm is encc's single-precision matrix multiply for the CPU:
// Sgemm (row-major, BLAS semantics); SgemmEx, which fuses a per-column
// bias, a per-row bias and an activation (Activation: relu, gelu with
// erf, gelu with tanh, tanh, sigmoid) into the write-back of C, for the
// compiler's matmul+bias+activation kernels and for gradient accumulation
// (Beta = 1); and SgemmBatched for many independent products of one shape
// (attention heads), spread over the pool one item per task. PackB
// packs op(B) once for calls that multiply by the same B (Params.PackedB:
// an inference weight), the same bits as packing it at each call. Activate
// and ActivateSlice expose the epilogue's float32 activation functions so
// that other kernels can match them exactly; Transpose is the packing's
// 8×8 block transpose for other kernels (attention's kᵀ and vᵀ). Pure Go
// plus Go assembly; no cgo.
//
// # Algorithm (Goto / BLIS)
//
//	jc: NC-wide column blocks of C           B block kc×nc (L3)
//	  pc: KC-deep slices of K, pack B        B micro-panels kc×nr
//	    ic: MC-high row blocks, pack A       A block mc×kc (L2)
//	      jr: NR-wide micro-panels           one B micro-panel (L1)
//	        ir: MR-high micro-panels         micro-kernel: mr×nr tile of C
//
// Packing lays A out as mr-row micro-panels (alpha folded in) and B as
// nr-column micro-panels, so the micro-kernel streams both with unit
// stride; transposes are absorbed by the packing routines (a contiguous
// copy for one layout, an interleaving gather for the other: for Bᵀ by
// 8×8 AVX transposes, which took the Bᵀ products of the workloads from
// ≈83 to ≈100 GFLOP/s on one core; for A stored m×k, whole 6-row panels
// by 8×8 AVX transposes with two zero rows (pack6AVX2; the W4 profile
// had the scalar gather of A at 18% of the step), edge panels by a gather
// of 4 rows at a time; for A stored k×m (a weight gradient dYᵀ·X),
// 16 depth steps at a time, panel by panel, a 16- and an 8-byte move per
// step (packAT6AVX2: panel by panel over the whole KC slice it read a
// cache line of each of 256 rows for 24 bytes, 0.5 ns per element); for
// B stored k×n, whole 16-column panels row by row, packB16AVX2,
// so that each row of the block is read contiguously: panel by panel it
// read 64 bytes of each row of a large B, a new page every time, and
// cost 2–3 instead of 0.8 ns per element at 2048²). When a task has few
// rows (≤ 96) and B is not transposed, B is
// read in place with its own row stride instead of being packed: a packed
// B panel is reused only m/mr times, and for the batch-64 products of the
// workloads packing it cost about a fifth of the time. A weight
// gradient one KC slice deep (op(A) = Aᵀ, a batch's dYᵀ·X) reads B in
// place whatever its rows where B's rows are not a multiple of 512 bytes
// apart (bInPlaceTA: W1's dW1, 256×784×64; not its dW2, rows 1 KiB
// apart). Not in a
// weight gradient (op(A) = Aᵀ, more than one KC slice: W4's dW = dYᵀ·X
// over 2048 tokens, M and N 128 or 512): there B's rows are 512 bytes or
// more apart, a micro-panel read in place fell into a few L1 sets and
// came from L2 for every tile (the two tasks of 128×128×2048 ran at
// 49–55 GFLOP/s of their thread's CPU), so B is packed, shared by the
// tasks of a split over M, which are not cut below 96 rows (each would
// stream all of it). Such a product's dY and X come from memory
// (written in the forward pass or by the layer above): over the tiles
// of each KC slice the driver prefetches the rows of A and B the next
// slice will pack (nextSlice, a share before each tile; where the
// shared B slice fills L2, its panels instead, as for bigSlice below).
// Such a product split over M gives its tasks equal parts of the rows
// (evenRows: 128 rows as 64 and 64, each 9 whole tiles and 2 of 5, not
// 66 and 62 at whole tiles), and with Params.ASums its tasks also add
// each block of A they pack into A's column sums (a bias gradient Σ dY
// beside the weight gradient dYᵀ·X; ColSums, backend/cpu's vector
// column sums; each column's rows in order, the bits of one sequential
// float64 sum whatever the split). A call split over
// M (every task multiplies all of op(B)) whose tasks would pack B packs
// it once instead, in KC slices laid out as a task's own packing of one
// slice, and the tasks read the shared panels. The tasks pack it
// themselves, with no hand-off of its own: each KC slice is cut into one
// part of whole panels per core; a task reaching a slice packs the part
// of its index (if no task has claimed it), then its block of A, then
// multiplies the columns of its own part first and the others' after,
// packing any part still unclaimed. A part claimed by a task that has
// not finished packing it is packed again into the reader's own buffer
// rather than waited for (a core taken away by another process would
// stall the wait for a time slice); which task packs a part changes no
// bit. W4's products
// (2048×128 activations times a 128×128 weight, cut into 8 tasks) packed
// each weight 8 times per use before, once now, which is once per
// training step for each layout it is read in (the forward reads Wᵀ, the
// input gradient W; the two need different panels). Edge tiles are
// computed into a scratch tile from zero-padded panels and merged,
// except an edge of 4 rows by a whole nr (avx2: a 4×16 kernel on the
// 6-row panel, in place, the same FMA chain per element, so the same
// bits): batch-64 products (10 panels and 4 rows) computed 66 rows for
// 64 and ran 2.5–4% slower on one core. Now a block of M ≢ 0 (mod 6)
// rows (M ≥ 5·f, f ≡ −M mod 6) ends in f tiles of 5 rows instead of an
// edge (sgemmAVX2x5x16 on a whole packed 6-row panel from lane 0 or 1,
// sgemmAVX2x5x16A on A in place; ten accumulators; the same FMA chain
// per element, the same bits): 64 rows as 9 + 2 tiles, 256 as 41 + 2,
// 128 as 20 + 4, no edge panel to pack where A is read in place
// (kernel.fives; one core's CPU per call 0.2–4% less on W1's products,
// 1.2% on fc1's forward). The whole tiles of a column
// (one B micro-panel against the packed panels of an A block) go to
// the kernel in one call where no epilogue is due on them
// (sgemmAVX2x6x16Col: the same FMA chain per element, the same bits),
// not one Go call per tile: 1–2% less CPU per core at 1024² and 2048².
// In a call split over N every
// task multiplies all of op(A) by its columns, so each core packed all of
// A: there, where A is stored m×k, alpha is 1, K fits one KC slice and
// A's rows are at most 256 floats apart, or A has at most 96 rows (a
// batch of 64: W1's first layer, 64×784 times Wᵀ, three KC slices), and
// a task has at most 400 columns, the tasks read A in place
// (sgemmAVX2x6x16A: six row pointers instead of one panel, the same FMA
// chain per element, the same bits; edge panels are still packed, tiles
// of 5 rows read in place too). 256²
// on two threads: each core packed 256² floats of A (10.5 µs of a 183 µs
// call); the median went from 171–175 to 182–187 GFLOP/s (directA);
// W1's first layer: each core packed 64×784 (13 µs of 160), its longer
// task's CPU 2–4% less. The
// epilogue (bias, activation) runs on each tile right after the last KC
// slice, while the tile is in L1; a column bias with no activation or
// ReLU (the common case) runs 8 lanes at a time (biasActAVX2, the same
// bits as the scalar loops, NaN and -0 included), a whole 16-column
// tile in one call (biasTileAVX2: the per-row calls cost a matmul_bias
// of 2048×512×128 27% more CPU than the bare product, now 5%). A
// caller's own step (Params.Tile, a TileEpilogue: backend/cpu's GELU and
// its backward folded into products) runs after that on each block of a
// task's rows (up to MC of them) and its columns, once the block is
// final: rows of nc contiguous floats, which the hardware prefetchers
// follow, where per tile its operands' short rows 2 KiB apart cost more
// than a pass of its own (TestTileEpilogue: every element once, on every
// path). Beta == 0 never reads C; other betas
// than 0 and 1 scale C once before accumulating.
//
// Where the epilogue is a column bias alone, the whole tiles of a column
// of the last KC slice add it as they are stored
// (sgemmAVX2x6x16ColBias: C, + old C, + bias, biasTile's additions in
// its order, so the same bits), so that such a product goes one call per
// column like a product with no epilogue instead of a kernel call and a
// bias call per tile: W5's forward products x·Wᵀ + b with 2048 rows took
// 2–8% less CPU (K = 128: 2048×512 3128 → 2986 µs, 2048×128 814 → 776
// on one core). A task of several blocks of A stored m×k (packed, no other
// prefetch running) prefetches, over the tiles of each block, what it
// packs next where its rows are at most 2·KC apart: the next block's rows
// of the slice, or after the last block its first block's rows of the
// next slice (pfA: 1–6% less CPU for those products on one core; A of
// W5's 2048-row products comes from L3 or memory; squares unchanged).
//
// SgemmGroup computes products of one op(A) by several op(B) (the
// projections q, k, v of one x) as one call: the products' columns one
// after another, each padded to whole micro-panels (job.segs: a tile
// never holds two products' columns), so that each task packs its block
// of op(A) once for all of them, op(B) is packed into one shared buffer
// from the separate weights, and the call pays one hand-off and one tail.
// Each element gets the operations of its product's own call (the tiles,
// the KC slices and the epilogue do not depend on the split), so the bits
// are those of SgemmEx on each (TestGroup). W5's three 2048×128×128
// projections: 2838 → 2551 µs of process CPU on two cores (2408 → 2353
// of one core's).
//
// SgemmGroupRows is its mirror: products of several op(A) (each its own
// rows, C, epilogue and ASums) by one op(B) (the weight gradients dYᵀ·X
// of q, k and v, one X) as one call whose rows are the products' rows one
// after another (job.rsegs). Each task computes its rows product by
// product (block with that product's Params), all reading one shared
// packing of op(B) (on one task too: packOnce), so op(B) is packed once
// instead of once per product and the call pays one hand-off; the same
// bits as SgemmEx on each (TestGroupRows). W4/W5's three 128×128×2048:
// 3312–3477 → 2924–3138 µs of process CPU on two cores, 2676–2743 →
// 2624–2719 of one core's (TestGemmAB, ENCC_GEMM_AB=dw).//
// # Micro-kernels and blocking (Zen 4: L1d 32 KiB, L2 1 MiB, L3 32 MiB)
//
//	kernel   tile    KC   MC   NC    selected by
//	avx2     6×16    256  240  4080  AVX2 && FMA (default)
//	avx512   12×32   192  240  4064  AVX-512F
//	generic  4×4     256  128  2048  always available (pure Go)
//
// KC: the B micro-panel (kc×nr floats: 16 KiB for avx2, 24 KiB for
// avx512) stays in L1 next to the streaming A micro-panel. MC: the A block
// (mc×kc: 240 KiB for avx2) takes a quarter of L2, leaving room for the B
// block's lines passing through. NC: the B block (kc×nc, 4 MiB) sits in
// L3 with room for the other core's. The avx2 kernel keeps 12 ymm
// accumulators and per depth step issues 2 loads of B, 6 broadcasts of A
// and 12 FMAs (6 cycles on Zen 4's two FMA pipes); avx512 uses 24 zmm
// accumulators of its 32 registers, 2 loads and 12 broadcasts per 24
// FMAs. On Zen 4, which executes a 512-bit FMA on both 256-bit pipes, the
// two reach the same peak; single-core measurements favoured avx2 by a
// few per cent (as OpenBLAS found with its Haswell vs SkylakeX kernels),
// so Auto picks avx2. Kernels() lists what the machine has, SetKernel or
// the environment variable ENCC_GEMM ("generic", "avx2", "avx512",
// "auto") chooses; the tests run every available kernel. On Zen 3 (AVX2
// and FMA, no AVX-512; L2 512 KiB) Auto picks avx2 by the CPU features;
// its A block (240 KiB) is under half of that L2. Other blockings tried
// there (KC 192–512 with MC 72–240) were within about 2% of it on one
// core (MC 120–144 ahead by 0.5–2% at 2048², the same at ≤ 1024), so it
// is unchanged (docs/performance.md has the figures).
//
// # Small products
//
//   - m*n*k ≤ 128: a straight triple loop, no packing (the packed path
//     is already faster at 8×8×8).
//   - m == 1 (batch-1 inference): GEMV, no packing. Bᵀ stored (n×k, a
//     Linear layer's weight) uses 4-row dot products; B stored k×n uses
//     64-column axpy strips. Both stream the weights once; for 784×256 a
//     call costs about the time to read the 800 KB from L2.
//   - A batch of 4–96 rows times a transposed weight at least 384 deep
//     (x·Wᵀ, A m×k of at most 256 KiB, alpha 1, no PackedB): dot
//     products of A's rows with W's rows, both read in place (dot.go,
//     dotNT4x3AVX2: 4 rows × 3 columns per tile, 12 accumulators of 8
//     lanes along k, the lanes summed at the end; the same micro-kernel,
//     kernel_amd64.s's DOT4X3 macros, is exported as Dot4x3AVX2 for
//     backend/cpu's convolution weight gradients, over segments of
//     samples), nothing packed. The
//     panels' path transposes all of Wᵀ at every call (about a tenth of
//     W1's fc1 forward). Tasks take strips of 3 columns. An element's
//     bits depend on its rows of A and W and on k only, the same on any
//     number of cores, but not those of the other paths (TestDot).
//
// # Threads
//
// The parallel.Default pool (GOMAXPROCS participants, no goroutine per
// call) runs the work cut along M or N into task ranges aligned to the
// register tile; each task runs the whole loop nest above on its part of
// C with its own packing buffers (no barrier inside a call, one hand-off
// per call; a shared op(B) is packed by the tasks, above). A cost model (multiply-adds at ≈50 GMAC/s per core, packing
// at 0.3 ns per element, 3 µs for a hand-off to helpers still spinning,
// 15 µs when they are all parked and must be woken) picks serial, split-M or
// split-N: split-M repacks all of B in every task, split-N all of A, so
// the model splits the dimension whose shared operand is cheaper to pack
// and stays serial where the hand-off would not pay (e.g. 64×128×10);
// where the tasks of a split over M share one packing of op(B) (above),
// the model counts that packing once (it used to charge every task for
// it, and sent 1024² over N, each task repacking all of A).
// Where the model says it adds at most 5% of work (tasks of at least
// 20 µs), products are cut into 2 or 4 tasks per core, claimed
// dynamically, so that a core taken by another process, or a helper
// preempted in the middle of its task, delays the call by less; tasks
// sharing op(B) are not cut so small that they would read it in place
// instead. Where a KC slice of the packed op(B) a task reads is larger
// than L2 (512 KiB), it streams from L3: the tiles of each B
// micro-panel prefetch the next one, and a task of up to 264 rows is
// one block of A, so that the slice streams once per task (2048² on two
// cores: 8 tasks of 258 rows; 16 tasks of 126–132 rows streamed it twice
// as often and took 2–3% more CPU per core). Tile ranges depend only on the shape, and every
// element of C is computed by the same sequence of operations whatever
// the split, so results are bit-identical from run to run and across
// thread counts.
//
// StartTrace and StopTrace record every call while on (a diagnostic: its
// shape, the split the model chose, its tasks' ranges, participants,
// wall and thread CPU times, and whether they read A in place); off, a
// call pays one atomic load. backend/cpu's TestGemmTrace prints W1's
// step that way (ENCC_GEMMTRACE=1). W1 on two threads: fc1's and fc2's
// forward (64 rows, x·Wᵀ; fc1's by dot products) and fc1's weight
// gradient go over N, one task per core (over M, fc2's 11 six-row panels
// would go 6/5, 36 rows against 28); fc3 (10 columns) stays on one core; the backward's
// mid-sized products run whole, side by side, as a stage of the
// backend (TestW1Splits).
//
// On one core (a pool of one, or SgemmExSerial), a product x·Wᵀ of a
// batch (at most 96 rows, at least four times as many columns, alpha 1)
// that does not go by dot products (above; W1's fc1 forward now does)
// is computed swapped (swap.go): Cᵀ = W·xᵀ into the call's own buffer,
// W read in place as A (microA), only x packed, then each task writes
// its part back transposed (8×8 blocks) with the epilogue. Packing Wᵀ
// cost more than the transpose: W1's fc1 forward 315 → 291 µs per call.
// The bits are those of the product as stated (TestSwapped). On two
// cores it was not faster than the split over N and is not used.
//
// # int8 (int8.go)
//
// Qgemm, QgemmU8 and QgemmInt32 multiply 7-bit unsigned activations
// (affine: QParams) by int8 weights prepacked once (PackQWeights: one
// scale per output column) with int32 accumulation; the epilogue
// subtracts the zero point's share, rescales, adds the bias, applies the
// activation and writes float32 (or requantized uint8). Kernels
// (QKernels; ENCC_QGEMM chooses): "avx2" (vpmaddubsw + vpmaddwd, the
// f32 epilogue with relu fused into the write-back), "vnni" (vpdpbusd,
// with AVX-512 VNNI and VL) and "generic" (Go). 7 bits keep vpmaddubsw's
// int16 pair sums from saturating, so every kernel gives the reference
// integer product exactly (TestQgemmExact) and the same float32 bits
// (TestQgemmEpilogueExact). Qgemm allocates a few small slices per call
// (scales and the packed input); a QJob (int8job.go) is the same product
// planned once for one shape, which runs without allocating
// (TestQJobAllocs), reads A packed by its caller if it likes (an int8
// convolution's im2col), and writes row-major or channel-major (NCHW)
// blocks, float32 or requantized uint8 (TestQJobExact). A QConv
// (int8conv.go) is a convolution's product channel-major, C = W·A for
// one image: weights broadcast (6 output channels per panel), the
// caller's patches in panels of 16 pixels, the epilogue (relu or none)
// storing whole output-channel rows, float32 or uint8, with the same
// bits as a QJob (TestQConvExact); kernels qconvAVX2x6x16, qconvVNNIx6x16
// and Go. int8pack.go packs A (4 rows × 16 bytes at a time, a 4×4
// transpose of 32-bit words in AVX), quantizes a float32 input straight
// into the packed layout (QJob.QuantizePackedA) and lets one product's
// epilogue write the next product's packed A (QJob.RunPackedToPacked:
// a 4×16 output tile is 64 contiguous bytes of it), so an int8 MLP packs
// nothing between its layers; both give the bits of the row-major path
// (TestQuantizePackedA, TestRunPackedToPacked).
//
// # Allocation
//
// Calls and packing workspaces come from free lists and grow to the
// largest shape seen; a steady state of calls allocates nothing
// (TestZeroAllocs). Every workspace is kept at the high-water sizes of
// all of them (and made one per core and the caller at once), so a call
// allocates nothing whichever workspace timing hands it
// (TestWorkspaceHighWater). A swapped product's result buffer is its
// call's (job.tbuf), kept with the call on the free list.
package gemm
