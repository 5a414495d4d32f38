package diag

import (
	"strconv"
	"strings"
	"testing"
)

// Messages and source lines may quote hostile source text: control
// characters must not reach the terminal and a huge name must not print
// megabytes (issue 17, case 17).
func TestCleanEscapesAndShortens(t *testing.T) {
	long := strings.Repeat("a", 1_000_000)
	for _, tc := range []struct{ in, want string }{
		{"plain message", "plain message"},
		{"bad \x1b[31mred\x07", `bad \x1b[31mred\a`},
		{"bad \xff byte", `bad \xff byte`},
		{`unknown name "` + long + `"`, `unknown name "` + strings.Repeat("a", 39) + "…" + strings.Repeat("a", 19) + `"`},
	} {
		if got := Clean(tc.in); got != tc.want {
			t.Errorf("Clean(%.40q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	d := Errorf(Pos{File: "f.enc", Line: 1, Col: 1}, "unknown name %q", long)
	if n := len(d.Error()); n > 200 {
		t.Errorf("Error() is %d bytes long", n)
	}
}

func TestPrintEscapesSourceLine(t *testing.T) {
	src := []byte("const x = \"\x1b]0;pwned\x07\" + zz\n")
	col := strings.Index(string(src), "zz") + 1
	var sb strings.Builder
	Print(&sb, List{Errorf(Pos{File: "f.enc", Line: 1, Col: col}, "unknown name %q", "zz")}, func(string) []byte { return src })
	got := sb.String()
	if strings.ContainsAny(got, "\x1b\x07") {
		t.Fatalf("control characters printed: %q", got)
	}
	want := "f.enc:1:" + strconv.Itoa(col) + ": unknown name \"zz\"\n" +
		"\tconst x = \"\\x1b]0;pwned\\a\" + zz\n" +
		"\t" + strings.Repeat(" ", len(`const x = "\x1b]0;pwned\a" + `)) + "^\n"
	if got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
}

func TestPrintLongLineWindow(t *testing.T) {
	src := []byte("const x = " + strings.Repeat("(", 100000) + "1")
	var sb strings.Builder
	Print(&sb, List{Errorf(Pos{File: "f.enc", Line: 1, Col: 5011}, "too deep")}, func(string) []byte { return src })
	if n := sb.Len(); n > 600 {
		t.Fatalf("printed %d bytes for one diagnostic", n)
	}
	lines := strings.Split(sb.String(), "\n")
	if len(lines) < 3 || !strings.HasPrefix(lines[1], "\t…") || strings.Index(lines[2], "^") != 1+1+maxLine/2 {
		t.Fatalf("caret misplaced:\n%s", sb.String())
	}
}

// A lone "\r" ends a line, as the parser counts lines.
func TestSourceLineCR(t *testing.T) {
	src := func(string) []byte { return []byte("a\rb\r\nc\nd") }
	for line, want := range []string{"", "a", "b", "c", "d"} {
		if line == 0 {
			continue
		}
		got, ok := sourceLine(src, Pos{File: "f", Line: line, Col: 1})
		if !ok || got != want {
			t.Errorf("line %d = %q, %v; want %q", line, got, ok, want)
		}
	}
}
