package lang

import (
	"fmt"
	"strings"
	"testing"
)

func TestPathTo(t *testing.T) {
	src := "model M {\n    fc = Linear(64, 10)\n    forward(x: f32[B, 64]) -> f32[B, 10] {\n        return x |> fc\n    }\n}\n"
	f, errs := Parse("m.enc", []byte(src))
	if errs != nil {
		t.Fatal(errs)
	}
	chain := func(off int) string {
		var s []string
		for _, n := range PathTo(f, off) {
			s = append(s, strings.TrimPrefix(fmt.Sprintf("%T", n), "*lang."))
		}
		return strings.Join(s, " ")
	}
	tests := []struct{ at, want string }{
		{"Linear", "File ModelDecl SubLayer CallExpr Ident"},
		{"64, 10", "File ModelDecl SubLayer CallExpr Arg BasicLit"},
		{"B, 64]", "File ModelDecl ForwardDecl TensorParam TensorType Ident"},
		{"|> fc", "File ModelDecl ForwardDecl Block ReturnStmt BinaryExpr"},
		{"fc\n    }", "File ModelDecl ForwardDecl Block ReturnStmt BinaryExpr Ident"},
		{"model", "File ModelDecl"},
	}
	for _, tt := range tests {
		off := strings.Index(src, tt.at)
		if got := chain(off); got != tt.want {
			t.Errorf("PathTo at %q = %s, want %s", tt.at, got, tt.want)
		}
	}
	if p := PathTo(f, len(src)+5); p != nil {
		t.Errorf("PathTo past the end = %v, want nil", p)
	}
	if id, ok := PathTo(f, strings.Index(src, "fc\n    }"))[6].(*Ident); !ok || id.Name != "fc" {
		t.Errorf("innermost node is not the ident fc")
	}
}

// TestInspectVisitsAll checks that Inspect reaches every kind of node of
// a file that has them all, and pairs each node with a nil call.
func TestInspectVisitsAll(t *testing.T) {
	src := `import "a.enc"
const N = 3 // c
model M(a: int = 1) {
    param w: f32[a] = zeros()
    if a > 1 { l = L() } else { l = K() }
    forward(x: f32[B, a]) -> (z: f32[B], r: f32[]) {
        if not a { y = -x ** 2 } else if a { y = (x) } else { y = x }
        return { z: y[:, 0:1], "r": [x.shape[1]] }
    }
}
dataset d { s = 1 }
train t { phase p (epochs: 1) { freeze a lr_scale b = 0.1 } }
`
	f, errs := Parse("m.enc", []byte(src))
	if errs != nil {
		t.Fatal(errs)
	}
	seen := map[string]bool{}
	depth := 0
	Inspect(f, func(n Node) bool {
		if n == nil {
			depth--
			return true
		}
		depth++
		seen[strings.TrimPrefix(fmt.Sprintf("%T", n), "*lang.")] = true
		return true
	})
	if depth != 0 {
		t.Errorf("unbalanced nil calls: %d", depth)
	}
	for _, k := range strings.Fields("File Import ConstDecl ModelDecl HyperParam ScalarType ParamDecl TensorType IfMember SubLayer ForwardDecl TensorParam Result Block IfStmt AssignStmt ReturnStmt UnaryExpr BinaryExpr ParenExpr CallExpr Arg SelectorExpr IndexExpr SliceExpr ListExpr MapExpr MapEntry Ident BasicLit DatasetDecl Field TrainDecl Phase Freeze LRScale Path Comment") {
		if !seen[k] {
			t.Errorf("Inspect never visited a %s", k)
		}
	}
}
