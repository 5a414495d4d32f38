package lsp

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/encc-lang/encc/compiler"
)

// BenchmarkChangeLatency measures what an editor sees after a keystroke
// in a 300-line file: the time from sending textDocument/didChange,
// through the JSON-RPC framing of stdio, until the publishDiagnostics of
// that version arrives. It counts everything: framing, the delay the
// server chooses (none when the last check was fast and no older check
// is pending; debounce otherwise), the check and the publication. One
// change is in flight at a time, as when a user types at human speed;
// the "ms/change" metric is the same figure in milliseconds.
//
// The file is correct, so each change is parsed and fully checked (a file
// with a syntax error is only parsed): the copies of an example that
// bigSource makes, cut at the first declaration after line 300, with
// the builtin dataset's name restored.
func BenchmarkChangeLatency(b *testing.B) {
	text := bigSource(b, 0)
	for strings.Count(text, "\n") < 400 {
		text = bigSource(b, len(text)+1)
	}
	lines := strings.Split(text, "\n")
	n := 300
	for !declStart.MatchString(lines[n]) {
		n++
	}
	text = strings.Join(lines[:n], "\n") + "\n"
	text = builtinRenamed.ReplaceAllString(text, `builtin("$1")`)
	if _, diags := compiler.Check("m.enc", []byte(text), nil); len(diags) > 0 {
		b.Fatalf("the benchmark's file is not correct: %v", diags)
	}
	c := newClient(b)
	defer c.close()
	uri := pathToURI(filepath.Join(b.TempDir(), "m.enc"))
	c.notify("textDocument/didOpen", map[string]any{"textDocument": map[string]any{"uri": uri, "languageId": "enc", "version": 1, "text": text}})
	c.waitDiagnostics(uri, 1)
	b.ResetTimer()
	var total time.Duration
	for i := 0; i < b.N; i++ {
		v := i + 2
		// Type a character at the end of a comment on the last line, and
		// take it back: the file stays valid.
		edit := fmt.Sprintf("// %d\n", v%2)
		start := time.Now()
		c.notify("textDocument/didChange", map[string]any{"textDocument": map[string]any{"uri": uri, "version": v},
			"contentChanges": []map[string]any{{"text": text + edit}}})
		c.waitDiagnostics(uri, v)
		total += time.Since(start)
	}
	b.ReportMetric(float64(total.Microseconds())/1000/float64(b.N), "ms/change")
}

var (
	declStart      = regexp.MustCompile(`^(model|dataset|train|const|//)`)
	builtinRenamed = regexp.MustCompile(`builtin\("(\w+)_\d+"\)`)
)

// A change of a file whose last check was fast is checked at once; a
// change while an older text is still pending or being checked, or after
// a slow check, waits for the debounce.
func TestChangeDelay(t *testing.T) {
	for _, tc := range []struct {
		name      string
		checkTime time.Duration
		gen       int
		checked   int
		want      time.Duration
	}{
		{"fast, idle", 5 * time.Millisecond, 3, 3, 0},
		{"never checked yet", 0, 1, 1, 0},
		{"fast, older check pending", 5 * time.Millisecond, 3, 2, debounce},
		{"slow, idle", 2 * time.Second, 3, 3, debounce},
		{"slow, pending", 2 * time.Second, 3, 1, debounce},
	} {
		d := &document{checkTime: tc.checkTime, gen: tc.gen, checkedGen: tc.checked}
		if got := changeDelay(d); got != tc.want {
			t.Errorf("%s: delay %v, want %v", tc.name, got, tc.want)
		}
	}
}
