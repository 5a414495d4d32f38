package pytorch

// This file implements the data of the export folder: the samples encc
// prepared (read, split, preprocessed, tokenized) as sharded safetensors
// files, the vocabulary, and the initial weights.

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/encc-lang/encc/compiler"
	"github.com/encc-lang/encc/runtime/data"
	"github.com/encc-lang/encc/runtime/safetensors"
)

// shardBytes is the target size of one data shard.
const shardBytes = 64 << 20

// writeSplit writes the samples of d as dir/NAME-00000.safetensors, ...,
// each a contiguous slice of samples with one tensor per field (typed as
// the program types it: a bool mask as BOOL). It returns the files.
func writeSplit(dir, name string, d *data.Dataset, ds *compiler.Dataset) ([]string, error) {
	per := 0
	for _, f := range d.Fields {
		per += f.Size() * 4
	}
	rows := max(1, shardBytes/max(per, 1))
	var files []string
	for start, i := 0, 0; start < d.N || (d.N == 0 && i == 0); start, i = start+rows, i+1 {
		end := min(d.N, start+rows)
		var ts []*safetensors.Tensor
		for _, f := range d.Fields {
			shape := append([]int{end - start}, f.Shape...)
			sz := f.Size()
			typ := ""
			if df, ok := ds.Field(f.Name); ok {
				typ = df.Type.DType
			}
			switch {
			case f.F32 != nil || f.U8 != nil:
				ts = append(ts, safetensors.FromFloat32(f.Name, shape, f.Samples(start, end)))
			case typ == "bool":
				b := make([]byte, (end-start)*sz)
				for j, v := range f.I32[start*sz : end*sz] {
					if v != 0 {
						b[j] = 1
					}
				}
				ts = append(ts, &safetensors.Tensor{Name: f.Name, DType: safetensors.Bool, Shape: shape, Data: b})
			default:
				ts = append(ts, safetensors.FromInt32(f.Name, shape, f.I32[start*sz:end*sz]))
			}
		}
		file := fmt.Sprintf("%s-%05d.safetensors", name, i)
		if err := safetensors.Write(filepath.Join(dir, file), ts, map[string]string{"split": name, "first": fmt.Sprint(start)}); err != nil {
			return nil, err
		}
		files = append(files, file)
		if d.N == 0 {
			break
		}
	}
	return files, nil
}

// writeWeights writes weights by path with their parameters' shapes.
func writeWeights(path string, params []*compiler.Param, w map[string][]float32) error {
	var ts []*safetensors.Tensor
	for _, p := range params {
		v, ok := w[p.Path]
		if !ok {
			continue
		}
		var shape []int
		for _, d := range p.Type.Dims {
			k, _ := d.Const()
			shape = append(shape, int(k))
		}
		ts = append(ts, safetensors.FromFloat32(p.Path, shape, v))
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return safetensors.Write(path, ts, map[string]string{"format": "pt"})
}
