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
// the layers' labels and a PNG that decodes. Without dot it checks that
// graph writes the source next to the file and says so; in CI dot must
// be installed.
func TestGraphRender(t *testing.T) {
	dir := t.TempDir()
	if _, err := exec.LookPath("dot"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("Graphviz dot is not installed (CI installs graphviz)")
		}
		t.Setenv("PATH", "")
		var stdout, stderr bytes.Buffer
		if code := run([]string{"graph", "../../examples/digits_mlp.enc", "-o", filepath.Join(dir, "m.svg")}, &stdout, &stderr); code != exitOK {
			t.Fatalf("exit status %d: %s", code, stderr.String())
		}
		if _, err := os.Stat(filepath.Join(dir, "m.dot")); err != nil || !strings.Contains(stderr.String(), "dot is not installed") {
			t.Errorf("without dot: %v, stderr %q", err, stderr.String())
		}
		t.Skip("Graphviz dot is not installed; checked the fallback only")
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
