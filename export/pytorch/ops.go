package pytorch

// This file implements the table of built-ins: how each entry of the
// compiler's catalog is written in PyTorch, or why it has no form in
// model.py (it lives in train.py, or encc prepares it before export).

import (
	"fmt"
	"strings"

	"github.com/encc-lang/encc/compiler"
)

// A call is a built-in call being rendered: its arguments bound by name
// to Python expressions (absent: the default), and its variadic rest.
type call struct {
	name  string
	args  map[string]string // argument name → Python expression
	kinds map[string]kind   // argument name → kind of the expression
	rest  []string
	dev   string // an expression whose .device new tensors use
}

// arg returns the Python expression of argument name, or def when the
// call leaves it out.
func (c *call) arg(name, def string) string {
	if s, ok := c.args[name]; ok {
		return s
	}
	return def
}

func (c *call) has(name string) bool { _, ok := c.args[name]; return ok }

// A form is how one built-in is written in PyTorch. py renders a call
// (a layer's constructor, a function's call); where py is nil, reason
// says where the built-in is handled instead, or why it cannot be.
type form struct {
	py     func(c *call) string
	reason string
	// unsupported marks a built-in the exporter cannot translate: using
	// it is a positioned error that names it.
	unsupported bool
}

func fn(f func(c *call) string) form { return form{py: f} }

func elsewhere(why string) form { return form{reason: why} }

// torchUnary is a unary function: a torch function on tensors, math on
// numbers (a hyper-parameter computed at construction).
func torchUnary(torch, py string) form {
	return fn(func(c *call) string {
		if c.kinds["x"] != kTensor {
			return py + "(" + c.args["x"] + ")"
		}
		return torch + "(" + c.args["x"] + ")"
	})
}

// dims renders axis arguments: an int or a list of ints.
func dims(s string) string {
	if strings.HasPrefix(s, "[") {
		return "(" + strings.TrimSuffix(strings.TrimPrefix(s, "["), "]") + ",)"
	}
	return s
}

func reduce(method string) form {
	return fn(func(c *call) string {
		x := c.args["x"]
		ax, has := c.args["axis"]
		if !has || ax == "[]" {
			if c.arg("keepdims", "False") == "True" {
				return fmt.Sprintf("%s.%s(dim=tuple(range(%s.dim())), keepdim=True)", x, method, x)
			}
			return x + "." + method + "()"
		}
		kd := ""
		if c.has("keepdims") {
			kd = ", keepdim=" + c.args["keepdims"]
		}
		return fmt.Sprintf("%s.%s(dim=%s%s)", x, method, dims(ax), kd)
	})
}

// classes renders a class loss over [..., C] logits and [...] labels.
func classes(f string) form {
	return fn(func(c *call) string {
		in, tg := c.args["input"], c.args["target"]
		ls := ""
		if c.has("label_smoothing") {
			ls = ", label_smoothing=" + c.args["label_smoothing"]
		}
		return fmt.Sprintf("%s(%s.flatten(0, -2), %s.flatten().long()%s)", f, in, tg, ls)
	})
}

// formOf returns the PyTorch form of catalog entry e: its row of forms,
// else, for an entry that names the PyTorch function with its own
// arguments (compiler.Entry.Torch), a call of that function
// with the first input and the arguments given by keyword.
func formOf(e *compiler.Entry) (form, bool) {
	if f, ok := forms[e.Name]; ok {
		return f, true
	}
	if e.Torch == "" || len(e.In) == 0 {
		return form{}, false
	}
	return fn(func(c *call) string {
		parts := []string{c.args[e.In[0].Name]}
		for _, p := range e.Params {
			if s, ok := c.args[p.Name]; ok {
				parts = append(parts, p.Name+"="+s)
			}
		}
		return e.Torch + "(" + strings.Join(parts, ", ") + ")"
	}), true
}

// forms maps catalog entries to their PyTorch forms; an entry that names
// its PyTorch function (compiler.Entry.Torch) needs no row.
// TestEveryBuiltinHasForm checks that none is missing.
var forms = map[string]form{
	// Layers: constructors in __init__; calls are self.name(x).
	"Linear": fn(func(c *call) string {
		return fmt.Sprintf("nn.Linear(%s, %s%s)", c.args["in"], c.args["out"], kw(c, "bias", "bias"))
	}),
	"Conv2d":      convForm("nn.Conv2d"),
	"Conv1d":      convForm("nn.Conv1d"),
	"RNN":         recurrentForm("nn.RNN"),
	"GRU":         recurrentForm("nn.GRU"),
	"LSTM":        recurrentForm("nn.LSTM"),
	"BatchNorm1d": batchNormForm("nn.BatchNorm1d"),
	"BatchNorm2d": batchNormForm("nn.BatchNorm2d"),
	"Embedding":   fn(func(c *call) string { return fmt.Sprintf("nn.Embedding(%s, %s)", c.args["num"], c.args["dim"]) }),
	"LayerNorm":   fn(func(c *call) string { return fmt.Sprintf("nn.LayerNorm(%s%s)", c.args["d"], kw(c, "eps", "eps")) }),
	"Dropout":     fn(func(c *call) string { return fmt.Sprintf("nn.Dropout(%s)", c.arg("p", "0.5")) }),

	// Functions.
	"relu": fn(func(c *call) string { return "torch.relu(" + c.args["x"] + ")" }),
	"tanh": torchUnary("torch.tanh", "math.tanh"),
	"sigmoid": fn(func(c *call) string {
		if c.kinds["x"] != kTensor {
			return "1 / (1 + math.exp(-(" + c.args["x"] + ")))"
		}
		return "torch.sigmoid(" + c.args["x"] + ")"
	}),
	"exp":  torchUnary("torch.exp", "math.exp"),
	"log":  torchUnary("torch.log", "math.log"),
	"sqrt": torchUnary("torch.sqrt", "math.sqrt"),
	"abs":  torchUnary("torch.abs", "abs"),
	"silu": fn(func(c *call) string { return "F.silu(" + c.args["x"] + ")" }),
	"gelu": fn(func(c *call) string {
		if c.has("approximate") {
			return fmt.Sprintf("F.gelu(%s, approximate=%s)", c.args["x"], c.args["approximate"])
		}
		return "F.gelu(" + c.args["x"] + ")"
	}),
	"leaky_relu": fn(func(c *call) string { return fmt.Sprintf("F.leaky_relu(%s, %s)", c.args["x"], c.arg("slope", "0.01")) }),
	"softmax": fn(func(c *call) string {
		return fmt.Sprintf("torch.softmax(%s, dim=%s)", c.args["x"], c.arg("axis", "-1"))
	}),
	"log_softmax": fn(func(c *call) string {
		return fmt.Sprintf("torch.log_softmax(%s, dim=%s)", c.args["x"], c.arg("axis", "-1"))
	}),
	"sum":       reduce("sum"),
	"mean":      reduce("mean"),
	"max":       reduce("amax"),
	"argmax":    fn(func(c *call) string { return fmt.Sprintf("%s.argmax(dim=%s)", c.args["x"], c.arg("axis", "-1")) }),
	"transpose": fn(func(c *call) string { return c.args["x"] + ".transpose(-2, -1)" }),
	"permute":   fn(func(c *call) string { return fmt.Sprintf("%s.permute(%s)", c.args["x"], strings.Join(c.rest, ", ")) }),
	"reshape":   fn(func(c *call) string { return fmt.Sprintf("%s.reshape(%s)", c.args["x"], strings.Join(c.rest, ", ")) }),
	"flatten":   fn(func(c *call) string { return fmt.Sprintf("torch.flatten(%s, %s)", c.args["x"], c.arg("start", "1")) }),
	"maxpool2d": fn(func(c *call) string {
		return fmt.Sprintf("F.max_pool2d(%s, %s%s%s)", c.args["x"], c.args["kernel"], strideKw(c), kw(c, "padding", "padding"))
	}),
	"avgpool2d": fn(func(c *call) string {
		return fmt.Sprintf("F.avg_pool2d(%s, %s%s%s)", c.args["x"], c.args["kernel"], strideKw(c), kw(c, "padding", "padding"))
	}),
	"maxpool1d": fn(func(c *call) string {
		return fmt.Sprintf("F.max_pool1d(%s, %s%s%s)", c.args["x"], c.args["kernel"], strideKw(c), kw(c, "padding", "padding"))
	}),
	"avgpool1d": fn(func(c *call) string {
		return fmt.Sprintf("F.avg_pool1d(%s, %s%s%s)", c.args["x"], c.args["kernel"], strideKw(c), kw(c, "padding", "padding"))
	}),
	"dropout": fn(func(c *call) string { return fmt.Sprintf("F.dropout(%s, %s, self.training)", c.args["x"], c.args["p"]) }),
	"concat": fn(func(c *call) string {
		return fmt.Sprintf("torch.cat([%s], dim=%s)", strings.Join(c.rest, ", "), c.arg("axis", "-1"))
	}),
	"where": fn(func(c *call) string {
		return fmt.Sprintf("torch.where(%s, %s, %s)", c.args["cond"], asTensor(c, "a"), asTensor(c, "b"))
	}),
	"arange": fn(func(c *call) string { return fmt.Sprintf("torch.arange(%s, device=%s.device)", c.args["n"], c.dev) }),
	"sinusoidal": fn(func(c *call) string {
		return fmt.Sprintf("sinusoidal(%s, %s, %s.device)", c.args["n"], c.args["d"], c.dev)
	}),
	"one_hot": fn(func(c *call) string {
		return fmt.Sprintf("F.one_hot(%s.long(), %s).float()", c.args["labels"], c.args["classes"])
	}),
	"float":  fn(func(c *call) string { return c.args["x"] + ".float()" }),
	"matmul": fn(func(c *call) string { return c.args["a"] + " @ " + c.args["b"] }),
	"attention": fn(func(c *call) string {
		s := fmt.Sprintf("attention(%s, %s, %s", c.args["q"], c.args["k"], c.args["v"])
		if c.has("mask") {
			s += ", mask=" + c.args["mask"]
		}
		if c.has("scale") {
			s += ", scale=" + c.args["scale"]
		}
		if c.has("dropout") {
			s += ", dropout=" + c.args["dropout"] + ", training=self.training"
		}
		return s + ")"
	}),

	// Losses: in train.py's loss function.
	"cross_entropy": classes("F.cross_entropy"),
	"nll":           classes("F.nll_loss"),
	"mse":           fn(func(c *call) string { return fmt.Sprintf("F.mse_loss(%s, %s)", c.args["input"], c.args["target"]) }),
	"l1":            fn(func(c *call) string { return fmt.Sprintf("F.l1_loss(%s, %s)", c.args["input"], c.args["target"]) }),
	"bce_with_logits": fn(func(c *call) string {
		return fmt.Sprintf("F.binary_cross_entropy_with_logits(%s, %s)", c.args["input"], c.args["target"])
	}),
	"kl_div": fn(func(c *call) string {
		return fmt.Sprintf("F.kl_div(%s, %s, reduction=\"batchmean\")", c.args["input"], c.args["target"])
	}),
	"mlm": fn(func(c *call) string {
		return fmt.Sprintf("es.mlm(%s, %s, %s, p=%s, with_mask=%s)", c.args["model"], c.args["ids"], c.args["mask"], c.arg("p", "0.15"), c.arg("with_mask", "True"))
	}),

	// Initializers: encc writes the initial weights (init.safetensors),
	// drawn by its own initializers from the train's seed.
	"zeros":            elsewhere("initial weights are encc's, written to init.safetensors"),
	"ones":             elsewhere("initial weights are encc's, written to init.safetensors"),
	"fill":             elsewhere("initial weights are encc's, written to init.safetensors"),
	"normal":           elsewhere("initial weights are encc's, written to init.safetensors"),
	"uniform":          elsewhere("initial weights are encc's, written to init.safetensors"),
	"kaiming_uniform":  elsewhere("initial weights are encc's, written to init.safetensors"),
	"kaiming_normal":   elsewhere("initial weights are encc's, written to init.safetensors"),
	"xavier_uniform":   elsewhere("initial weights are encc's, written to init.safetensors"),
	"xavier_normal":    elsewhere("initial weights are encc's, written to init.safetensors"),
	"truncated_normal": elsewhere("initial weights are encc's, written to init.safetensors"),

	// Optimizers and schedules: train.py (torch.optim; lr_at).
	"SGD":       elsewhere("train.py: torch.optim.SGD"),
	"Adam":      elsewhere("train.py: torch.optim.Adam"),
	"AdamW":     elsewhere("train.py: torch.optim.AdamW"),
	"RMSprop":   elsewhere("train.py: torch.optim.RMSprop"),
	"constant":  elsewhere("train.py: lr_at"),
	"step":      elsewhere("train.py: lr_at"),
	"cosine":    elsewhere("train.py: lr_at"),
	"linear":    elsewhere("train.py: lr_at"),
	"warmup":    elsewhere("train.py: lr_at"),
	"one_cycle": elsewhere("train.py: lr_at"),

	// Metrics: train.py's evaluate.
	"accuracy": elsewhere("train.py: evaluate"),
	"top_k":    elsewhere("train.py: evaluate"),
	"f1":       elsewhere("train.py: evaluate"),
	"loss":     elsewhere("train.py: evaluate"),

	// Data: encc reads, splits, preprocesses and tokenizes, and writes the
	// samples (data/*.safetensors) and the vocabulary.
	"builtin":   elsewhere("data prepared by encc"),
	"csv":       elsewhere("data prepared by encc"),
	"idx":       elsewhere("data prepared by encc"),
	"jsonl":     elsewhere("data prepared by encc"),
	"synthetic": elsewhere("data prepared by encc"),
	"json_dir":  elsewhere("data prepared by encc"),
	"words":     elsewhere("data prepared by encc (vocab.json)"),
	"chars":     elsewhere("data prepared by encc (vocab.json)"),
	"standard":  elsewhere("data prepared by encc"),
	"minmax":    elsewhere("data prepared by encc"),

	// Initial weights: from() runs the other train first; load() is read
	// by encc into init.safetensors.
	"from":       elsewhere("train.py: the other train runs first (train_<name>)"),
	"load":       elsewhere("initial weights are encc's, written to init.safetensors"),
	"lora":       {reason: "a LoRA train is exported merged: encc merge folds the adapters into the base model, whose train exports", unsupported: true},
	"distill":    {reason: "distillation needs the teacher, which train.py does not run", unsupported: true},
	"int8":       elsewhere("post-training int8 quantization runs in encc after training (encc run); train.py trains the float32 model"),
	"magnitude":  {reason: "pruning in a phase runs in encc only: exporting such a train is an error at the prune field", unsupported: true},
	"structured": {reason: "structured pruning runs in encc only: exporting such a train is an error at the prune field; the smaller model it writes (a generated .enc and its checkpoint) exports like any model", unsupported: true},
	"fake_int8":  {reason: "quantization-aware training runs in encc only: exporting such a train is an error at the qat field; the int8 model it ends with exports to ONNX (QuantizeLinear/DequantizeLinear)", unsupported: true},
	"vectors":    elsewhere("initial weights are encc's, the word vectors placed by the vocabulary, written to init.safetensors"),
	"skipgram":   {reason: "a skip-gram train writes word vectors with encc's own trainer; export the train that reads them", unsupported: true},

	// repeat(n, Layer) is an nn.ModuleList (Stack).
	"repeat": elsewhere("model.py: Stack, an nn.ModuleList applied in order"),
}

// kw renders ", torch=expr" when the call gives argument name.
func kw(c *call, name, torch string) string {
	if s, ok := c.args[name]; ok {
		return ", " + torch + "=" + s
	}
	return ""
}

// recurrentForm is RNN, GRU or LSTM: PyTorch's layer of the same
// tensors (weight_ih_l0, ..., _reverse) and gate order, batch first.
// Its call is not the layer's own forward but es.recurrent (see
// recurrentCall in expr.go), which returns encc's named outputs and
// packs the padded steps of a mask.
func recurrentForm(torch string) form {
	return fn(func(c *call) string {
		return fmt.Sprintf("%s(%s, %s%s%s%s%s%s, batch_first=True)", torch, c.args["in"], c.args["hidden"],
			kw(c, "layers", "num_layers"), kw(c, "bidirectional", "bidirectional"), kw(c, "bias", "bias"),
			kw(c, "dropout", "dropout"), kw(c, "nonlinearity", "nonlinearity"))
	})
}

// convForm is Conv1d or Conv2d: the same arguments as PyTorch's.
func convForm(torch string) form {
	return fn(func(c *call) string {
		return fmt.Sprintf("%s(%s, %s, kernel_size=%s%s%s%s%s%s)", torch, c.args["in"], c.args["out"], c.args["kernel"],
			kw(c, "stride", "stride"), kw(c, "padding", "padding"), kw(c, "dilation", "dilation"), kw(c, "groups", "groups"), kw(c, "bias", "bias"))
	})
}

// batchNormForm is BatchNorm1d or BatchNorm2d; their running statistics
// are buffers of the same names, so state_dicts move either way.
func batchNormForm(torch string) form {
	return fn(func(c *call) string {
		return fmt.Sprintf("%s(%s%s%s%s)", torch, c.args["features"], kw(c, "eps", "eps"), kw(c, "momentum", "momentum"), kw(c, "affine", "affine"))
	})
}

// strideKw: encc's stride 0 means the kernel size, as PyTorch's None.
func strideKw(c *call) string {
	s, ok := c.args["stride"]
	if !ok || s == "0" {
		return ""
	}
	return ", stride=" + s
}

// asTensor makes a number argument of where a tensor on the device.
func asTensor(c *call, name string) string {
	if c.kinds[name] == kTensor {
		return c.args[name]
	}
	return fmt.Sprintf("torch.tensor(%s, device=%s.device)", c.args[name], c.args["cond"])
}
