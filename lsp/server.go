package lsp

// This file implements the server: the message loop, the document
// store, and checking open documents.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"path/filepath"
	"runtime/debug"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/encc-lang/encc/compiler"
	"github.com/encc-lang/encc/internal/diag"
	"github.com/encc-lang/encc/lang"
)

// A Server answers one client over one connection.
type Server struct {
	conn *conn
	log  io.Writer
	ctx  context.Context

	mu          sync.Mutex
	docs        map[string]*document // by URI
	initialized bool
	shutdown    bool
	checks      sync.WaitGroup // running checks
	requests    sync.WaitGroup // requests waiting for a check
}

// A document is an open file and what checking it gave.
//
// Checks run in the background (check.go): text and version are the
// latest the client sent; prog, file, diags and checked are the result of
// the last finished check, of the text checked, which requests answer
// from.
type document struct {
	uri     string
	path    string
	version int
	text    string
	prog    *compiler.Program // nil when the file does not parse
	file    *lang.File        // the last parse, even with errors in other files
	diags   diag.List
	checked string // the text prog, file and diags are of

	gen        int                // bumped by every change: a check of an older gen is stale
	checkedGen int                // the gen prog, file and diags are of
	checkDone  chan struct{}      // closed (and replaced) when a check finishes
	timer      *time.Timer        // the pending (debounced) check
	cancel     context.CancelFunc // cancels the running check
	closed     bool
	checkTime  time.Duration // how long the last finished check took
}

// Serve runs a server on r and w until the client exits or r ends.
// Errors on stderr-like log (may be nil).
func Serve(ctx context.Context, r io.Reader, w io.Writer, log io.Writer) error {
	ctx, cancel := context.WithCancel(ctx)
	s := &Server{conn: newConn(r, w), log: log, docs: map[string]*document{}, ctx: ctx}
	s.conn.logf = s.logf
	err := s.loop(ctx)
	// Stop the checks still running: they publish nothing more.
	cancel()
	s.mu.Lock()
	for _, d := range s.docs {
		d.closed = true
		close(d.checkDone)
		d.checkDone = make(chan struct{})
		s.stopTimer(d)
	}
	s.mu.Unlock()
	// A check inside the parser cannot stop at once; it publishes nothing
	// more, so do not keep the client waiting for it long.
	done := make(chan struct{})
	go func() { s.checks.Wait(); s.requests.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(time.Second):
	}
	return err
}

func (s *Server) logf(format string, args ...any) {
	if s.log != nil {
		fmt.Fprintf(s.log, "encc lsp: "+format+"\n", args...)
	}
}

func (s *Server) loop(ctx context.Context) error {
	for {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		body, err := s.conn.read()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		var m message
		if err := json.Unmarshal(body, &m); err != nil {
			s.conn.write(&message{ID: nullID(), Error: &rpcError{codeParseError, err.Error()}})
			continue
		}
		if m.Method == "exit" {
			return nil
		}
		if uri := s.needsCheck(&m); uri != "" {
			// A request about a document whose latest text is not
			// checked yet waits for that check, off the loop: the
			// server goes on reading (other requests, more changes).
			s.requests.Add(1)
			go func(m message) {
				defer s.requests.Done()
				s.waitChecked(uri, requestWait)
				s.handle(&m)
			}(m)
			continue
		}
		s.handle(&m)
	}
}

// requestWait bounds how long a request waits for its document's check.
const requestWait = 30 * time.Second

// needsCheck returns the URI of the document a request answers from the
// last check (hover, definition, completion, symbols) when that check is
// not of the latest text; "" otherwise.
func (s *Server) needsCheck(m *message) string {
	switch m.Method {
	case "textDocument/hover", "textDocument/definition", "textDocument/completion", "textDocument/documentSymbol":
	default:
		return ""
	}
	var p struct {
		TextDocument textDocumentIdentifier `json:"textDocument"`
	}
	if json.Unmarshal(m.Params, &p) != nil {
		return ""
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if d := s.docs[p.TextDocument.URI]; d != nil && d.checkedGen != d.gen && !d.closed {
		return p.TextDocument.URI
	}
	return ""
}

// waitChecked waits until the document at uri is checked at its latest
// text (or closed), at most timeout.
func (s *Server) waitChecked(uri string, timeout time.Duration) {
	deadline := time.After(timeout)
	s.mu.Lock()
	for {
		d := s.docs[uri]
		if d == nil || d.closed || d.checkedGen == d.gen {
			s.mu.Unlock()
			return
		}
		ch := d.checkDone
		s.mu.Unlock()
		select {
		case <-ch:
		case <-deadline:
			return
		case <-s.ctx.Done():
			return
		}
		s.mu.Lock()
	}
}

func nullID() *json.RawMessage {
	raw := json.RawMessage("null")
	return &raw
}

// handle dispatches one message; a panic in a handler becomes an error
// response, never a crash.
func (s *Server) handle(m *message) {
	defer func() {
		if r := recover(); r != nil {
			s.logf("internal error in %s: %v\n%s", m.Method, r, debug.Stack())
			if m.ID != nil {
				s.conn.write(&message{ID: m.ID, Error: &rpcError{codeInternalError, fmt.Sprintf("internal error: %v", r)}})
			}
		}
	}()
	result, rerr := s.dispatch(m)
	if m.ID == nil { // notification
		return
	}
	if rerr != nil {
		s.conn.write(&message{ID: m.ID, Error: rerr})
		return
	}
	if result == nil {
		result = json.RawMessage("null")
	}
	s.conn.write(&message{ID: m.ID, Result: result})
}

func (s *Server) dispatch(m *message) (any, *rpcError) {
	if !s.initialized && m.Method != "initialize" {
		if m.ID == nil {
			return nil, nil
		}
		return nil, &rpcError{codeNotInitialized, "server not initialized"}
	}
	decode := func(v any) *rpcError {
		if err := json.Unmarshal(m.Params, v); err != nil {
			return &rpcError{codeInvalidParams, err.Error()}
		}
		return nil
	}
	switch m.Method {
	case "initialize":
		s.initialized = true
		return map[string]any{
			"capabilities": map[string]any{
				"positionEncoding":           "utf-16",
				"textDocumentSync":           map[string]any{"openClose": true, "change": 1},
				"hoverProvider":              true,
				"definitionProvider":         true,
				"documentSymbolProvider":     true,
				"documentFormattingProvider": true,
				"completionProvider":         map[string]any{"triggerCharacters": []string{".", "(", ","}},
			},
			"serverInfo": map[string]any{"name": "encc", "version": version()},
		}, nil
	case "initialized", "$/cancelRequest", "$/setTrace", "workspace/didChangeConfiguration":
		return nil, nil
	case "shutdown":
		s.shutdown = true
		return nil, nil
	case "textDocument/didOpen":
		var p didOpenParams
		if e := decode(&p); e != nil {
			return nil, e
		}
		s.open(p.TextDocument.URI, p.TextDocument.Version, p.TextDocument.Text)
		return nil, nil
	case "textDocument/didChange":
		var p didChangeParams
		if e := decode(&p); e != nil {
			return nil, e
		}
		s.change(p)
		return nil, nil
	case "textDocument/didClose":
		var p didCloseParams
		if e := decode(&p); e != nil {
			return nil, e
		}
		s.mu.Lock()
		if d := s.docs[p.TextDocument.URI]; d != nil {
			d.closed = true
			close(d.checkDone)
			d.checkDone = make(chan struct{})
			s.stopTimer(d)
			if d.cancel != nil {
				d.cancel()
			}
		}
		delete(s.docs, p.TextDocument.URI)
		s.mu.Unlock()
		s.conn.notify("textDocument/publishDiagnostics", publishDiagnosticsParams{URI: p.TextDocument.URI, Diagnostics: []Diagnostic{}})
		return nil, nil
	case "textDocument/hover":
		var p positionParams
		if e := decode(&p); e != nil {
			return nil, e
		}
		return s.hover(p), nil
	case "textDocument/definition":
		var p positionParams
		if e := decode(&p); e != nil {
			return nil, e
		}
		return s.definition(p), nil
	case "textDocument/completion":
		var p positionParams
		if e := decode(&p); e != nil {
			return nil, e
		}
		return s.completion(p), nil
	case "textDocument/documentSymbol":
		var p struct {
			TextDocument textDocumentIdentifier `json:"textDocument"`
		}
		if e := decode(&p); e != nil {
			return nil, e
		}
		return s.symbols(p.TextDocument.URI), nil
	case "textDocument/formatting":
		var p struct {
			TextDocument textDocumentIdentifier `json:"textDocument"`
		}
		if e := decode(&p); e != nil {
			return nil, e
		}
		return s.format(p.TextDocument.URI), nil
	}
	if m.ID == nil || strings.HasPrefix(m.Method, "$/") {
		return nil, nil
	}
	return nil, &rpcError{codeMethodNotFound, "method not supported: " + m.Method}
}

func version() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "devel"
}

// uriToPath turns a file:// URI into a path; other URIs are used as they
// are (unsaved buffers).
func uriToPath(uri string) string {
	u, err := url.Parse(uri)
	if err != nil || u.Scheme != "file" {
		return uri
	}
	return filepath.FromSlash(u.Path)
}

func pathToURI(path string) string {
	abs, err := filepath.Abs(path)
	if err != nil {
		abs = path
	}
	return (&url.URL{Scheme: "file", Path: filepath.ToSlash(abs)}).String()
}

func (s *Server) open(uri string, version int, text string) {
	s.mu.Lock()
	if old := s.docs[uri]; old != nil { // opened twice: the old one is stale
		old.closed = true
		close(old.checkDone)
		old.checkDone = make(chan struct{})
		s.stopTimer(old)
	}
	d := &document{uri: uri, path: uriToPath(uri), version: version, text: text, checkDone: make(chan struct{})}
	s.docs[uri] = d
	s.mu.Unlock()
	s.schedule(d, 0)
}

func (s *Server) change(p didChangeParams) {
	s.mu.Lock()
	d, ok := s.docs[p.TextDocument.URI]
	if !ok {
		s.mu.Unlock()
		return
	}
	for _, ch := range p.ContentChanges {
		if ch.Range == nil {
			d.text = ch.Text
			continue
		}
		a, b := offsetOf(d.text, ch.Range.Start), offsetOf(d.text, ch.Range.End)
		if a > b {
			a, b = b, a
		}
		d.text = d.text[:a] + ch.Text + d.text[b:]
	}
	d.version = p.TextDocument.Version
	delay := changeDelay(d)
	s.mu.Unlock()
	s.schedule(d, delay)
}

// changeDelay returns how long to wait after a change of d before
// checking it; s.mu is held. A file whose last check was fast, with no
// check of an older text still pending or running, is checked at once:
// an editor sees its diagnostics within the time of a check. Otherwise
// the change waits for debounce (and cancels the check of the older
// text): checks are slow, or changes arrive faster than checks finish,
// so typing a word checks once rather than once per key.
func changeDelay(d *document) time.Duration {
	if d.checkTime <= fastCheck && d.checkedGen == d.gen {
		return 0
	}
	return debounce
}

// readFile reads imports, preferring open documents' unsaved text.
func (s *Server) readFile(path string) ([]byte, error) {
	s.mu.Lock()
	for _, d := range s.docs {
		if d.path == path {
			text := d.text
			s.mu.Unlock()
			return []byte(text), nil
		}
	}
	s.mu.Unlock()
	return compiler.ReadSource(path)
}

// debounce is how long the server waits after a change before checking
// when checks are slow or changes come faster than checks finish:
// typing a word checks once, not once per key.
const debounce = 150 * time.Millisecond

// fastCheck is the longest check after which the next change is checked
// at once.
const fastCheck = 50 * time.Millisecond

// schedule checks d after delay, in the background, so that the message
// loop keeps answering while a large file is checked. A newer change
// cancels the check of the older text (its result is dropped) and
// restarts the delay.
func (s *Server) schedule(d *document, delay time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d.gen++
	s.stopTimer(d)
	if d.cancel != nil {
		d.cancel()
		d.cancel = nil
	}
	gen := d.gen
	s.checks.Add(1)
	d.timer = time.AfterFunc(delay, func() {
		defer s.checks.Done()
		s.check(d, gen)
	})
}

// stopTimer stops the pending check of d, if any. s.mu is held.
func (s *Server) stopTimer(d *document) {
	if d.timer != nil && d.timer.Stop() {
		s.checks.Done() // its function will not run
	}
	d.timer = nil
}

// check checks generation gen of a document and publishes its
// diagnostics, unless the text has changed meanwhile.
func (s *Server) check(d *document, gen int) {
	s.mu.Lock()
	if d.gen != gen || d.closed {
		s.mu.Unlock()
		return
	}
	ctx, cancel := context.WithCancel(s.ctx)
	defer cancel()
	d.cancel = cancel
	text, version := d.text, d.version
	s.mu.Unlock()
	defer func() {
		if r := recover(); r != nil {
			s.logf("internal error checking %s: %v\n%s", d.path, r, debug.Stack())
		}
	}()

	start := time.Now()
	prog, diags := compiler.Check(d.path, []byte(text), &compiler.Options{ReadFile: s.readFile, Context: ctx})
	var f *lang.File
	if prog != nil && prog.Root != nil {
		f = prog.Root // parsed once, by Check
	} else {
		f, _ = lang.Parse(d.path, []byte(text))
	}
	took := time.Since(start)
	s.mu.Lock()
	if ctx.Err() == nil || took > d.checkTime {
		d.checkTime = took // a cancelled check took at least this long
	}
	if d.gen != gen || d.closed || ctx.Err() != nil {
		s.mu.Unlock()
		return
	}
	d.prog, d.diags, d.file, d.checked = prog, diags, f, text
	d.checkedGen = gen
	close(d.checkDone)
	d.checkDone = make(chan struct{})
	d.cancel = nil
	s.mu.Unlock()
	out := []Diagnostic{}
	for _, dg := range diags {
		if dg.Pos.File != d.path {
			// An error in an imported file: show it on the import line.
			if imp := importOf(f, dg.Pos.File, d.path); imp != nil {
				out = append(out, Diagnostic{Range: Range{positionOf(text, imp.Pos().Offset), positionOf(text, imp.End().Offset)}, Severity: 1, Source: "encc",
					Message: fmt.Sprintf("%s: %s", dg.Pos, diag.Clean(dg.Msg))})
			}
			continue
		}
		dd := Diagnostic{Severity: 1, Source: "encc", Message: diag.Clean(dg.Msg)}
		if dg.Severity == diag.Warning {
			dd.Severity = 2
		}
		start := fromDiag(text, dg.Pos)
		end := start
		if dg.End.IsValid() {
			end = fromDiag(text, dg.End)
		} else {
			end = wordEnd(text, start)
		}
		dd.Range = Range{start, end}
		for _, n := range dg.Notes {
			loc := Location{URI: d.uri}
			if n.Pos.File == d.path {
				p := fromDiag(text, n.Pos)
				loc.Range = Range{p, p}
			} else {
				loc.URI = pathToURI(n.Pos.File)
				p := Position{Line: max(n.Pos.Line-1, 0), Character: max(n.Pos.Col-1, 0)}
				loc.Range = Range{p, p}
			}
			dd.RelatedInformation = append(dd.RelatedInformation, DiagnosticRelatedInformation{Location: loc, Message: diag.Clean(n.Msg)})
		}
		out = append(out, dd)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Range.Start.Line < out[j].Range.Start.Line })
	s.conn.notify("textDocument/publishDiagnostics", publishDiagnosticsParams{URI: d.uri, Version: version, Diagnostics: out})
}

// wordEnd extends an empty range to the end of the word at p.
func wordEnd(text string, p Position) Position {
	off := offsetOf(text, p)
	end := off
	for end < len(text) && (isWordByte(text[end])) {
		end++
	}
	if end == off && end < len(text) && text[end] != '\n' {
		end++
	}
	return positionOf(text, end)
}

func isWordByte(b byte) bool {
	return b == '_' || b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9'
}

func importOf(f *lang.File, file, from string) *lang.Import {
	if f == nil {
		return nil
	}
	for _, imp := range f.Imports {
		p := imp.Path
		if !filepath.IsAbs(p) {
			p = filepath.Join(filepath.Dir(from), p)
		}
		if p == file {
			return imp
		}
	}
	return nil
}

func (s *Server) nodeRange(d *document, n lang.Node) Range {
	return Range{Start: positionOf(d.text, n.Pos().Offset), End: positionOf(d.text, n.End().Offset)}
}

// doc returns a copy of the document at uri as of its last finished
// check: its text is the text checked, so that positions in it agree
// with prog and file. Nil when the document is not open.
func (s *Server) doc(uri string) *document {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.docs[uri]
	if d == nil {
		return nil
	}
	cp := *d
	cp.text = d.checked
	return &cp
}

// latest returns a copy of the document at uri with the latest text.
func (s *Server) latest(uri string) *document {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.docs[uri]
	if d == nil {
		return nil
	}
	cp := *d
	return &cp
}
