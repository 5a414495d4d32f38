// Package train runs the trains of an .enc program: the training loop,
// fine-tuning schedules, checkpoints, evaluation and inference. cmd/encc
// is a thin layer over it:
//
//	encc run FILE [TRAIN]          Run(ctx, p, tr, Options{...}); WritePlot for --plot (PNG or SVG)
//	encc eval FILE TRAIN --weights Eval(p, tr, weights, opts)
//	encc predict FILE MODEL ...    Predict(p, model, weights, input, out.csv, opts)
//	encc embed FILE MODEL ...      Embed(p, model, at, weights, input, opts); Embeddings.Write, WritePCAPlot
//	encc run FILE WORD_VECTORS     RunVectors(ctx, p, vt, opts): skip-gram (vectors.go)
//	encc merge FILE TRAIN -o OUT   MergeFile(tr, checkpoint, out)
//	encc run FILE --model M --random N
//	                               RandomForward(p, inst, N, seed, opts), Tensor.Format
//
// # The loop
//
// [Run] reads the dataset (paths relative to the .enc file), splits it
// with the dataset's seed and fits scale/normalize on the train split
// only (runtime/data). A text source (csv text:, jsonl, json_dir) is
// split and tokenized by data.TextSplits, its vocabulary built on the
// train split and saved next to the checkpoint ([VocabPath]:
// runs/x.safetensors → runs/x.vocab.json) for [Predict]; synthetic(...)
// draws from the dataset's seed. A graph input typed bool (a padding
// mask) is fed from the i32 0/1 field of that name, converted before
// every run of the program. A CSV label is checked against the number
// of class scores the loss takes. It initializes every parameter from its
// initializer ([InitParam]: PyTorch's rules, each parameter drawing from
// its own PCG stream of (train seed, path)), then applies init: from(...)
// runs the other train first when its checkpoint is missing, older than
// a source file or stopped early, and load(...) reads a safetensors file
// with only:, rename: and split: (the mapping of runtime/weights,
// [LoadSpecOf], [FitWeights]). A file that does not fit is rejected
// before the first step with one [FitError] listing missing, unexpected
// and mis-shaped tensors.
//
// Each phase lowers its training-step graph (compiler.Program.LowerStep:
// frozen parameters are neither differentiated nor updated) and compiles
// it on the backend, once per (phase, batch size): the last short batch
// of an epoch is kept and gets its own program. Parameters and optimizer
// state live in the trainer's storage, bound to every program, and
// updated in place. Per step the trainer sets lr (the [Schedule] of the
// phase's span), step (1-based over the run), seed (dropout) and the
// lr_scale inputs. After each epoch it evaluates the test split with
// the evaluation graph (no dropout) and the train's metrics (accuracy,
// top_k, macro f1, loss), reports, and writes the checkpoint.
//
// # Reports
//
// On a terminal, a one-line progress bar (epoch, batch, loss,
// samples/s, ETA) redrawn with \r and a summary line per epoch;
// otherwise, or with Options.JSON, one JSON object per epoch
// ([EpochJSON]): train, phase, epoch, epochs, step, loss, test_loss, the
// metrics, samples_per_sec, seconds. Notes (resuming, running another
// train first) go to Options.Log, or Out without one.
//
// # Checkpoints
//
// A checkpoint ([SaveCheckpoint], atomic: a temporary file renamed over
// the old one, written from the run's slices without a copy) holds the weights by parameter path, the optimizer state
// by state name (encoder.fc1.weight:exp_avg) and [Meta]: the train, the
// position (epoch, batch, step), the seed, how every random stream
// derives from it, the SHA-256 of the source, the last metrics, the
// partial epoch's loss sums and the fitted preprocessing. All randomness
// is a function of (seed, counters), so Options.Resume continues
// bit-exactly: 2 epochs then 2 resumed write the same bytes as 4
// straight. Cancelling the context finishes the current step, saves the
// exact position and returns an [InterruptedError] (the CLI exits 130).
// A NaN or infinity in the loss, a trained parameter or its optimizer
// state stops the run with a [NonFiniteError] naming the step (or the
// steps since the last scan) and the tensor. The loss is checked after
// every step; the weights and optimizer state when the loss is not
// finite, at the end of every epoch and before every checkpoint, so no
// checkpoint holds a non-finite tensor and no step pays for a scan.
//
// A LoRA train (lora.go) saves only what it trains (adapters, the
// parameters under lora's train:, their state) plus the path and
// SHA-256 of its base file (Meta.Base, Meta.BaseSHA256); [TrainWeights]
// rebuilds the rest from [InitialWeights] (the initializers and the
// train's init) and [Merge] folds the adapters into plain weights, which
// [ModelWeights] gives predict and export. A distillation train
// (distill.go) reads its teacher's weights from the teacher train's
// checkpoint or the teacher's file ([TeacherWeights]) and binds them as
// constants: never
// updated, never saved with the student.
//
// Compression: a phase's prune = magnitude(...) (prune.go) masks weights;
// prune = structured(...) (structured.go) masks whole units, then writes
// the smaller dense model ([StructuredResult]: a checkpoint and a
// generated .enc, the model's hyper-parameters found by checking the file
// again with compiler.Options.Resize); quantize = int8(...) (quant.go)
// writes an int8 checkpoint after the run, with the activation ranges of
// a phase's qat = fake_int8(...) when it ran (qat.go); [Int8Tensors]
// reads one for exporters.
//
// # Backends
//
// The loop drives an [Executor], the method set of *cpu.Program. The
// CPU backend (the IR pipeline, then backend/cpu) is the default; the
// "reference" device runs graphs with ir/eval, slowly and exactly, for
// tests and for checking the CPU backend; "cuda" runs them with
// backend/cuda, in a build with the cuda tag (without it, compiling
// returns cuda.ErrNoCUDA, which says so: see [CUDAAvailable]).
package train
