package train

// This file implements checkpoints: safetensors files holding the
// weights by parameter path, the optimizer state by state name, and the
// position of the run in the metadata.

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/encc-lang/encc/runtime/safetensors"
)

// FormatName is the "format" metadata value of an encc checkpoint.
const FormatName = "encc"

// A Checkpoint is a saved training run, or a weights file read as one.
type Checkpoint struct {
	Weights map[string][]float32 // parameters and buffers by path
	State   map[string][]float32 // optimizer state by name (encoder.fc1.weight:exp_avg)
	Counts  map[string][]int64   // integer optimizer state: each parameter's step count (encoder.fc1.weight:step)
	Shapes  map[string][]int     // shape of every tensor above
	// NonFloat lists tensors of the file that hold integers or booleans
	// (dtype by name); they are not weights.
	NonFloat map[string]string
	Meta     Meta
}

// Meta is the metadata of an encc checkpoint. In the file every value
// is a string; Metrics and Transform are JSON and LossSum is the hex of
// the float64's bits, so a resumed run continues bit-exactly.
//
// The run's randomness is a pure function of counters: batch order of
// (seed, epoch) through data.Permute, dropout masks of (seed, step) in
// the graph, initial weights of (seed, path). So the RNG state is the
// seed and the position (epoch, batch, step); RNG records how each is
// derived.
type Meta struct {
	Format       string             // "encc"
	Train        string             // the train's name
	Phase        string             // the phase of the position
	Epoch        int                // 0-based epoch of the position (epochs done when Batch is 0)
	Batch        int                // batches of Epoch done
	Step         int                // optimizer steps done
	Epochs       int                // epochs the train declares
	Seed         int64              // the train's seed
	RNG          string             // how the run's random streams derive from the seed
	SourceSHA256 string             // SHA-256 of the .enc file that declares the train
	Metrics      map[string]float64 // the last evaluation (test split)
	LossSum      float64            // the partial epoch: Σ batch loss × batch size
	LossN        int                // the partial epoch: samples trained
	Transform    string             // the fitted preprocessing (data.Transform JSON)
	// A LoRA train's checkpoint holds only what was trained; the rest is
	// the base: the train's init file (Base, relative to the checkpoint's
	// folder when under it) with this SHA-256 (lora.go).
	Base       string
	BaseSHA256 string
}

// rngDescription is Meta.RNG of every checkpoint this runtime writes.
const rngDescription = "pcg-counter: shuffle=Permute(seed, StreamEpoch^epoch) dropout=(seed, step) init=PCG(seed, fnv64a(path))"

func (m *Meta) encode() map[string]string {
	metrics, _ := json.Marshal(jsonMetrics(m.Metrics))
	md := map[string]string{
		"format":        m.Format,
		"train":         m.Train,
		"phase":         m.Phase,
		"epoch":         strconv.Itoa(m.Epoch),
		"batch":         strconv.Itoa(m.Batch),
		"step":          strconv.Itoa(m.Step),
		"epochs":        strconv.Itoa(m.Epochs),
		"seed":          strconv.FormatInt(m.Seed, 10),
		"rng":           m.RNG,
		"source_sha256": m.SourceSHA256,
		"metrics":       string(metrics),
		"loss_sum":      strconv.FormatUint(math.Float64bits(m.LossSum), 16),
		"loss_n":        strconv.Itoa(m.LossN),
		"transform":     m.Transform,
	}
	if m.BaseSHA256 != "" {
		md["base"], md["base_sha256"] = m.Base, m.BaseSHA256
	}
	return md
}

// jsonMetrics replaces non-finite values (no test split) by nil.
func jsonMetrics(m map[string]float64) map[string]any {
	out := map[string]any{}
	for k, v := range m {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			out[k] = nil
		} else {
			out[k] = v
		}
	}
	return out
}

func decodeMeta(path string, md map[string]string) (Meta, error) {
	m := Meta{Format: md["format"], Train: md["train"], Phase: md["phase"], RNG: md["rng"],
		SourceSHA256: md["source_sha256"], Transform: md["transform"], Base: md["base"], BaseSHA256: md["base_sha256"]}
	if m.Format != FormatName {
		return m, nil
	}
	bad := func(key string, err error) error {
		return fmt.Errorf("%s: corrupt checkpoint: metadata %s = %q: %v", path, key, md[key], err)
	}
	ints := []struct {
		key string
		dst *int
	}{{"epoch", &m.Epoch}, {"batch", &m.Batch}, {"step", &m.Step}, {"epochs", &m.Epochs}, {"loss_n", &m.LossN}}
	for _, f := range ints {
		v, err := strconv.Atoi(md[f.key])
		if err != nil || v < 0 {
			if err == nil {
				err = fmt.Errorf("negative")
			}
			return m, bad(f.key, err)
		}
		*f.dst = v
	}
	var err error
	if m.Seed, err = strconv.ParseInt(md["seed"], 10, 64); err != nil {
		return m, bad("seed", err)
	}
	bits, err := strconv.ParseUint(md["loss_sum"], 16, 64)
	if err != nil {
		return m, bad("loss_sum", err)
	}
	m.LossSum = math.Float64frombits(bits)
	if s := md["metrics"]; s != "" {
		var raw map[string]*float64
		if err := json.Unmarshal([]byte(s), &raw); err != nil {
			return m, bad("metrics", err)
		}
		m.Metrics = map[string]float64{}
		for k, v := range raw {
			if v == nil {
				m.Metrics[k] = math.NaN()
			} else {
				m.Metrics[k] = *v
			}
		}
	}
	return m, nil
}

// SaveCheckpoint writes c to path atomically (a temporary file renamed
// over path), creating the directory. The tensors are written from c's
// slices as they are, without a copy (a checkpoint of a run would
// otherwise hold the weights and optimizer state twice more, at the end
// of every epoch).
func SaveCheckpoint(path string, c *Checkpoint) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	var ts []*safetensors.Tensor
	for _, m := range []map[string][]float32{c.Weights, c.State} {
		for name, v := range m {
			ts = append(ts, safetensors.Float32View(name, c.Shapes[name], v))
		}
	}
	for name, v := range c.Counts {
		ts = append(ts, safetensors.Int64View(name, c.Shapes[name], v))
	}
	sort.Slice(ts, func(i, j int) bool { return ts[i].Name < ts[j].Name })
	if err := safetensors.Write(path, ts, c.Meta.encode()); err != nil {
		return fmt.Errorf("cannot write checkpoint: %w", err)
	}
	return nil
}

// LoadCheckpoint reads a safetensors file. Tensors whose name holds a
// colon are optimizer state in an encc checkpoint; every other tensor is
// a weight. Floating-point tensors of any width are converted to f32.
// A truncated or corrupt file is an error naming the file.
func LoadCheckpoint(path string) (*Checkpoint, error) {
	f, err := safetensors.Read(path)
	if err != nil {
		if os.IsNotExist(err) {
			return nil, fmt.Errorf("%s: no such checkpoint", path)
		}
		return nil, fmt.Errorf("cannot read checkpoint: %w", err)
	}
	meta, err := decodeMeta(path, f.Metadata)
	if err != nil {
		return nil, err
	}
	c := &Checkpoint{Weights: map[string][]float32{}, State: map[string][]float32{}, Counts: map[string][]int64{},
		Shapes: map[string][]int{}, NonFloat: map[string]string{}, Meta: meta}
	for _, t := range f.Tensors {
		c.Shapes[t.Name] = t.Shape
		if meta.Format == FormatName && strings.HasSuffix(t.Name, ":step") && t.DType != safetensors.I64 {
			return nil, fmt.Errorf("%s: optimizer step count %s is %s%v; encc writes step counts as I64", path, t.Name, t.DType, t.Shape)
		}
		if meta.Format == FormatName && strings.Contains(t.Name, ":") && t.DType == safetensors.I64 {
			v := make([]int64, t.NumElements())
			for i := range v {
				v[i] = int64(binary.LittleEndian.Uint64(t.Data[8*i:]))
			}
			c.Counts[t.Name] = v
			continue
		}
		if t.DType == safetensors.I64 && strings.HasSuffix(t.Name, "num_batches_tracked") && t.NumElements() == 1 {
			// PyTorch's BatchNorm counter (int64); encc keeps it as an f32 buffer.
			c.Weights[t.Name] = []float32{float32(int64(binary.LittleEndian.Uint64(t.Data)))}
			continue
		}
		switch t.DType {
		case safetensors.F32, safetensors.F16, safetensors.BF16, safetensors.F64:
		default:
			c.NonFloat[t.Name] = string(t.DType)
			continue
		}
		v, err := t.Float32()
		if err != nil {
			return nil, fmt.Errorf("%s: tensor %s: %v", path, t.Name, err)
		}
		if err := checkFinite(path, t.Name, v); err != nil {
			return nil, err
		}
		if meta.Format == FormatName && strings.Contains(t.Name, ":") {
			c.State[t.Name] = v
		} else {
			c.Weights[t.Name] = v
		}
	}
	return c, nil
}

// sourceHash returns the hex SHA-256 of a file's text.
func sourceHash(text []byte) string {
	h := sha256.Sum256(text)
	return hex.EncodeToString(h[:])
}
