package lang

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestEBNF checks that the reference grammar in the comment of grammar.go
// is the grammar participle built.
func TestEBNF(t *testing.T) {
	src, err := os.ReadFile("grammar.go")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(src), "// BEGIN EBNF\n")
	body, _, ok2 := strings.Cut(rest, "// END EBNF\n")
	if !ok || !ok2 {
		t.Fatal("grammar.go: no BEGIN EBNF / END EBNF block")
	}
	var lines []string
	for _, l := range strings.Split(strings.TrimSpace(body), "\n") {
		lines = append(lines, strings.TrimPrefix(strings.TrimPrefix(l, "//"), " "))
	}
	got, want := strings.Join(lines, "\n"), strings.TrimSpace(grammar().String())
	if got != want {
		t.Errorf("the EBNF comment in grammar.go differs from the parser's grammar; replace it with:\n%s", want)
	}
}

// TestLexer checks the token table on the cases that matter for the
// grammar: paths, floats, operators, comments.
func TestLexer(t *testing.T) {
	tests := []struct{ src, want string }{
		{"blocks.0.attn", "Ident:blocks Punct:. Int:0 Punct:. Ident:attn"},
		{"1e-3 0.1 1.5e+2 2E3", "Float:1e-3 Float:0.1 Float:1.5e+2 Float:2E3"},
		{"1. .5", "Int:1 Punct:. Punct:. Int:5"},
		{"x |> f -> ** == != <= >= < > = @", "Ident:x Operator:|> Ident:f Operator:-> Operator:** Operator:== Operator:!= Operator:<= Operator:>= Punct:< Punct:> Punct:= Punct:@"},
		{"a // c\n/* b\n */ \"s\\\"q\"", `Ident:a Comment:// c Comment:/* b` + "\n" + ` */ String:"s\"q"`},
		{"model from in phase", "Ident:model Ident:from Ident:in Ident:phase"},
	}
	names := map[int]string{}
	for name, typ := range lexDef.Symbols() {
		names[int(typ)] = name
	}
	for _, tt := range tests {
		lx, err := lexDef.Lex("", strings.NewReader(tt.src))
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for {
			tok, err := lx.Next()
			if err != nil {
				t.Fatal(err)
			}
			if tok.EOF() {
				break
			}
			if tok.Type != symWhitespace {
				got = append(got, names[int(tok.Type)]+":"+tok.Value)
			}
		}
		if g := strings.Join(got, " "); g != tt.want {
			t.Errorf("%q:\n got %s\nwant %s", tt.src, g, tt.want)
		}
	}
}

// TestPrewarm parses while Prewarm's goroutine builds the parser, from
// several goroutines (run it with -race as well): each gets the tree of a
// parser built once.
func TestPrewarm(t *testing.T) {
	Prewarm("")
	src := []byte("model M(d: int = 4) {\n    l = Linear(d, d)\n    forward(x: f32[B, d]) -> f32[B, d] { return x |> l }\n}\n")
	want := make(chan string, 4)
	for range 4 {
		go func() {
			f, errs := Parse("m.enc", src)
			if len(errs) > 0 {
				want <- errs.Error()
				return
			}
			want <- Dump(f)
		}()
	}
	first := <-want
	for range 3 {
		if got := <-want; got != first {
			t.Errorf("parses differ:\n%s\n%s", first, got)
		}
	}
	if grammar() != grammar() {
		t.Error("the parser was built twice")
	}
}

// TestPrewarmSource checks that the file Prewarm parses is correct, so
// that it runs the parser through every production rather than stopping
// at an error.
func TestPrewarmSource(t *testing.T) {
	f, errs := Parse("prewarm.enc", []byte(prewarmSource))
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	if len(f.Imports) != 1 || len(f.Decls) != 4 {
		t.Errorf("%d imports and %d declarations, want 1 and 4", len(f.Imports), len(f.Decls))
	}
}

// TestPrewarmFile checks that a Parse of the file Prewarm parsed ahead
// takes that tree only when the name and the content are the same, and
// once.
func TestPrewarmFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "m.enc")
	src := []byte("model M(d: int = 4) {\n    l = Linear(d, d)\n    forward(x: f32[B, d]) -> f32[B, d] { return x |> l }\n}\n")
	if err := os.WriteFile(path, src, 0o644); err != nil {
		t.Fatal(err)
	}
	pre := &prewarmed{name: path, done: make(chan struct{})}
	prewarmedFile.Store(pre)
	defer prewarmedFile.Store(nil)
	go func() {
		pre.read()
		pre.file, pre.errs = parse(pre.name, pre.src)
		close(pre.done)
	}()
	other, _ := Parse("other.enc", src)
	changed, _ := Parse(path, append(src, '\n')) // waits for the goroutine
	f, errs := Parse(path, src)
	<-pre.done
	if other == pre.file {
		t.Error("another name took the tree parsed ahead")
	}
	if changed == pre.file {
		t.Error("other content took the tree parsed ahead")
	}
	if f != pre.file || len(errs) > 0 {
		t.Fatalf("the parse did not take the tree parsed ahead (%v)", errs)
	}
	if g, _ := Parse(path, src); g == f {
		t.Error("the tree parsed ahead was taken twice")
	}
	if got, want := Dump(f), Dump(func() *File { f, _ := parse(path, src); return f }()); got != want {
		t.Errorf("tree parsed ahead:\n%s\nwant\n%s", got, want)
	}

	// A device (or a FIFO) is not read ahead: its data belongs to the
	// command.
	p := &prewarmed{name: os.DevNull}
	p.read()
	if p.src != nil {
		t.Error("a device was read ahead")
	}
}
