package lsp

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// A syncBuffer is a log the server writes while the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func frame(body string) string {
	return fmt.Sprintf("Content-Length: %d\r\n\r\n%s", len(body), body)
}

// Framing errors are logged and skipped where the stream can
// resynchronize; where it cannot, Serve returns an error saying why
// (issue 17, case 5). Before, the first bad header ended the server with
// nothing logged.
func TestFramingErrors(t *testing.T) {
	initialize := `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{}}`
	shutdown := `{"jsonrpc":"2.0","id":2,"method":"shutdown"}`
	for _, tc := range []struct {
		name, bad, log string
	}{
		{"letters", "Content-Length: abc\r\n\r\n" + initialize, `bad Content-Length "abc"; skipping to the next message`},
		{"negative", "Content-Length: -5\r\n\r\n" + initialize, `bad Content-Length "-5"`},
		{"missing", "Content-Type: x\r\n\r\n" + initialize, "message without Content-Length"},
		{"not a header", "hello\r\n\r\n" + initialize, `bad header line "hello"`},
		{"too large", "Content-Length: 999999999999\r\n\r\n", "over the limit"},
		{"glued to the next", "Content-Length: x\r\n\r\n{}", `bad Content-Length "x"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.name == "too large" {
				// The body is really skipped: send it.
				tc.bad = "Content-Length: 70000000\r\n\r\n" + strings.Repeat(" ", 70000000)
			}
			in := tc.bad + frame(initialize) + frame(shutdown) + frame(`{"jsonrpc":"2.0","method":"exit"}`)
			var out bytes.Buffer
			var log syncBuffer
			if err := Serve(context.Background(), strings.NewReader(in), &out, &log); err != nil {
				t.Fatalf("Serve: %v (log %q)", err, log.String())
			}
			if !strings.Contains(log.String(), tc.log) {
				t.Errorf("log %q, want %q", log.String(), tc.log)
			}
			if !strings.Contains(out.String(), `"id":1,"result":{"capabilities"`) || !strings.Contains(out.String(), `"id":2,"result":null`) {
				t.Errorf("the requests after the bad one got no answers:\n%s", out.String())
			}
		})
	}
	// Where the stream cannot resynchronize, Serve says why.
	for _, tc := range []struct{ in, err string }{
		{frame(initialize) + "Content-Length: abc\r\n\r\n{}", `bad Content-Length "abc", and no message follows`},
		{"Content-Length: 100\r\n\r\n{}", "the stream ended inside a message body (2 of 100 bytes)"},
		{"Content-Length: 100\r\n", "the stream ended inside a message header"},
	} {
		err := Serve(context.Background(), strings.NewReader(tc.in), io.Discard, io.Discard)
		if err == nil || err.Error() != tc.err {
			t.Errorf("Serve(%q) = %v, want %q", tc.in, err, tc.err)
		}
	}
}

// bigSource is about n bytes of distinct copies of an example.
func bigSource(t testing.TB, n int) string {
	src, err := os.ReadFile("../examples/digits_cnn.enc")
	if err != nil {
		t.Fatal(err)
	}
	decl := regexp.MustCompile(`(?m)^(?:model|dataset|train|const)\s+(\w+)`)
	var sb strings.Builder
	for i := 0; sb.Len() < n; i++ {
		s := string(src)
		for _, m := range decl.FindAllStringSubmatch(string(src), -1) {
			s = regexp.MustCompile(`\b`+m[1]+`\b`).ReplaceAllString(s, fmt.Sprintf("%s_%d", m[1], i))
		}
		sb.WriteString(s)
	}
	return sb.String()
}

// waitDiagnostics collects publishDiagnostics of uri until one of
// version want arrives, and returns the versions seen.
func (c *client) waitDiagnostics(uri string, want int) []int {
	c.t.Helper()
	timeout := time.After(2 * time.Minute)
	var seen []int
	for {
		select {
		case m := <-c.notes:
			if m == nil {
				c.t.Fatal("server closed")
			}
			var p publishDiagnosticsParams
			json.Unmarshal(m.Params, &p)
			if m.Method != "textDocument/publishDiagnostics" || p.URI != uri {
				continue
			}
			seen = append(seen, p.Version)
			if p.Version == want {
				return seen
			}
		case <-timeout:
			c.t.Fatalf("no diagnostics of version %d (saw %v)", want, seen)
		}
	}
}

// A large file is checked in the background: the server answers other
// requests while it is checked (issue 17, case 23), and a request about
// the file itself waits for its check, off the message loop, to answer
// from the latest text. Before, the check ran in the message loop and
// every answer came after it.
func TestLargeFileDoesNotBlock(t *testing.T) {
	c := newClient(t)
	defer c.close()
	big := bigSource(t, 50_000)
	uri := pathToURI(filepath.Join(t.TempDir(), "big.enc"))
	c.notify("textDocument/didOpen", map[string]any{"textDocument": map[string]any{"uri": uri, "languageId": "enc", "version": 1, "text": big}})
	var h *Hover
	c.call("textDocument/hover", map[string]any{"textDocument": map[string]any{"uri": "file:///other.enc"}, "position": Position{0, 0}}, &h)
	select {
	case m := <-c.notes:
		t.Fatalf("a notification (%s) came before the answer: the check blocked the server", m.Method)
	default:
	}
	// The outline of the big file waits for its check.
	var syms []DocumentSymbol
	c.call("textDocument/documentSymbol", map[string]any{"textDocument": map[string]any{"uri": uri}}, &syms)
	if len(syms) < 25 {
		t.Fatalf("%d symbols: the request did not wait for the check", len(syms))
	}
	if got := c.waitDiagnostics(uri, 1); len(got) != 1 {
		t.Fatalf("diagnostics of versions %v", got)
	}
}

// A request right after a change answers from the changed text.
func TestRequestAfterChange(t *testing.T) {
	c := newClient(t)
	defer c.close()
	uri := pathToURI(filepath.Join(t.TempDir(), "m.enc"))
	c.notify("textDocument/didOpen", map[string]any{"textDocument": map[string]any{"uri": uri, "languageId": "enc", "version": 1, "text": "const a = 1\n"}})
	c.notify("textDocument/didChange", map[string]any{"textDocument": map[string]any{"uri": uri, "version": 2},
		"contentChanges": []map[string]any{{"text": "const a = 1\nconst b = 2\n"}}})
	var syms []DocumentSymbol
	c.call("textDocument/documentSymbol", map[string]any{"textDocument": map[string]any{"uri": uri}}, &syms)
	if len(syms) != 2 {
		t.Fatalf("symbols %+v, want a and b", syms)
	}
}

// A burst of changes is checked once, for the last text: the checks of
// older texts are cancelled or dropped, never published.
func TestChangesDebounced(t *testing.T) {
	c := newClient(t)
	defer c.close()
	big := bigSource(t, 30_000)
	uri := pathToURI(filepath.Join(t.TempDir(), "m.enc"))
	c.notify("textDocument/didOpen", map[string]any{"textDocument": map[string]any{"uri": uri, "languageId": "enc", "version": 1, "text": big}})
	const last = 31
	for v := 2; v <= last; v++ {
		text := big + strings.Repeat(" ", v)
		if v == last {
			text = "const x = zz\n"
		}
		c.notify("textDocument/didChange", map[string]any{"textDocument": map[string]any{"uri": uri, "version": v},
			"contentChanges": []map[string]any{{"text": text}}})
	}
	seen := c.waitDiagnostics(uri, last)
	if len(seen) > 3 {
		t.Errorf("%d publications for %d changes (versions %v): not debounced", len(seen), last-1, seen)
	}
	// The last text's diagnostics, and hover answers from its check.
	var h *Hover
	c.call("textDocument/hover", map[string]any{"textDocument": map[string]any{"uri": uri}, "position": Position{0, 6}}, &h)
	time.Sleep(2 * debounce)
	select {
	case m := <-c.notes:
		var p publishDiagnosticsParams
		json.Unmarshal(m.Params, &p)
		t.Errorf("a stale publication after the last: %s version %d", m.Method, p.Version)
	default:
	}
}
