package lsp

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// BenchmarkChangeLatency measures what an editor sees after a keystroke
// in a 300-line file: the time from sending textDocument/didChange,
// through the JSON-RPC framing of stdio, until the publishDiagnostics of
// that version arrives. It counts everything: framing, the delay the
// server chooses (none when the last check was fast and no older check
// is pending; debounce otherwise), the check and the publication. One
// change is in flight at a time, as when a user types at human speed;
// the "ms/change" metric is the same figure in milliseconds.
func BenchmarkChangeLatency(b *testing.B) {
	text := bigSource(b, 0)
	for strings.Count(text, "\n") < 300 {
		text = bigSource(b, len(text)+1)
	}
	lines := strings.Split(text, "\n")
	text = strings.Join(lines[:300], "\n") + "\n"
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
