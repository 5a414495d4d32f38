// Package arch holds a test of the repository's layering: imports point
// one way, as ARCHITECTURE.md draws it.
package arch

import (
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
)

const mod = "github.com/encc-lang/encc/"

// allowed lists, for each package, the packages of this module it may
// import (directly or not). Tests are not counted.
var allowed = map[string][]string{
	"internal/diag":        {},
	"internal/golden":      {},
	"lang":                 {"internal/diag"},
	"stdlib":               {},
	"ir":                   {"internal/diag"},
	"ir/eval":              {"ir", "internal/diag"},
	"compiler":             {"lang", "stdlib", "ir", "internal/diag"},
	"backend/cpu/parallel": {},
	"backend/cpu/gemm":     {"backend/cpu/parallel"},
	"backend/host":         {"ir", "internal/diag"},
	"backend/cpu":          {"ir", "internal/diag", "backend/host", "backend/cpu/gemm", "backend/cpu/parallel"},
	"backend/cuda":         {"ir", "internal/diag", "backend/host"},
	"runtime/safetensors":  {},
	"runtime/data":         {"internal/diag"},
	"lsp":                  {"compiler", "lang", "stdlib", "ir", "internal/diag"},
	// export/onnx translates lowered IR; the protobuf types are generated.
	"export/onnx":                 {"compiler", "lang", "stdlib", "ir", "internal/diag", "export/onnx/internal/onnxpb"},
	"export/onnx/internal/onnxpb": {},
}

func TestLayering(t *testing.T) {
	for pkg, ok := range allowed {
		out, err := exec.Command("go", "list", "-json", "./../../"+pkg).Output()
		if err != nil {
			t.Fatalf("go list %s: %v", pkg, err)
		}
		var info struct{ Deps []string }
		if err := json.Unmarshal(out, &info); err != nil {
			t.Fatal(err)
		}
		may := map[string]bool{}
		for _, a := range ok {
			may[a] = true
		}
		for _, d := range info.Deps {
			if !strings.HasPrefix(d, mod) {
				continue
			}
			if rel := strings.TrimPrefix(d, mod); !may[rel] {
				t.Errorf("%s imports %s, which it must not (allowed: %v)", pkg, rel, ok)
			}
		}
	}
}
