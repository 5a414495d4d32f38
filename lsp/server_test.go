package lsp

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/encc-lang/encc/compiler"
	"github.com/encc-lang/encc/internal/golden"
)

// A client drives a real server over a pair of pipes, framing messages
// exactly as over stdio.
type client struct {
	t      testing.TB
	w      io.WriteCloser
	conn   *conn
	nextID int
	notes  chan *message
	resps  chan *message
	done   chan error
}

func newClient(t testing.TB) *client {
	cr, sw := io.Pipe()
	sr, cw := io.Pipe()
	c := &client{t: t, w: cw, conn: newConn(cr, cw), notes: make(chan *message, 100), resps: make(chan *message, 100), done: make(chan error, 1)}
	go func() { c.done <- Serve(context.Background(), sr, sw, io.Discard); sw.Close() }()
	go func() {
		for {
			body, err := c.conn.read()
			if err != nil {
				close(c.notes)
				close(c.resps)
				return
			}
			var m message
			if err := json.Unmarshal(body, &m); err != nil {
				t.Errorf("bad message from server: %v", err)
				continue
			}
			if m.ID != nil && m.Method == "" {
				c.resps <- &m
			} else {
				c.notes <- &m
			}
		}
	}()
	c.call("initialize", map[string]any{"processId": nil, "rootUri": nil, "capabilities": map[string]any{}}, nil)
	c.notify("initialized", map[string]any{})
	return c
}

func (c *client) notify(method string, params any) {
	c.t.Helper()
	if err := c.conn.notify(method, params); err != nil {
		c.t.Fatal(err)
	}
}

// call sends a request and decodes its result into out.
func (c *client) call(method string, params any, out any) *rpcError {
	c.t.Helper()
	c.nextID++
	id := json.RawMessage(fmt.Sprint(c.nextID))
	raw, _ := json.Marshal(params)
	if err := c.conn.write(&message{ID: &id, Method: method, Params: raw}); err != nil {
		c.t.Fatal(err)
	}
	select {
	case m := <-c.resps:
		if m == nil {
			c.t.Fatal("server closed")
		}
		if string(*m.ID) != string(id) {
			c.t.Fatalf("response id %s, want %s", *m.ID, id)
		}
		if m.Error != nil {
			return m.Error
		}
		if out != nil {
			b, _ := json.Marshal(m.Result)
			if err := json.Unmarshal(b, out); err != nil {
				c.t.Fatal(err)
			}
		}
	case <-time.After(60 * time.Second):
		c.t.Fatalf("no response to %s", method)
	}
	return nil
}

// diagnostics waits for the next publishDiagnostics of uri.
func (c *client) diagnostics(uri string) publishDiagnosticsParams {
	c.t.Helper()
	timeout := time.After(60 * time.Second)
	for {
		select {
		case m := <-c.notes:
			if m == nil {
				c.t.Fatal("server closed")
			}
			if m.Method != "textDocument/publishDiagnostics" {
				continue
			}
			var p publishDiagnosticsParams
			json.Unmarshal(m.Params, &p)
			if p.URI == uri {
				return p
			}
		case <-timeout:
			c.t.Fatal("no diagnostics")
		}
	}
}

func (c *client) open(path string) (string, string) {
	c.t.Helper()
	text, err := os.ReadFile(path)
	if err != nil {
		c.t.Fatal(err)
	}
	uri := pathToURI(path)
	c.notify("textDocument/didOpen", map[string]any{"textDocument": map[string]any{"uri": uri, "languageId": "enc", "version": 1, "text": string(text)}})
	return uri, string(text)
}

func (c *client) close() {
	c.call("shutdown", nil, nil)
	c.notify("exit", nil)
	select {
	case <-c.done:
	case <-time.After(5 * time.Second):
		c.t.Fatal("server did not exit")
	}
}

// posOf finds the position of the n-th occurrence (0-based) of needle in
// text, plus delta characters.
func posOf(t testing.TB, text, needle string, n, delta int) Position {
	off := -1
	for i := 0; i <= n; i++ {
		j := strings.Index(text[off+1:], needle)
		if j < 0 {
			t.Fatalf("%q not found", needle)
		}
		off += 1 + j
	}
	return positionOf(text, off+delta)
}

func TestDiagnosticsMatchCheck(t *testing.T) {
	c := newClient(t)
	defer c.close()
	path, _ := filepath.Abs("../testdata/errors/shape_mismatch.enc")
	uri, _ := c.open(path)
	got := c.diagnostics(uri)
	_, want := compiler.CheckFile(path, nil)
	if len(got.Diagnostics) != 1 || len(want) != 1 {
		t.Fatalf("got %d diagnostics, encc check %d", len(got.Diagnostics), len(want))
	}
	d := got.Diagnostics[0]
	if d.Message != want[0].Msg || d.Range.Start.Line != want[0].Pos.Line-1 || d.Range.Start.Character != want[0].Pos.Col-1 {
		t.Errorf("lsp: %d:%d %s\ncheck: %s", d.Range.Start.Line+1, d.Range.Start.Character+1, d.Message, want[0])
	}
	if !strings.Contains(d.Message, "expects f32[B, 32], got f32[B, 64]") {
		t.Errorf("message %q", d.Message)
	}
	// Fixing the file clears the diagnostic.
	text, _ := os.ReadFile(path)
	fixed := strings.Replace(string(text), "Linear(32, 10)", "Linear(64, 10)", 1)
	c.notify("textDocument/didChange", map[string]any{"textDocument": map[string]any{"uri": uri, "version": 2},
		"contentChanges": []map[string]any{{"text": fixed}}})
	if got := c.diagnostics(uri); len(got.Diagnostics) != 0 {
		t.Errorf("after the fix: %+v", got.Diagnostics)
	}
}

func TestHoverShapes(t *testing.T) {
	c := newClient(t)
	defer c.close()
	path, _ := filepath.Abs("../examples/digits_mlp.enc")
	uri, text := c.open(path)
	c.diagnostics(uri)
	for _, tc := range []struct {
		needle string
		n      int
		want   string
	}{
		{"h = drop", 0, "h: f32[B, 128]"}, // the binding
		{"fc2(h)", 0, "fc2: Linear(in: 128, out: 64) — 8,256 parameters"},
		{"x |> encoder", 0, "x: f32[B, 64]"},   // a forward parameter
		{"Linear(in_dim", 0, "Linear(in: int"}, // a built-in
		{"encoder |> head", 0, "MLPEncoder(in_dim: 64"},
	} {
		var h Hover
		c.call("textDocument/hover", map[string]any{"textDocument": map[string]any{"uri": uri}, "position": posOf(t, text, tc.needle, tc.n, 0)}, &h)
		if !strings.Contains(h.Contents.Value, tc.want) {
			t.Errorf("hover on %q: %q, want %q", tc.needle, h.Contents.Value, tc.want)
		}
	}
	// The use of h inside fc2(h).
	var h Hover
	c.call("textDocument/hover", map[string]any{"textDocument": map[string]any{"uri": uri}, "position": posOf(t, text, "fc2(h)", 0, 4)}, &h)
	if !strings.Contains(h.Contents.Value, "h: f32[B, 128]") {
		t.Errorf("hover on the use of h: %q", h.Contents.Value)
	}
}

// goldenRequests runs a request at marked positions of each example and
// compares the answers with a golden file.
func TestGoldenRequests(t *testing.T) {
	c := newClient(t)
	defer c.close()
	path, _ := filepath.Abs("../examples/digits_finetune.enc")
	uri, text := c.open(path)
	c.diagnostics(uri)
	var sb strings.Builder
	td := map[string]any{"uri": uri}
	type probe struct {
		what, needle string
		n, delta     int
	}
	for _, pr := range []probe{
		{"definition", "encoder = MLPEncoder", 1, 10},       // model name → declaration
		{"definition", "x |> encoder", 0, 5},                // member → sub-layer
		{"definition", "data      = digits", 0, 12},         // dataset
		{"definition", "from(pretrain", 0, 5},               // train
		{"definition", "in_dim: 64, latent: latent", 0, 20}, // hyper-parameter
		{"completion", "head(encoder(x))", 0, 0},
		{"completion", "Adam(lr", 0, 5},
	} {
		pos := posOf(t, text, pr.needle, pr.n, pr.delta)
		fmt.Fprintf(&sb, "== %s at %q+%d (%d:%d)\n", pr.what, pr.needle, pr.delta, pos.Line+1, pos.Character+1)
		switch pr.what {
		case "definition":
			var locs []Location
			c.call("textDocument/definition", map[string]any{"textDocument": td, "position": pos}, &locs)
			for _, l := range locs {
				fmt.Fprintf(&sb, "%s %d:%d-%d:%d\n", filepath.Base(l.URI), l.Range.Start.Line+1, l.Range.Start.Character+1, l.Range.End.Line+1, l.Range.End.Character+1)
			}
		case "completion":
			var cl CompletionList
			c.call("textDocument/completion", map[string]any{"textDocument": td, "position": pos}, &cl)
			var labels []string
			for _, it := range cl.Items {
				labels = append(labels, it.Label)
			}
			if len(labels) > 25 {
				labels = append(labels[:25], "…")
			}
			fmt.Fprintf(&sb, "%s\n", strings.Join(labels, " "))
		}
	}
	// Completion after a dot: the members of the instance before it.
	edited := strings.Replace(text, "return head(encoder(x))", "return head(encoder.fc1(x))", 1)
	c.notify("textDocument/didChange", map[string]any{"textDocument": map[string]any{"uri": uri, "version": 2},
		"contentChanges": []map[string]any{{"text": edited}}})
	c.diagnostics(uri)
	var cl CompletionList
	pos := posOf(t, edited, "encoder.fc1(x)", 0, len("encoder."))
	c.call("textDocument/completion", map[string]any{"textDocument": td, "position": pos}, &cl)
	sb.WriteString("== completion after \"encoder.\"\n")
	for _, it := range cl.Items {
		sb.WriteString(it.Label + " ")
	}
	sb.WriteString("\n")
	c.notify("textDocument/didChange", map[string]any{"textDocument": map[string]any{"uri": uri, "version": 3},
		"contentChanges": []map[string]any{{"text": text}}})
	c.diagnostics(uri)
	var syms []DocumentSymbol
	c.call("textDocument/documentSymbol", map[string]any{"textDocument": td}, &syms)
	sb.WriteString("== symbols\n")
	var dump func([]DocumentSymbol, string)
	dump = func(ss []DocumentSymbol, indent string) {
		for _, s := range ss {
			fmt.Fprintf(&sb, "%s%s (%d) %s %d:%d\n", indent, s.Name, s.Kind, s.Detail, s.SelectionRange.Start.Line+1, s.SelectionRange.Start.Character+1)
			dump(s.Children, indent+"  ")
		}
	}
	dump(syms, "")
	golden.Check(t, "testdata/requests.golden", []byte(sb.String()))
}

func TestFormatting(t *testing.T) {
	c := newClient(t)
	defer c.close()
	dir := t.TempDir()
	path := filepath.Join(dir, "m.enc")
	messy := "model M {\nfc=Linear(4,4)\n    forward(x: f32[B,4]) -> f32[B,4] { return fc(x) }\n}\n"
	os.WriteFile(path, []byte(messy), 0o644)
	uri, _ := c.open(path)
	c.diagnostics(uri)
	var edits []TextEdit
	c.call("textDocument/formatting", map[string]any{"textDocument": map[string]any{"uri": uri}, "options": map[string]any{"tabSize": 4}}, &edits)
	if len(edits) != 1 {
		t.Fatalf("edits: %+v", edits)
	}
	golden.Check(t, "testdata/format.golden", []byte(edits[0].NewText))
}

func TestUTF16(t *testing.T) {
	text := "// é😀x\nab"
	// "é" is 2 bytes and 1 unit; "😀" is 4 bytes and 2 units.
	for _, tc := range []struct {
		off int
		pos Position
	}{{0, Position{0, 0}}, {3, Position{0, 3}}, {5, Position{0, 4}}, {9, Position{0, 6}}, {10, Position{0, 7}}, {11, Position{1, 0}}, {12, Position{1, 1}}} {
		if got := positionOf(text, tc.off); got != tc.pos {
			t.Errorf("positionOf(%d) = %v, want %v", tc.off, got, tc.pos)
		}
		if got := offsetOf(text, tc.pos); got != tc.off {
			t.Errorf("offsetOf(%v) = %d, want %d", tc.pos, got, tc.off)
		}
	}
}

func TestBadInput(t *testing.T) {
	c := newClient(t)
	defer c.close()
	// A request for a document that is not open, a bad position and an
	// unknown method get answers, not a crash.
	var h *Hover
	if err := c.call("textDocument/hover", map[string]any{"textDocument": map[string]any{"uri": "file:///nope.enc"}, "position": Position{99, 99}}, &h); err != nil {
		t.Errorf("hover on unknown doc: %v", err)
	}
	if err := c.call("textDocument/nonsense", map[string]any{}, nil); err == nil || err.Code != codeMethodNotFound {
		t.Errorf("unknown method: %v", err)
	}
	if err := c.call("textDocument/hover", "not an object", nil); err == nil || err.Code != codeInvalidParams {
		t.Errorf("bad params: %v", err)
	}
}

// FuzzEdits applies random edits to an open document and asks for
// everything after each: the server must never crash or hang.
func FuzzEdits(f *testing.F) {
	f.Add(uint64(1), "relu(", uint8(3))
	f.Add(uint64(7), "}", uint8(9))
	f.Add(uint64(42), "é😀", uint8(1))
	f.Add(uint64(3), "model", uint8(200))
	base, err := os.ReadFile("../examples/digits_finetune.enc")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, seed uint64, insert string, count uint8) {
		c := newClient(t)
		defer c.close()
		path := filepath.Join(t.TempDir(), "f.enc")
		os.WriteFile(path, base, 0o644)
		uri, text := c.open(path)
		c.diagnostics(uri)
		r := seed
		next := func(n int) int {
			r = r*6364136223846793005 + 1442695040888963407
			if n <= 0 {
				return 0
			}
			return int((r >> 33) % uint64(n))
		}
		for i := 0; i < int(count%8)+1; i++ {
			a := next(len(text) + 1)
			b := min(a+next(20), len(text))
			start, end := positionOf(text, a), positionOf(text, b)
			text = text[:a] + insert + text[b:]
			c.notify("textDocument/didChange", map[string]any{"textDocument": map[string]any{"uri": uri, "version": i + 2},
				"contentChanges": []map[string]any{{"range": Range{start, end}, "text": insert}}})
			c.diagnostics(uri)
			pos := positionOf(text, next(len(text)+1))
			td := map[string]any{"uri": uri}
			for _, m := range []string{"textDocument/hover", "textDocument/definition", "textDocument/completion"} {
				if err := c.call(m, map[string]any{"textDocument": td, "position": pos}, nil); err != nil && err.Code == codeInternalError {
					t.Fatalf("%s: %s", m, err.Message)
				}
			}
			for _, m := range []string{"textDocument/documentSymbol", "textDocument/formatting"} {
				if err := c.call(m, map[string]any{"textDocument": td}, nil); err != nil && err.Code == codeInternalError {
					t.Fatalf("%s: %s", m, err.Message)
				}
			}
		}
	})
}
