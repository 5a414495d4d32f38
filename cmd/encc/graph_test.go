package main

import (
	"bytes"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestGraphRender renders the diagram with Graphviz: an SVG holding
// the layers' labels and a PNG that decodes. In CI dot must be
// installed; elsewhere the rendering is skipped without it.
func TestGraphRender(t *testing.T) {
	dir := t.TempDir()
	if _, err := exec.LookPath("dot"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("Graphviz dot is not installed (CI installs graphviz)")
		}
		t.Skip("Graphviz dot is not installed")
	}
	for _, name := range []string{"m.svg", "m.png"} {
		path := filepath.Join(dir, name)
		var stdout, stderr bytes.Buffer
		if code := run([]string{"graph", "../../examples/spam_transformer.enc", "-o", path}, &stdout, &stderr); code != exitOK {
			t.Fatalf("encc graph -o %s: exit status %d: %s", name, code, stderr.String())
		}
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasSuffix(name, ".svg") {
			for _, s := range []string{"<svg", "blocks ×2: TransformerEncoderLayer", "tokens: Embedding", "f32[B, 128, 128]", "output"} {
				if !strings.Contains(string(b), s) {
					t.Errorf("%s has no %q", name, s)
				}
			}
			continue
		}
		img, err := png.Decode(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		if r := img.Bounds(); r.Dx() < 300 || r.Dy() < 600 {
			t.Errorf("%s is %d×%d", name, r.Dx(), r.Dy())
		}
	}
}

// TestGraphWithoutDot checks that without Graphviz, graph -o FILE.svg
// writes the source next to FILE and says so.
func TestGraphWithoutDot(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("PATH", "")
	var stdout, stderr bytes.Buffer
	out := filepath.Join(dir, "m.svg")
	if code := run([]string{"graph", "../../examples/digits_mlp.enc", "-o", out}, &stdout, &stderr); code != exitOK {
		t.Fatalf("exit status %d: %s", code, stderr.String())
	}
	b, err := os.ReadFile(filepath.Join(dir, "m.dot"))
	if err != nil || !strings.HasPrefix(string(b), "digraph model {") {
		t.Errorf("m.dot: %v\n%s", err, b)
	}
	want := "encc graph: Graphviz dot is not installed; wrote " + filepath.Join(dir, "m.dot") + " (render it with dot -Tsvg)\n"
	if stderr.String() != want {
		t.Errorf("stderr %q, want %q", stderr.String(), want)
	}
	if _, err := os.Stat(out); err == nil {
		t.Error("wrote m.svg without dot")
	}
}
