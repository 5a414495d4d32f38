package lang

import (
	"maps"
	"os"
	"strings"
	"testing"

	"github.com/alecthomas/participle/v2/lexer"
)

// checkScan compares scan with the lexDef table it implements: the same
// tokens (type, value, offset), and positions that agree with the line
// table of Parse.
func checkScan(t *testing.T, src []byte) {
	t.Helper()
	lx, err := lexDef.Lex("f.enc", strings.NewReader(string(src)))
	if err != nil {
		t.Fatal(err)
	}
	want, err := lexer.ConsumeAll(lx)
	if err != nil {
		t.Fatal(err)
	}
	got := scan("f.enc", src)
	p := &parser{filename: "f.enc", src: src, lines: lineStarts(src)}
	for i := 0; i < len(got) || i < len(want); i++ {
		if i >= len(got) || i >= len(want) {
			t.Fatalf("%q: scan gives %d tokens, lexDef %d", src, len(got), len(want))
		}
		g, w := got[i], want[i]
		if g.Type != w.Type || g.Value != w.Value || g.Pos.Offset != w.Pos.Offset {
			t.Fatalf("%q: token %d: scan %d %q at %d, lexDef %d %q at %d", src, i, g.Type, g.Value, g.Pos.Offset, w.Type, w.Value, w.Pos.Offset)
		}
		if at := p.at(g.Pos.Offset); g.Pos.Line != at.Line || g.Pos.Column != at.Col {
			t.Fatalf("%q: token %d at %d: scan says %d:%d, the line table %d:%d", src, i, g.Pos.Offset, g.Pos.Line, g.Pos.Column, at.Line, at.Col)
		}
	}
}

func TestScanMatchesLexDef(t *testing.T) {
	if want := lexDef.Symbols(); !maps.Equal(symbols, want) {
		t.Fatalf("token types %v, lexDef's %v", symbols, want)
	}
	for _, file := range append(sources(t), "../testdata/errors/syntax.enc") {
		src, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		checkScan(t, src)
	}
	for _, src := range []string{
		"", "1", "1.", "1.5", "1.5e", "1.5e+", "1.5e+3", "1e5.3", "1E-2x", "007", "1..2", ".5",
		`"a\"b"`, `"a\`, "\"a\\\nb\"", "\"a\nb\"", `"\é"`, "\"\xff\"", "\"\\\xff\"", `"`, `""`,
		"/", "//", "// x\r\ny", "/* a \n b */c", "/* never", "/**/", "/*/",
		"\uFEFF\uFEFFx", "\t\r\r\n\n x", "a\rb\r\nc\nd", "é", "\xff\xfe", "\x00", "$%^&~`?!;#",
		"|>->**==!=<=>=<>=|", "- + * / @ ( ) { } [ ] , . : =", "_a9 A_ 9a a.b.0.1",
	} {
		checkScan(t, []byte(src))
	}
}
