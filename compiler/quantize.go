package compiler

// This file checks a train's quantize field: quantize = int8(...), the
// post-training int8 quantization that encc run performs after the
// train's last epoch (runtime/train/quant.go does it).

import (
	"strings"

	"github.com/encc-lang/encc/internal/diag"
	"github.com/encc-lang/encc/lang"
)

// A Quantize is a checked quantize = int8(...).
type Quantize struct {
	Pos        diag.Pos
	Save       string  // the int8 checkpoint, relative to the .enc file
	Calibrate  int     // training samples the activation ranges are measured on
	Observer   string  // "percentile" or "minmax"
	Percentile float64 // percentile observer: the range is [100−p, p] percentiles
	// Exclude holds the parameter paths that stay f32 (the exclude globs,
	// resolved).
	Exclude map[string]bool
}

var quantizeEntry = cfg("int8", KQuantize, "int8 quantizes the trained model after the train's last epoch (quantize = int8(...)): the weights of Linear and ungrouped Conv2d layers to int8, symmetric, one scale per output channel; each quantized layer's input to 7-bit unsigned with a scale and zero point measured on calibrate training samples. The percentile observer (the default) clips the rare outliers that would stretch a min/max range and coarsen every other value's step.",
	req("save", "string", "path of the int8 checkpoint (.safetensors), relative to the file"),
	p("calibrate", "int", IntV{1024}, "training samples the activation ranges are measured on"),
	p("observer", "string", StrV{"percentile"}, `"percentile" or "minmax"`),
	p("percentile", "float", FloatV{99.99}, "percentile observer: the input range is [100−p, p] percentiles"),
	p("exclude", "paths", StrV{""}, "glob(s) of weights kept in f32, e.g. \"fc3.*\""))

// trainQuantize checks quantize = int8(...).
func (c *checker) trainQuantize(tr *Train, f *lang.Field, en *env) {
	v := c.eval(f.Value, en)
	cv, good := configOf(v, KQuantize)
	if !good {
		if _, bad := v.(InvalidV); !bad {
			c.errorAt(f.Value, "quantize must be int8(save: \"model_int8.safetensors\"), got %s", describe(v))
		}
		return
	}
	q := &Quantize{Pos: cv.Pos, Save: cv.Args["save"].(StrV).V, Calibrate: int(cv.Args["calibrate"].(IntV).V),
		Observer: cv.Args["observer"].(StrV).V, Exclude: map[string]bool{}}
	q.Percentile, _ = floatOf(cv.Args["percentile"])
	ok := true
	if !strings.HasSuffix(q.Save, ".safetensors") {
		c.errorf(argPos(cv, "save"), "int8: save must be a path ending in .safetensors, got %q", q.Save)
		ok = false
	}
	if q.Calibrate <= 0 {
		c.errorf(argPos(cv, "calibrate"), "int8: calibrate must be a positive number of samples, got %d", q.Calibrate)
		ok = false
	}
	if q.Observer != "percentile" && q.Observer != "minmax" {
		c.errorf(argPos(cv, "observer"), "int8: observer must be \"percentile\" or \"minmax\", got %q", q.Observer)
		ok = false
	}
	if q.Percentile <= 50 || q.Percentile > 100 {
		c.errorf(argPos(cv, "percentile"), "int8: percentile must be in (50, 100], got %g", q.Percentile)
		ok = false
	}
	for _, pat := range pathsOf(cv.Args["exclude"]) {
		ps := matchParams(tr.Params, pat)
		if len(ps) == 0 {
			c.errorf(argPos(cv, "exclude"), "int8: exclude %q matches no parameter of %s (have: %s)", pat, tr.Model.Name(), paramList(tr.Params))
			ok = false
		}
		for _, p := range ps {
			q.Exclude[p.Path] = true
		}
	}
	if ok {
		tr.Quantize = q
	}
}
