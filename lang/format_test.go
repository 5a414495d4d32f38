package lang

import (
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/encc-lang/encc/internal/diag"
	"github.com/encc-lang/encc/internal/golden"
)

// ignorePos compares syntax trees without their positions.
var ignorePos = cmpopts.IgnoreTypes(Span{}, diag.Pos{})

// checkRoundTrip formats f and checks that the output parses to the same
// tree (comments included), and that formatting it again changes nothing.
func checkRoundTrip(t *testing.T, name string, f *File) []byte {
	t.Helper()
	out := Format(f)
	g, errs := Parse(name, out)
	if len(errs) > 0 {
		t.Fatalf("%s: formatted output does not parse: %v\n%s", name, errs, out)
	}
	if d := cmp.Diff(f, g, ignorePos, cmpopts.IgnoreFields(File{}, "Name")); d != "" {
		t.Fatalf("%s: formatting changed the tree (-before +after):\n%s\noutput:\n%s", name, d, out)
	}
	if again := Format(g); string(again) != string(out) {
		t.Fatalf("%s: Format is not idempotent:\nfirst:\n%s\nsecond:\n%s", name, out, again)
	}
	return out
}

// TestFormatGolden formats every example and error program: the output
// must match testdata/format/*.golden, reparse to the same tree and be a
// fixed point.
func TestFormatGolden(t *testing.T) {
	for _, file := range sources(t) {
		src, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		f, errs := Parse(file, src)
		if len(errs) > 0 {
			t.Fatal(errs)
		}
		out := checkRoundTrip(t, file, f)
		if strings.Contains(file, "stdlib") {
			continue
		}
		name := filepath.Base(filepath.Dir(file)) + "_" + strings.TrimSuffix(filepath.Base(file), ".enc")
		golden.Check(t, filepath.Join("testdata", "format", name+".golden"), out)
	}
}

// notParsing lists the .enc files of the repository that are not meant
// to parse: error programs and editor fixtures that exercise highlighting
// of text the parser rejects. TestFormatRepoCanonical skips them (and
// fails when one starts parsing, so the list stays true).
var notParsing = map[string]bool{
	"testdata/errors/syntax.enc":           true, // a syntax error on purpose
	"editors/vim/test/sample.enc":          true, // highlighting of a tuple return
	"editors/vscode/test/declarations.enc": true, // highlighting of a tuple return
	"editors/vscode/test/training.enc":     true, // highlighting of a top-level expression
}

// TestFormatRepoCanonical checks that every .enc file of the repository
// (examples, stdlib, test data, benchmarks, editor fixtures) is already in
// the canonical form of Format, as `encc fmt -l` over them prints nothing.
// Run `encc fmt -w FILE` on a file it lists.
func TestFormatRepoCanonical(t *testing.T) {
	files := repoEncFiles(t)
	if len(files) < 50 {
		t.Fatalf("found only %d .enc files under ..", len(files))
	}
	for _, file := range files {
		rel := filepath.ToSlash(strings.TrimPrefix(file, ".."+string(filepath.Separator)))
		src, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		f, errs := Parse(file, src)
		if notParsing[rel] {
			if len(errs) == 0 {
				t.Errorf("%s parses: remove it from notParsing", rel)
			}
			continue
		}
		if len(errs) > 0 {
			t.Errorf("%s: %v", rel, errs)
			continue
		}
		if out := Format(f); string(out) != string(src) {
			t.Errorf("%s is not formatted (encc fmt -d %s):\n%s", rel, rel, lineDiff(string(src), string(out)))
		}
	}
}

// repoEncFiles lists the repository's .enc files: the tracked ones by
// `git ls-files` in a git checkout (so that ignored copies, such as the
// VS Code snapshot test's, and a developer's scratch files are not
// checked), else every .enc file under .. outside .git, node_modules and
// data directories.
func repoEncFiles(t *testing.T) []string {
	var files []string
	if out, err := exec.Command("git", "-C", "..", "ls-files", "-z", "--", "*.enc").Output(); err == nil {
		for _, f := range strings.Split(string(out), "\x00") {
			if f != "" {
				files = append(files, filepath.Join("..", filepath.FromSlash(f)))
			}
		}
		return files
	}
	err := filepath.WalkDir("..", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			switch d.Name() {
			case ".git", "node_modules", "data":
				return filepath.SkipDir
			}
			return nil
		}
		if strings.HasSuffix(path, ".enc") {
			files = append(files, path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// lineDiff lists the lines of a that b changes, with b's version.
func lineDiff(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	var sb strings.Builder
	for i := 0; i < max(len(al), len(bl)); i++ {
		var x, y string
		if i < len(al) {
			x = al[i]
		}
		if i < len(bl) {
			y = bl[i]
		}
		if x != y {
			fmt.Fprintf(&sb, "%d:\n-%s\n+%s\n", i+1, x, y)
			if sb.Len() > 2000 {
				sb.WriteString("...\n")
				break
			}
		}
	}
	return sb.String()
}

// TestFormat is a table of inputs and their canonical form.
func TestFormat(t *testing.T) {
	tests := []struct{ in, want string }{
		// spacing in expressions
		{"const x=a+b*c", "const x = a + b * c\n"},
		{"const x = f( a ,b:1 )", "const x = f(a, b: 1)\n"},
		{"const x = h[ : , 0 : 32 ]", "const x = h[:, 0:32]\n"},
		{"const x = - x ** 2", "const x = -x ** 2\n"},
		{"const x = (a+b)*c", "const x = (a + b) * c\n"},
		{"const x = x|>f|>g(k:2)", "const x = x |> f |> g(k: 2)\n"},
		{"const x = not a==b and c", "const x = not a == b and c\n"},
		{`const x = {a:1,"b c":[1,2]}`, "const x = { a: 1, \"b c\": [1, 2] }\n"},
		{"const x = {}", "const x = {}\n"},
		{"const x = blocks.0.1", "const x = blocks.0.1\n"},
		{"const x = x.shape[1]", "const x = x.shape[1]\n"},
		// declarations: one blank line between, consts grouped
		{"const A = 1\nconst BB = 2\nmodel M {}\n\n\n\ndataset d {}", "const A  = 1\nconst BB = 2\n\nmodel M {}\n\ndataset d {}\n"},
		{"import \"a.enc\"\nimport \"b.enc\"\nconst A = 1", "import \"a.enc\"\nimport \"b.enc\"\n\nconst A = 1\n"},
		// alignment of runs; blank lines collapse and end runs
		{"dataset d {\n  a = 1\n  bbb = 2\n\n\n\n  cc = 3\n}", "dataset d {\n    a   = 1\n    bbb = 2\n\n    cc = 3\n}\n"},
		{"model M {\n param w: f32[a, b] = zeros()\n buffer bias: f32[b] = ones()\n param s: f32[]\n}",
			"model M {\n    param w:     f32[a, b] = zeros()\n    buffer bias: f32[b]    = ones()\n    param s:     f32[]\n}\n"},
		// comments: leading, trailing, block, at the end, in expressions
		{"// head\n\nmodel M { // m\n  // lead\n  x = 1 // trail\n  /* b */ y = f(a, /* in */ b)\n  // last\n} // after\n// end\n",
			"// head\n\nmodel M { // m\n    // lead\n    x = 1 // trail\n    /* b */\n    y = f(a, /* in */ b)\n    // last\n} // after\n// end\n"},
		// one-line bodies stay, others are expanded
		{"model M { forward(x: f32[B]) -> f32[B] { return x } }", "model M { forward(x: f32[B]) -> f32[B] { return x } }\n"},
		{"model M { forward(x: f32[B],mask: bool[B]=none) -> f32[B] { return x } }", "model M { forward(x: f32[B], mask: bool[B] = none) -> f32[B] { return x } }\n"},
		{"model M { a = 1 b = 2 }", "model M {\n    a = 1\n    b = 2\n}\n"},
		{"train t { phase p (epochs: 1) { freeze a, \"b.*\" } }", "train t { phase p (epochs: 1) { freeze a, \"b.*\" } }\n"},
		// line breaks in lists and binary chains are kept
		{"dataset d {\n  source = idx(images: \"a\",\n   labels: \"b\")\n}", "dataset d {\n    source = idx(images: \"a\",\n                 labels: \"b\")\n}\n"},
		{"train t {\n  loss = a\n  - 0.1 * b\n}", "train t {\n    loss = a\n        - 0.1 * b\n}\n"},
		{"const r = {\n  \"a\": 1,\n  \"b\": 2\n}", "const r = {\n    \"a\": 1,\n    \"b\": 2\n}\n"},
		// forward with named results, if/else
		{"model M(n: int = 2) {\n if n > 1 { a = A() } else if n == 1 { a = B() } else { a = C() }\n forward(x: f32[B]) -> (z: f32[B], r: f32[]) {\n  if n > 1 {\n   return { z: x, r: 0 }\n  }\n  return { z: x, r: 1 }\n }\n}",
			"model M(n: int = 2) {\n    if n > 1 { a = A() } else if n == 1 { a = B() } else { a = C() }\n    forward(x: f32[B]) -> (z: f32[B], r: f32[]) {\n        if n > 1 {\n            return { z: x, r: 0 }\n        }\n        return { z: x, r: 1 }\n    }\n}\n"},
	}
	for _, tt := range tests {
		f, errs := Parse("t.enc", []byte(tt.in))
		if len(errs) > 0 {
			t.Errorf("%q: %v", tt.in, errs)
			continue
		}
		got := checkRoundTrip(t, tt.in, f)
		if string(got) != tt.want {
			t.Errorf("Format(%q):\n got %q\nwant %q", tt.in, got, tt.want)
		}
	}
}
