package diag

import (
	"strings"
	"testing"
)

func TestSortDedupeLimit(t *testing.T) {
	var l List
	for i := 12; i >= 1; i-- {
		l.Errorf(Pos{File: "a.enc", Line: i, Col: 1}, "error %d", i)
	}
	l.Errorf(Pos{File: "a.enc", Line: 3, Col: 1}, "error 3") // duplicate
	l.Sort()
	if len(l) != MaxErrors {
		t.Fatalf("%d diagnostics, want %d", len(l), MaxErrors)
	}
	for i, d := range l {
		if d.Pos.Line != i+1 {
			t.Fatalf("diagnostic %d at line %d: not sorted or not deduplicated", i, d.Pos.Line)
		}
	}
}

func TestSuggest(t *testing.T) {
	for _, tc := range []struct {
		name  string
		cands []string
		want  string
	}{
		{"relux", []string{"relu", "gelu", "tanh"}, "relu"},
		{"encoderr", []string{"encoder", "head"}, "encoder"},
		{"xyz", []string{"relu", "Linear"}, ""},
		{"fc", []string{"fc"}, ""},
	} {
		if got := Suggest(tc.name, tc.cands); got != tc.want {
			t.Errorf("Suggest(%q) = %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestPrintAndJSON(t *testing.T) {
	src := "model M {\n\tfc = Linearr(4, 4)\n}\n"
	d := Errorf(Pos{File: "m.enc", Line: 2, Col: 7, Offset: 16}, "unknown name %q", "Linearr").
		WithEnd(Pos{File: "m.enc", Line: 2, Col: 14, Offset: 23}).
		WithNote(Pos{File: "m.enc", Line: 1, Col: 7}, "in M")
	var sb strings.Builder
	Print(&sb, List{d}, func(string) []byte { return []byte(src) })
	want := "m.enc:2:7: unknown name \"Linearr\"\n\t\tfc = Linearr(4, 4)\n\t\t     ^^^^^^^\n\tm.enc:1:7: note: in M\n"
	if sb.String() != want {
		t.Errorf("Print:\n%q\nwant\n%q", sb.String(), want)
	}
	js, err := JSON(List{d})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{`"line": 2`, `"col": 7`, `"endCol": 14`, `"message": "unknown name \"Linearr\""`, `"notes"`} {
		if !strings.Contains(string(js), s) {
			t.Errorf("JSON lacks %s:\n%s", s, js)
		}
	}
}
