package pytorch

// This file implements the README.md of the export folder.

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/encc-lang/encc/compiler"
)

func modelReadme(w *writer, in *compiler.Instance, hasWeights bool) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# %s in PyTorch\n\nWritten by `encc export` (encc %s) from `%s`.\n\n", in.Name(), w.o.Version, w.prog.Root.Name)
	b.WriteString("`model.py` holds one `nn.Module` per `.enc` model, with the `.enc` members as\nsubmodules: `state_dict()` keys are encc's parameter paths.\n\n```python\n")
	b.WriteString("import torch\nfrom model import " + in.Name() + "\nimport encc_support as es\n\n")
	fmt.Fprintf(&b, "model = %s\n", instanceCall(in))
	if hasWeights {
		b.WriteString("weights, _ = es.load_safetensors(\"weights.safetensors\")\nmodel.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in weights.items()})\n")
	}
	b.WriteString("model.eval()\n```\n")
	return b.String()
}

func trainReadme(w *writer, tr *compiler.Train, chain []*compiler.Train, weights string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Train %s in PyTorch\n\nWritten by `encc export` (encc %s) from `%s`.\n\n", tr.Name, w.o.Version, w.prog.Root.Name)
	b.WriteString("## Run it\n\n```sh\n")
	b.WriteString("python3 train.py                      # one process (CUDA when available; --device cpu|cuda)\n")
	b.WriteString("torchrun --nproc_per_node 4 train.py  # DistributedDataParallel: NCCL on CUDA, gloo on the CPU\n")
	b.WriteString("```\n\nWithout torchrun, start each process with the environment torchrun sets; two\nprocesses on one machine, with gloo on the CPU:\n\n```sh\n")
	b.WriteString("for r in 0 1; do\n  RANK=$r WORLD_SIZE=2 MASTER_ADDR=127.0.0.1 MASTER_PORT=29500 python3 train.py --device cpu &\ndone; wait\n```\n\n")
	fmt.Fprintf(&b, "Each epoch prints one JSON line (loss, test metrics, samples/s) and writes the\ncheckpoint `%s`, an encc checkpoint: `encc eval %s %s --weights %s` reads it,\nand `encc run --resume` continues it.\n", saveOf(tr), w.prog.Root.Name, tr.Name, filepath.Join("DIR", saveOf(tr)))
	if len(chain) > 1 {
		fmt.Fprintf(&b, "\n`%s` starts from `%s` (`init = from(...)`): when its checkpoint is missing,\ntrain.py runs it first, as `encc run` does (`python3 train.py %s` runs it alone).\n", tr.Name, chain[len(chain)-2].Name, chain[len(chain)-2].Name)
	}
	b.WriteString(`
Options: ` + "`--max-steps N`" + ` stops after N optimizer steps (and saves), ` + "`--log-steps F`" + `
appends each step's loss to F, ` + "`--init W`" + ` starts from other weights, ` + "`--save P`" + ` moves the
checkpoint, ` + "`--threads N`" + ` sets torch's CPU threads.

## What is here

| file | what |
| --- | --- |
| ` + "`model.py`" + ` | one ` + "`nn.Module`" + ` per ` + "`.enc`" + ` model; ` + "`state_dict()`" + ` keys are encc's parameter paths |
| ` + "`train.py`" + ` | the train as written: data, loss, optimizer, schedule, phases, clipping, metrics, epochs, seed, checkpoints |
| ` + "`encc_support.py`" + ` | safetensors read (memory-mapped) and write, encc's sample order, schedules, metrics, ` + "`recurrent`" + ` (the RNN/GRU/LSTM call model.py makes) |
| ` + "`data/NAME/{train,test}-*.safetensors`" + ` | the samples encc prepared (read, split, scaled, normalized, tokenized): one tensor per field |
| ` + "`data/NAME/transform.json`" + ` | the fitted preprocessing (scale, normalize), which encc's checkpoints record |
| ` + "`data/NAME/vocab.json`" + ` | the vocabulary of a text dataset (as encc saves it next to a checkpoint) |
| ` + "`init/TRAIN.safetensors`" + ` | the initial weights encc draws from the train's seed, so both start alike |
`)
	if weights != "" {
		b.WriteString("| `weights.safetensors` | trained weights (`--weights`, or the train's checkpoint) for `model.py` |\n")
	}
	b.WriteString(`
## Same numbers as encc

The batches are encc's: each epoch visits the train split in the order
encc draws for (seed, epoch) (` + "`encc_support.epoch_order`" + `), in batches of the
train's size, the last one short. Under DDP every global batch is split
into contiguous parts, one per rank (` + "`EnccSampler`" + `, a DistributedSampler), each rank's mean loss is weighted by its share,
and DDP averages the gradients, so N processes step exactly as one does
on the same global batch. Per-parameter optimizer state (Adam's step
counts) follows PyTorch, as encc does: a frozen parameter gets no gradient
and keeps its state.

## Scaling and your own data

- More GPUs or nodes: ` + "`torchrun --nnodes M --nproc_per_node N train.py`" + `; the global
  batch stays the train's ` + "`batch`" + ` (each rank takes batch/N samples). For a
  larger global batch, raise ` + "`batch`" + ` in TRAINS (and the learning rate with it).
- The data files are memory-mapped: a rank reads only the pages of the
  samples it takes, so datasets larger than memory work as they are.
  Shards are about 64 MiB; add files ` + "`train-00001.safetensors`" + `, ... with the same
  tensors (one row per sample) to grow a split.
- Your own data: write safetensors files with the same field names and
  per-sample shapes (see ` + "`loss_" + tr.Name + "`" + ` in train.py for the fields it reads), or
  replace ` + "`ShardedSamples`" + ` with any object that has ` + "`__len__`" + ` and ` + "`take(indices)`" + `
  returning a dict of tensors (for example one that streams from object
  storage and caches shards).
`)
	return b.String()
}

func saveOf(tr *compiler.Train) string {
	if tr.Save != "" {
		return tr.Save
	}
	return "runs/" + tr.Name + ".safetensors"
}
