// Package compiler checks .enc programs: it resolves names across files,
// imports and the stdlib prelude, evaluates hyper-parameters and consts,
// instantiates models into a parameter tree with PyTorch-style dotted
// names, infers tensor shapes symbolically, and checks datasets and
// trains. The same evaluator, with a lowerer attached, emits the IR.
//
// Where to begin: Check (check.go) parses a file and returns a *Program
// and a diag.List. From a Program, Models[i].Default is a model
// instantiated with its default hyper-parameters, Trains are the checked
// train declarations, ForwardInputs gives the checked input types of a
// model's forward, Summarize gives the rows of `encc summary`, and
// LowerStep, LowerGrad, LowerEval and LowerForward give IR graphs.
// README.md in this directory explains the key concepts and how to add
// a built-in.
//
// The files, in the order a program flows through them:
//
//	check.go     Check and CheckFile; files, imports, scopes, consts, keywords
//	resolve.go   name resolution in models that nothing instantiates
//	value.go     the values of evaluation: ints, dims, tensors, layers, instances
//	types.go     TensorType: a dtype and symbolic dimensions, printed as f32[B, 64]
//	dim.go       Dim: normalized integer polynomials over dimension variables
//	eval.go      expressions: arithmetic, |>, member access, indexing, repeat
//	repeat.go    repeat's copies after the second: clones of it (what the first two share is kept)
//	model.go     instantiation, hyper-parameters, members, param/buffer, types in source
//	forward.go   calls: of models, instances (memoized forward checks), stacks, built-ins; ForwardInputs
//	builtin.go   Entry, argument binding and coercion, calls of catalog entries
//	catalog.go   every built-in layer, function, loss, optimizer, schedule, metric, source:
//	             arguments, shape rule and lowering, documentation
//	text.go      the transformer built-ins: attention and the masked-token loss (mlm)
//	recurrent.go the recurrent layers RNN, GRU and LSTM, unrolled over time when lowering
//	tensor.go    shape rules and lowerings of operators: broadcasting, matmul, permute, indexing
//	train.go     dataset and train declarations, phases, freeze paths, from()/load()
//	lora.go      lora = lora(...) in a train: adapter parameters, frozen base, adapted Linear lowering
//	distill.go   teacher = from(train) or load(file, model:) and the distill loss
//	prune.go     prune = magnitude(...) and prune = structured(...) in a phase
//	qat.go       qat = fake_int8(...) in a phase: fake-quantized Linear lowering
//	datafiles.go the little read from data files at check time (IDX and CSV headers)
//	vectors.go   word vectors: skipgram trains (VectorsTrain), init = vectors(...) and its
//	             dimension check, stop_words
//	summary.go   Program.Summarize: the per-layer table of `encc summary`
//	describe.go  hover text for the LSP: Describe, parameter counts
//	lower.go     the lowerer: graph inputs, parameters, dropout salts, positioned
//	             errors, and the entry points LowerStep, LowerGrad, LowerEval, LowerForward
//	trace.go     the data flow between a summary's rows (what each layer call reads)
//	memory.go    Program.Memory: the memory columns and totals of `encc summary`
//	graph.go     Summary.Dot: the model diagram of `encc graph`
//
// Tests: check_test.go runs examples/ and testdata/errors/ of the
// repository; params_test.go pins parameter counts and names against
// PyTorch and times BERT-base; diag_test.go compares the golden
// diagnostics of testdata/diag/*.txtar (go test ./compiler -update, or
// ENCC_UPDATE=1, rewrites them); lower_test.go lowers a use of every
// tensor built-in and every optimizer of the catalog; passes_test.go runs
// the IR passes on the examples' training steps; attention_test.go and
// gorgonia_test.go check gradients against finite differences and
// Gorgonia; text_test.go and frozen_test.go check the lowered text models
// and frozen phases; lora_test.go and distill_test.go check that LoRA and
// a teacher add no weight gradient and no teacher backward;
// recurrent_test.go checks the recurrent layers' gradients by finite
// differences and measures their unrolled graphs; repeat_test.go checks
// that repeat's clones give what evaluating every copy gives; fuzz_test.go
// holds FuzzCheck.
package compiler
