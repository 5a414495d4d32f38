// Package arch holds a test of the repository's layering: imports point
// one way, as docs/architecture.md draws it.
package arch

import (
	"encoding/json"
	"io"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const mod = "github.com/encc-lang/encc/"

// Groups of packages the table below uses.
var (
	front    = []string{"lang", "stdlib", "compiler", "internal/diag"}
	ir       = []string{"ir", "internal/diag"}
	backends = []string{"backend", "backend/cpu", "backend/cpu/gemm", "backend/cpu/parallel", "backend/cuda", "backend/host", "internal/cputime"}
)

func join(groups ...[]string) []string { return slices.Concat(groups...) }

// allowed lists, for every package of the module, the packages of this
// module it may import (directly or not). Tests are not counted. A
// package missing here fails the test, so a new package must say where
// it sits.
var allowed = map[string][]string{
	"internal/diag":        {},
	"internal/cputime":     {},
	"internal/golden":      {},
	"internal/arch":        {}, // tests only
	"internal/parity":      {}, // tests only (they import runtime/train)
	"lang":                 {"internal/diag"},
	"stdlib":               {},
	"ir":                   {"internal/diag"},
	"ir/eval":              ir,
	"compiler":             join(front, ir),
	"backend/cpu/parallel": {},
	"backend/cpu/gemm":     {"backend/cpu/parallel", "internal/cputime"},
	"backend/host":         ir,
	"backend/cpu":          join(ir, []string{"backend/host", "backend/cpu/gemm", "backend/cpu/parallel", "internal/cputime"}),
	"backend/cuda":         join(ir, []string{"backend/host"}),
	"backend":              join(ir, backends),
	"runtime/safetensors":  {},
	"runtime/weights":      {},
	"runtime/data":         {"internal/diag"},
	"runtime/train":        join(front, ir, []string{"ir/eval"}, backends, []string{"runtime/data", "runtime/safetensors", "runtime/weights"}),
	"lsp":                  join(front, ir),
	// export/onnx translates lowered IR; the protobuf types are generated.
	"export/onnx":                 join(front, ir, []string{"export/onnx/internal/onnxpb"}),
	"export/onnx/internal/onnxpb": {},
	// export/pytorch writes Python from the checked tree; the runtime
	// prepares the data and the initial weights it ships.
	"export/pytorch": join(front, ir, []string{"ir/eval"}, backends, []string{"runtime/data", "runtime/safetensors", "runtime/weights", "runtime/train"}),
	// Tests only: the participle parser lang's parser is checked against.
	"lang/internal/refparse": {"lang", "internal/diag"},
	// Starts building the parser while the other packages initialize.
	"cmd/encc/internal/prewarm": {"lang", "internal/diag"},
	"cmd/encc": join(front, ir, []string{"ir/eval"}, backends,
		[]string{"runtime/data", "runtime/safetensors", "runtime/weights", "runtime/train", "lsp", "export/onnx", "export/onnx/internal/onnxpb", "export/pytorch", "cmd/encc/internal/prewarm"}),
}

type pkg struct {
	ImportPath string
	Deps       []string
}

// list runs go list -deps over every package of the module, with the
// build tags given (the cuda build has imports of its own).
func list(t *testing.T, tags string) []pkg {
	t.Helper()
	out, err := exec.Command("go", "list", "-tags", tags, "-json", "./../../...").Output()
	if err != nil {
		t.Fatalf("go list -tags %q: %v", tags, err)
	}
	var pkgs []pkg
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for {
		var p pkg
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, p)
	}
	if len(pkgs) < len(allowed)/2 {
		t.Fatalf("go list found %d packages", len(pkgs))
	}
	return pkgs
}

// TestLayering checks every package of the module, in the default and
// the cuda build, against the table: each imports only what it may, and
// the table names exactly the packages there are.
func TestLayering(t *testing.T) {
	for _, tags := range []string{"", "cuda"} {
		seen := map[string]bool{}
		for _, p := range list(t, tags) {
			name := strings.TrimPrefix(p.ImportPath, mod)
			seen[name] = true
			ok, listed := allowed[name]
			if !listed {
				t.Errorf("package %s is not in the layering table of internal/arch: add it with the packages it may import", name)
				continue
			}
			for _, d := range p.Deps {
				if !strings.HasPrefix(d, mod) {
					continue
				}
				if rel := strings.TrimPrefix(d, mod); !slices.Contains(ok, rel) {
					t.Errorf("%s imports %s (tags %q), which it must not (allowed: %v)", name, rel, tags, ok)
				}
			}
		}
		for name := range allowed {
			if !seen[name] {
				t.Errorf("the layering table names %s, which is not a package of the module", name)
			}
		}
	}
}
