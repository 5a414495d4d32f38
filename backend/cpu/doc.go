// Package cpu runs IR graphs on the CPU: a kernel for every op of the
// table, an executor over one arena placed by ir.PlanMemory, work split
// over the cores by a persistent worker pool (backend/cpu/parallel), and
// GEMM by backend/cpu/gemm. A training step allocates nothing and is
// deterministic for a given number of cores.
//
// # Using it
//
//	p, err := cpu.Compile(g, cpu.Options{})     // verify, plan memory, prepare kernels
//	p.Bind("encoder.fc1.weight", weights)        // caller-owned storage ([]float32 …)
//	p.SetScalar("lr", 1e-3)
//	p.SetScalar("step", 1)
//	err = p.Run()                                // updates land in the bound storage
//	loss := p.Float32("loss")[0]
//
// Inputs that are not bound get zeroed storage owned by the program;
// Float32, Int32, Int64 and Bool return the storage of an input or of a
// named output (an output's storage is valid until the next Run).
// Parameters and optimizer state bound to the same slices in the
// programs of several phases are shared between them. An inference
// program whose weights stay put between runs may be compiled with
// Options.FrozenWeights: its f32 products then pack each weight once
// (gemm.PackB) instead of at every run, and pack it again only when it
// is bound to other storage or after Program.WeightsChanged (the same
// bits either way; encc eval, encc predict and encc bench --infer set
// it, training does not). On 2+ cores a chain of
// such products, each reading the previous one's output, runs as one
// parallel region (chain.go).
//
// # Design
//
//   - Storage. Every value has a buffer: an arena slot at
//     ir.Plan.Offset (the arena is one []uint64, 64-byte aligned, sized
//     by the plan, so slots are reused across values whose lifetimes do
//     not overlap), its operand's buffer (reshapes the plan aliases), or
//     the storage of the input it updates in place (optimizer updates the
//     plan puts in place). A scalar value has storage of its own, off the
//     arena: a slot freed late would order its step (and its readers:
//     the step counters and optimizer updates) after the slot's earlier
//     readers, as stages order over storage (TestScalarsOffArena). A
//     training ReLU taken into its product's epilogue has the product's
//     storage (below). Inputs have their own storage, never in the
//     arena: the caller's (Bind), or, for an input left unbound, zeroed
//     storage the program makes at its first Run. Programs compiled with
//     one Options.Arena share it and hold the largest plan (arena.go). Values that share storage share one *buffer, so Bind, which
//     swaps an input's pointer, is seen by every kernel that reads the
//     input or an alias of it. Updates the plan could not put in place
//     are copied into their input at the end of Run.
//   - Kernels. Compile asks the builder registered for each value's op
//     (builders, filled by the init functions of the kernel-family
//     files) for a kernel: a struct holding the buffers and all the
//     shape arithmetic worked out in advance (broadcast strides collapsed
//     into an ndLoop, reduction offsets, convolution geometry, GEMM
//     parameters, scratch). Run calls kernel.run for each step in graph
//     order. Kernels read their buffers' pointers at run time and build
//     typed views with unsafe.Slice, which allocates nothing.
//   - Dtypes. f32, i32, i64 and bool (one byte, 0 or 1). Arithmetic
//     kernels are generic over float32, int32 and int64; data movement
//     moves unsigned words of the element size, so one instantiation
//     serves every dtype of that size. Reductions, softmax, layernorm,
//     cross entropy and the optimizer updates accumulate in float64.
//   - Parallelism. Kernels split independent outputs (blocks of rows,
//     planes, samples, reduction outputs) over the pool with parFor,
//     which stays on the calling core below parMinWork units of work per
//     chunk, and below parWakeWork in all when the pool's helpers are
//     parked (a wake-up would cost more than the job saves). Chunks depend only on the sizes and the pool size, and no
//     two chunks add into the same element: where a result is a sum over
//     chunks (the convolution weight gradient), each task sums into its
//     own buffer and the buffers are added in task order. Results are
//     therefore bit-identical from run to run for a given Threads. GEMM
//     parallelizes itself on parallel.Default(); a GEMM called from
//     inside a pool task runs on that task's core.
//   - Stages (stage.go). On a pool of several cores, Compile orders the
//     steps by dependency level, over storage rather than values (the
//     arena reuses slots; a step conflicts with another when it writes
//     bytes the other reads or writes), and runs a level's mid-sized
//     independent steps as one stage: pool tasks, one step per task,
//     each whole on one core (its own splits inline, its products on
//     that core), instead of one after the other, each split over the
//     cores. W1's hidden layer's input and weight gradients (51 and 55
//     µs on one core) run side by side; split, each paid a hand-off,
//     repacked the operand its halves share, and left the micro-kernel
//     short tiles. Steps too big for a stage (a modelled 250 µs), or
//     that would leave it unbalanced, run alone, split by themselves;
//     kernels whose reads, writes or scratch the pass does not know are
//     barriers nothing moves across. The bits are those of the steps one
//     after another (TestStagesBitIdentical); a stage's error names its
//     first failing step in program order. A step of the next level that
//     depends on one task's steps only joins that task as a chain, run
//     after them on its core, when the model says that costs less than
//     running it after the stage (W1: fc2's ReLU gradient, the bias
//     updates; TestStageOrder).
//   - Elementwise ops. Every op the table flags elementwise has a kernel:
//     the ops with a loop of their own (elementwiseKernels: typed,
//     branch-free or AVX2 loops) run it, every other one computes the op
//     table's arithmetic (ir.Op.Scalar) in float64, whole (table.go) or as
//     an instruction of a fused body. No kernel looks at the shape of a
//     graph: the relu and GELU gradients are ops of their own
//     (relu_backward, gelu_backward) with vector kernels, and
//     TestW4Kernels pins the kernel each value of the W4, W5 and W1 steps
//     runs on (testdata/w4_kernels.txt), so a slide to a slower kernel
//     fails a test.
//   - Fused ops (from ir's fuse pass). matmul_bias is one gemm.SgemmEx
//     call with the bias and activation in the epilogue (actOf maps the
//     IR's epilogue activations to gemm's; GELU runs as gemm's
//     Params.Tile, the vector GELU on each block of the product once it
//     is final (geluTile, gelu_fold.go), and activations gemm lacks run
//     after the product). In training, r = relu(m) of an
//     m = matmul_bias whose only other reader is relu_backward(m, dy)
//     runs in m's epilogue too (reluEpilogues, matmul.go): relu(m) > 0
//     exactly where m > 0, so m's storage can hold relu(m), as r for r's
//     readers and as m for relu_backward (the same mask), and r's step
//     goes, where r and its readers all come between m and that gradient
//     (TestReluEpilogueBitIdentical).
//     A fused
//     elementwise body runs block by block (fusedBlock elements): each
//     instruction is a tight loop over a block held in a per-worker
//     register, so dispatch is paid once per block, not per element;
//     operands read with unit stride are used in place and the last
//     instruction writes straight into the result.
//
// # Files
//
//	program.go      Compile, Program, Bind, Run: the executor
//	arena.go        an Arena shared by programs run one at a time (a
//	                training run's steps and evaluation); inputs' own
//	                storage made only for those left unbound
//	kernel.go       the kernel interface, the registry, buffers, ndLoop
//	elementwise.go  constants; the elementwise ops' own loops: unary, cast,
//	                broadcasting binary, compare, where, relu/GELU backward
//	table.go        any elementwise op with the op table's arithmetic
//	reduce.go       sum, mean, reduce_max, logsumexp, reduce_to, argmax;
//	                reduced runs four at a time (sumruns_amd64.s, the same
//	                float64 chains as sumRun: bit-identical)
//	matmul.go       batched matmul through gemm; a frozen weight (Options.FrozenWeights)
//	                packed once; the training ReLUs a product's epilogue takes
//	biassums.go     a bias gradient reduce_to(dY) of a dY larger than L2 summed by
//	                the weight gradient dYᵀ·X as its tasks pack dY (gemm's ASums;
//	                fuseBiasSums, TestBiasSums*: the reduce_to's bits)
//	accumulate.go   an add of a product and a value the product may overwrite (the
//	                residual gradient: dX of the product after the skip plus the
//	                skip's gradient), or a fused chain of such adds in the products'
//	                order, folds into the products, which accumulate into
//	                that value's storage with gemm's Beta = 1 (accumulateFolds; the
//	                memory plan gives both that storage, ir.PlanOptions.Into;
//	                TestAccumulate*: the add's bits where K is one gemm block)
//	chain.go        consecutive products by frozen weights (an MLP's forward) as one
//	                parallel region: rows cut once over the cores, each task running
//	                every product on its rows, the values between them in scratch
//	conv.go         conv2d and its backward ops: im2col + GEMM (blocks of
//	                samples per GEMM where a sample has few output pixels)
//	convtaps.go     stride-1 convolutions with few output channels and
//	                small planes (LeNet's), all three ops on C·KW shifted
//	                planes per sample instead of im2col: convTaps6AVX2
//	                (convtaps_amd64.s, 6 output rows × 16 pixels in
//	                registers) for conv2d and the input gradient,
//	                gemm.Dot4x3AVX2 (gemm's dot micro-kernel, 4×3 dot
//	                products over segments) for the weight gradient; with
//	                simdOn off they run im2col + GEMM (convtaps_other.go
//	                stubs the kernel)
//	depthwise.go    depthwise conv2d (one input channel per group) and its
//	                backward ops directly, a kernel tap over a whole plane
//	pool.go         max and average pooling and their backward ops; a ReLU
//	                before a 2×2 max pooling folded into it, forward and
//	                backward (fuseReluPool)
//	movement.go     reshape, permute, broadcast_to, slice(_backward), concat, gather, scatter_add, one_hot;
//	                gather split over the ids, scatter_add over the result's rows (each row's
//	                adds in the order of the ids on any split; TestGatherSplit, TestScatterAddSplit);
//	                a gather of f32 rows whose only reader is an add runs inside the add
//	                (fuseGatherAdd, TestGatherAdd*: token plus position embeddings)
//	nn.go           softmax, log_softmax, layernorm (+ backward), cross entropy (+ backward), dropout;
//	                layernorm's backward ops read the row statistics kept by the forward
//	                their dy depends on (shareLayerNormStats, TestLayerNormSharedStats*);
//	                a residual add right before a layernorm runs inside it, row by row
//	                (fuseResidualLayerNorm, TestResidualLayerNorm*), and where the layernorm
//	                is the sum's only reader (a frozen block) the sum stays in a stack block
//	optim.go        sgd, sgd_momentum, ema, ema_sq, adam, rmsprop
//	adam.go         each ema → ema_sq → adam chain as one kernel (fuseAdam),
//	                split in blocks of 8 elements (the same bits on any
//	                number of cores); where the last step met a subnormal
//	                (MXCSR flags, per 4,096 elements) it marks the lanes
//	                with a tiny first moment and takes their quotient in
//	                float64: the same bits without the divider's slow path
//	                (TestAdamVectorSubnormal, TestAdamMarkChunks)
//	cepair.go       softmax_cross_entropy and its gradient on the same
//	                logits as one kernel: one exp per element for both,
//	                rows over the cores, the same bits (fuseCrossEntropy);
//	                a block of rows' exps in one expF64 call, their sums'
//	                logs in one logF64 call
//	exp.go          expF64 and logF64: math.Exp and math.Log over an array,
//	exp_amd64.s     with AVX2 and FMA by expAVX2 and logAVX2, the math
//	                package's own code on four lanes (the same bits,
//	                TestExpF64, TestLogF64); exp_other.go stubs them
//	stage.go        independent steps side by side (stageSteps)
//	matmulgroup.go  products of one input by several weights (q, k, v) as one
//	                gemm.SgemmGroup call (groupProducts: a product moves up to
//	                its first sibling only across steps of known storage it
//	                does not conflict with; TestGroupProducts*: the same bits);
//	                products of several inputs by one (the q/k/v weight
//	                gradients dYᵀ·X with their bias sums) as one
//	                gemm.SgemmGroupRows call (groupsRows; TestGroupRows*)
//	fused.go        matmul_bias and fused elementwise bodies
//	simd_amd64.s    AVX2 kernels: fused Adam, relu (+ backward), exp and
//	                softmax, sigmoid and tanh, 2×2 max
//	                pooling (+ backward), im2col/col2im row copies, 4×3 dot
//	                products (conv weight gradient), scaled row adds and
//	                row dot products (depthwise); simd_other.go stubs them
//	                elsewhere, and each has a portable loop that the tests
//	                run with simdOn off
//	rowstat_amd64.s AVX2 kernels doing, lane for lane, the float64 loops of
//	                layernorm (+ backward), column sums (reduce_to, sum and
//	                mean over the leading or a middle axis) and the rows' max and scale
//	                of softmax and attention: bit-identical results
//	                (TestRowStatVector; layernorm_backward_input's row
//	                sums use four accumulators on both paths); rowstat_other.go stubs them.
//	                Column sums walk a block of rows at a time (colSumBlocks, which
//	                prefetches the block four ahead: the strips do not stream) and
//	                layernorm's statistics take four rows side by side (lnSums4AVX2,
//	                TestLayerNormRowsSideBySide): each sum's order is unchanged
//	binf32_amd64.s  float32 add, sub and mul of unit-stride operands (binaryInner: the
//	                elementwise ops and fused bodies), bit for bit the scalar loop
//	                (TestBinaryF32Vector)
//	expsum2_amd64.s expSumAVX2 for two rows side by side (TestExpSum2), and
//	                softmaxRowsAVX2, attention's softmax of an item's rows in one
//	                call, two rows' exp chains interleaved: the bits of the
//	                per-row steps (TestAttentionSoftmaxRows)
//	gelu2_amd64.s   GELU (erf form) and its backward, two interleaved vectors
//	                at a time (geluVecAVX2): erfc(|x|/√2)/2 = t·Q(t)·exp(-x²/2),
//	                t = 1/(1+0.3·|x|/√2), Q of degree 8, -x²/2 split exactly by an
//	                FMA for exp; the derivative Φ(x) + x·φ(x) reuses that one exp.
//	                Every element takes the kernel (the last n mod 16 from a padded
//	                copy), so its bits do not depend on where a range starts
//	                (TestGeluVecModes; TestGeluAccuracy bounds the error against
//	                float64 over the whole float range). A gelu forward whose x a
//	                gelu_backward shares also writes the derivative, and that
//	                backward is the product dy·GELU'(x) (shareGeluPhi,
//	                elementwise.go; TestGeluSharedPhi*: the unlinked bits), and
//	                the bias gradient summed over its rows moves into that backward
//	                (fuseGeluBiasGrad, TestGeluBiasGrad*: the reduce_to's bits)
//	gelu_fold.go    a linked GELU pair inside the products beside it
//	                (foldGeluProducts): the forward in the epilogue (Params.Tile) of
//	                the product computing its x, which writes gelu(x) and GELU'(x)
//	                and never stores x; the backward in the epilogue of the product
//	                computing its dy (dy·GELU'(x) written in the backward's place;
//	                the product moves down to that place where the storage allows;
//	                a reduce_to of it stays its own step). W4: both blocks, W5:
//	                block 1; the same bits (TestGeluFold*)
//	layernorm_fold.go a layernorm forward inside the product that computes its x or a
//	                term of its residual add (foldLayerNormProducts): the epilogue
//	                (lnTile) runs the layernorm's own rows (the add, statistics, result)
//	                on each block of whole rows once it is final; rows it could not do
//	                (a block of part of a row) are left to the layernorm's step; a result
//	                the arena put in the product's operand's slot moves out of the arena
//	                (moveOutOfArena: W5's frozen norm1). W4 and W5: all 4; the same bits
//	                (TestLayerNormFold*)
//	layernorm_back.go layernorm_backward_input, _weight and the bias gradient reduce_to(dy)
//	                on one x and dy as one pass over fixed blocks of rows (64 of 128; lnBackward:
//	                dx's own row code, lnBackSumsAVX2 adding x̂·dy and dy into the block's
//	                float64 column sums, the blocks added in order: the same bits on any
//	                core count, the weight and bias gradients' last bits differ from the
//	                ops apart); a dy broadcast along rows (mean pooling's gradient) is
//	                read from a copy of its source (fuseLayerNormBackward,
//	                TestLayerNormBackwardFused*)
//	attention.go    fused attention: per head, scores in a cached scratch block between two
//	                products; with AVX2 the products run on attention_amd64.s's 6×16
//	                tiles that read q, the scores and the transposed ds/p in place (no
//	                packing; kᵀ and vᵀ transposed once per head), the FMA chains of
//	                gemm's kernel: the same bits as gemm.Sgemm (TestAttentionTiles);
//	                an attention_backward takes the weights kept by the forward its dy
//	                depends on (up to 32 MiB per layer) instead of computing them
//	                again (shareAttentionWeights, TestAttentionSharedWeights); an
//	                attention_backward used only by its products computes dq, dk and dv
//	                item by item while the item's p and ds are in cache, instead of
//	                writing [p | ds] for three more passes (shareAttentionProducts,
//	                TestAttentionSharedProducts; same bits), into the product's own
//	                buffer, moved out of the arena, where the product's value has
//	                its own slot (TestAttentionDirectProducts); each item asks
//	                for the next one's head rows (prefetchRows);
//	                with strided heads the backward copies an item's rows of dy and
//	                of its products' operands together first (their rows fall in the
//	                same few L1 sets; TestAttentionPackedOperands), its score
//	                gradients take four rows' dots at a time (TestAttentionDsRows)
//	int8.go         Options.Int8: products x·Wᵀ with an int8 weight run on a gemm.QJob
//	                (input quantized, dequantize/bias/activation in the epilogue);
//	                Options.Observe: the calibration hook of post-training quantization
//	conv_int8.go    Options.Int8 for ungrouped conv2d: padded u8 input, im2col into
//	                gemm.QConv's pixel panels (channel-major: NCHW rows, no
//	                transpose; conv_int8_amd64.s: 8 pixels at a time), or into a
//	                QJob's packed rows for other activations
//	int8region.go   int8 regions: bias/relu folded into int8 convolutions, activations
//	                kept in uint8 between int8 layers (through reshapes and maxpool2d),
//	                every int8 kernel planned once (no allocation per run)
//
// # Adding a kernel
//
//  1. In the file of its family, write a struct implementing kernel
//     (run() error) and, if it splits work, parallel.Ranger (Range(lo,
//     hi)) so parFor can hand it to the pool without allocating.
//  2. Write its builder, func(c *compileCtx, v *ir.Value) (kernel,
//     error): take buffers with c.buf, work out every index and stride
//     once, allocate any scratch here, and return unsupported(v, t) for
//     dtypes it does not handle (Compile then fails with that message).
//  3. Register it in the file's init: register(buildXxx, ir.OpXxx). An
//     elementwise op needs no kernel of its own (it runs the table's
//     arithmetic); a faster loop goes in elementwiseKernels, and, to run
//     inside fused bodies too, in instrExec.
//  4. Add cases to opCases in ops_test.go, including broadcasting and
//     integer variants where the op takes them; TestOps compares each
//     with ir/eval under both planner modes and 1 and 2 threads, and
//     TestEveryOpHasKernel fails until every op of ir.Ops() has a kernel
//     and a case.
//  5. run must not allocate: TestZeroAllocs checks whole training steps.
//
// Tests: go test ./backend/cpu (per-op cases, every example's training
// step against ir/eval before and after the ir pipeline, learning,
// determinism, zero allocations). Benchmarks: go test ./backend/cpu
// -run - -bench TrainStep (samples/s).
package cpu
