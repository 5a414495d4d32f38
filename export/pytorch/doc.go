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
//	train.go    train.py: the train's data, loss, optimizer, schedule, phases, metrics
//	data.go     data/*.safetensors, vocab.json, init.safetensors
//	export.go   Export: the folder, written beside the target and renamed into place
//	support.py  encc_support.py, copied into the folder: safetensors I/O, encc's
//	            shuffle (PCG-DXSM), schedules, metrics, checkpoints
//
// Tests (export_test.go) run the exported code with /usr/bin/python3 and
// torch when present (skipping otherwise; failing when CI=true): forward
// parity for every example and stdlib model, 20-step training parity and
// the 1- vs 2-process loss comparison. docs/export.md is the user's page.
package pytorch
