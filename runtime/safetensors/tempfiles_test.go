package safetensors

import (
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"testing"
	"time"
)

// A write killed before its rename leaves a temporary file; the next
// write of the same path removes it, but not one a live process is still
// writing, nor the files of another path (issue 17, case 16).
func TestWriteRemovesStaleTemps(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "x.safetensors")

	// A process that is gone: a child that has exited.
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Skip("cannot run a child process:", err)
	}
	dead := cmd.Process.Pid
	old := time.Now().Add(-time.Hour)
	files := map[string]bool{ // name → kept
		".x.safetensors.tmp-" + strconv.Itoa(dead) + "-123":         false, // its writer is gone
		".x.safetensors.tmp-" + strconv.Itoa(os.Getppid()) + "-456": true,  // its writer lives
		".x.safetensors.tmp-987654":                                 false, // an old encc's, an hour old
		".y.safetensors.tmp-" + strconv.Itoa(dead) + "-789":         true,  // another file's
		"x.safetensors.tmp-" + strconv.Itoa(dead) + "-1":            true,  // not a temporary name
	}
	for name := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("partial"), 0o644); err != nil {
			t.Fatal(err)
		}
		os.Chtimes(filepath.Join(dir, name), old, old)
	}
	fresh := ".x.safetensors.tmp-55555"
	os.WriteFile(filepath.Join(dir, fresh), nil, 0o644) // an old encc's, just now: maybe still writing
	files[fresh] = true

	if err := Write(path, []*Tensor{FromFloat32("w", []int{2}, []float32{1, 2})}, nil); err != nil {
		t.Fatal(err)
	}
	var want []string
	for name, kept := range files {
		if kept {
			want = append(want, name)
		}
	}
	want = append(want, "x.safetensors")
	sort.Strings(want)
	ents, _ := os.ReadDir(dir)
	var got []string
	for _, e := range ents {
		got = append(got, e.Name())
	}
	if !equalStrings(got, want) {
		t.Fatalf("files after Write:\n got %q\nwant %q", got, want)
	}
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
