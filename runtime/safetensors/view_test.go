package safetensors

import (
	"bytes"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// TestViewsWriteTheSameBytes: a file written from views of float32 and
// int64 slices is byte for byte the one written from copies.
func TestViewsWriteTheSameBytes(t *testing.T) {
	f := []float32{1.5, -2, 3.25e-7, 0, 65504, -0.0}
	n := []int64{7, -1 << 40}
	md := map[string]string{"format": "encc"}
	want, err := Marshal([]*Tensor{FromFloat32("w", []int{2, 3}, f), FromInt64("w:step", []int{2}, n), FromFloat32("empty", []int{0}, nil)}, md)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "v.safetensors")
	if err := Write(path, []*Tensor{Float32View("w", []int{2, 3}, f), Int64View("w:step", []int{2}, n), Float32View("empty", []int{0}, nil)}, md); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("views wrote %d bytes that differ from the copies' %d", len(got), len(want))
	}
}

// TestWriteStreams: Write holds no copy of the tensors' data: writing 32
// MiB of weights allocates a small fraction of that (the header and the
// write buffer), where encoding the file in memory first allocated all
// of it again.
func TestWriteStreams(t *testing.T) {
	v := make([]float32, 8<<20) // 32 MiB
	for i := range v {
		v[i] = float32(i)
	}
	ts := []*Tensor{Float32View("a", []int{4 << 20}, v[:4<<20]), Float32View("b", []int{4 << 20}, v[4<<20:])}
	path := filepath.Join(t.TempDir(), "big.safetensors")
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	if err := Write(path, ts, map[string]string{"k": "v"}); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 4<<20 {
		t.Errorf("Write of 32 MiB allocated %d bytes; want under 4 MiB (no copy of the data)", alloc)
	}
	f, err := Read(path)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := f.Get("b").Float32()
	if len(got) != 4<<20 || got[0] != float32(4<<20) || got[len(got)-1] != float32(8<<20-1) {
		t.Error("the file does not hold the tensors written")
	}
}
