package train

// This file implements parameter initialization from the initializers
// the compiler attaches to every parameter (PyTorch's rules).

import (
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"

	"github.com/encc-lang/encc/compiler"
)

// ParamStream is the PCG stream of the parameter at path: the 64-bit
// FNV-1a hash of the path. A parameter's initial values depend only on
// the seed and its own path, so adding or removing another parameter
// changes nothing else.
func ParamStream(path string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(path))
	return h.Sum64()
}

// InitParam returns the initial values of prm under seed: its
// initializer (Param.Init, or zeros when it has none) drawing from
// rand.NewPCG(seed, ParamStream(prm.Path)).
//
//	zeros, ones, fill(value)
//	normal(mean, std)          N(mean, std²)
//	uniform(low, high)         U(low, high)
//	kaiming_uniform(a)         U(±gain·sqrt(3/fan_in)), gain = sqrt(2/(1+a²))
//	kaiming_normal(a)          N(0, (gain/sqrt(fan_in))²)
//	xavier_uniform(gain)       U(±gain·sqrt(6/(fan_in+fan_out)))
//	xavier_normal(gain)        N(0, gain²·2/(fan_in+fan_out))
//	truncated_normal(std)      N(0, std²), redrawn outside ±2·std
//
// Linear and Conv2d weights default to kaiming_uniform(a: √5), that is
// U(±1/sqrt(fan_in)), and their biases to U(±1/sqrt(fan_in)), as in
// PyTorch.
func InitParam(prm *compiler.Param, seed uint64) ([]float32, error) {
	n := int(prm.Elements())
	out := make([]float32, n)
	cv, _ := prm.Init.(*compiler.ConfigV)
	if cv == nil {
		return out, nil
	}
	r := rand.New(rand.NewPCG(seed, ParamStream(prm.Path)))
	arg := func(name string) float64 {
		switch v := cv.Args[name].(type) {
		case compiler.FloatV:
			return v.V
		case compiler.IntV:
			return float64(v.V)
		}
		return 0
	}
	fanIn, fanOut := float64(prm.FanIn), float64(prm.FanOut)
	needFan := func(both bool) error {
		if fanIn <= 0 || (both && fanOut <= 0) {
			return fmt.Errorf("%s: %s needs the fan-in%s of the tensor, and %s has none (give it at least one dimension)",
				prm.Path, cv.E.Name, map[bool]string{true: " and fan-out"}[both], prm.Type)
		}
		return nil
	}
	uniform := func(lo, hi float64) {
		for i := range out {
			out[i] = float32(lo + (hi-lo)*r.Float64())
		}
	}
	normal := func(mean, std float64) {
		for i := range out {
			out[i] = float32(mean + std*r.NormFloat64())
		}
	}
	switch cv.E.Name {
	case "zeros":
	case "ones":
		for i := range out {
			out[i] = 1
		}
	case "fill":
		v := float32(arg("value"))
		for i := range out {
			out[i] = v
		}
	case "normal":
		normal(arg("mean"), arg("std"))
	case "uniform":
		uniform(arg("low"), arg("high"))
	case "kaiming_uniform", "kaiming_normal":
		if err := needFan(false); err != nil {
			return nil, err
		}
		a := arg("a")
		std := math.Sqrt(2/(1+a*a)) / math.Sqrt(fanIn)
		if cv.E.Name == "kaiming_uniform" {
			b := math.Sqrt(3) * std
			uniform(-b, b)
		} else {
			normal(0, std)
		}
	case "xavier_uniform":
		if err := needFan(true); err != nil {
			return nil, err
		}
		b := arg("gain") * math.Sqrt(6/(fanIn+fanOut))
		uniform(-b, b)
	case "xavier_normal":
		if err := needFan(true); err != nil {
			return nil, err
		}
		normal(0, arg("gain")*math.Sqrt(2/(fanIn+fanOut)))
	case "truncated_normal":
		std := arg("std")
		for i := range out {
			z := r.NormFloat64()
			for math.Abs(z) > 2 {
				z = r.NormFloat64()
			}
			out[i] = float32(std * z)
		}
	default:
		return nil, fmt.Errorf("%s: no initializer %s in the runtime", prm.Path, cv.E.Name)
	}
	return out, nil
}

// InitParams initializes every parameter and buffer of params under
// seed, by path.
func InitParams(params []*compiler.Param, seed uint64) (map[string][]float32, error) {
	out := make(map[string][]float32, len(params))
	for _, prm := range params {
		v, err := InitParam(prm, seed)
		if err != nil {
			return nil, err
		}
		out[prm.Path] = v
	}
	return out, nil
}
