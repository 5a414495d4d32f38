// Package pytorch exports a checked .enc program to PyTorch: `encc
// export FILE [TRAIN|MODEL] --to pytorch -o DIR` writes a self-contained
// Python folder whose model.py holds one nn.Module per .enc model (the
// .enc tree as submodules, so state_dict keys are encc's parameter
// paths), whose train.py trains it as the .enc train says (one process,
// or DistributedDataParallel under torchrun), with encc's prepared data
// as sharded safetensors files.
//
// Where to begin: Export (export.go) writes the folder. The files:
//
//	ops.go      forms: every catalog built-in's PyTorch form, or where it lives instead
//	model.go    model.py: classes, __init__ from members, forward from statements
//	expr.go     expressions: names, operators, pipes, calls through the forms
//	train.go    train.py's generated part: loss functions and TRAINS
//	train_py.go train.py's fixed part: DDP setup, the loop, evaluation, checkpoints
//	data.go     data/*.safetensors and the weights files
//	readme.go   the folder's README.md
//	export.go   Export: the folder, written beside the target and renamed into place
//	support.py  encc_support.py, copied into the folder: safetensors I/O, encc's
//	            shuffle (PCG-DXSM), EnccSampler, schedules, metrics, mlm, and
//	            recurrent (the RNN/GRU/LSTM call model.py makes)
//
// Tests run the exported code with /usr/bin/python3 (or $ENCC_PYTHON)
// and torch when present, skipping otherwise and failing when CI=true:
// parity_test.go, forward parity for every example and stdlib model;
// train_test.go, 20-step training parity, resuming in encc and mlm;
// ddp_test.go, 2 gloo processes against 1; ops_test.go, the table
// against the catalog. docs/export.md is the user's page.
package pytorch
