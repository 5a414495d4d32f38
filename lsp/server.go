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

	"github.com/encc-lang/encc/compiler"
	"github.com/encc-lang/encc/internal/diag"
	"github.com/encc-lang/encc/lang"
)

// A Server answers one client over one connection.
type Server struct {
	conn *conn
	log  io.Writer

	mu          sync.Mutex
	docs        map[string]*document // by URI
	initialized bool
	shutdown    bool
}

// A document is an open file and what checking it gave.
type document struct {
	uri     string
	path    string
	version int
	text    string
	prog    *compiler.Program // nil when the file does not parse
	file    *lang.File        // the last parse, even with errors in other files
	diags   diag.List
}

// Serve runs a server on r and w until the client exits or r ends.
// Errors on stderr-like log (may be nil).
func Serve(ctx context.Context, r io.Reader, w io.Writer, log io.Writer) error {
	s := &Server{conn: newConn(r, w), log: log, docs: map[string]*document{}}
	return s.loop(ctx)
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
		s.handle(&m)
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
	d := &document{uri: uri, path: uriToPath(uri), version: version, text: text}
	s.docs[uri] = d
	s.mu.Unlock()
	s.check(d)
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
	s.mu.Unlock()
	s.check(d)
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

// check re-checks a document and publishes its diagnostics.
func (s *Server) check(d *document) {
	prog, diags := compiler.Check(d.path, []byte(d.text), &compiler.Options{ReadFile: s.readFile})
	f, _ := lang.Parse(d.path, []byte(d.text))
	s.mu.Lock()
	d.prog, d.diags, d.file = prog, diags, f
	s.mu.Unlock()
	out := []Diagnostic{}
	for _, dg := range diags {
		if dg.Pos.File != d.path {
			// An error in an imported file: show it on the import line.
			if imp := importOf(f, dg.Pos.File, d.path); imp != nil {
				out = append(out, Diagnostic{Range: s.nodeRange(d, imp), Severity: 1, Source: "encc",
					Message: fmt.Sprintf("%s: %s", dg.Pos, dg.Msg)})
			}
			continue
		}
		dd := Diagnostic{Severity: 1, Source: "encc", Message: dg.Msg}
		if dg.Severity == diag.Warning {
			dd.Severity = 2
		}
		start := fromDiag(d.text, dg.Pos)
		end := start
		if dg.End.IsValid() {
			end = fromDiag(d.text, dg.End)
		} else {
			end = wordEnd(d.text, start)
		}
		dd.Range = Range{start, end}
		for _, n := range dg.Notes {
			loc := Location{URI: d.uri}
			if n.Pos.File == d.path {
				p := fromDiag(d.text, n.Pos)
				loc.Range = Range{p, p}
			} else {
				loc.URI = pathToURI(n.Pos.File)
				p := Position{Line: max(n.Pos.Line-1, 0), Character: max(n.Pos.Col-1, 0)}
				loc.Range = Range{p, p}
			}
			dd.RelatedInformation = append(dd.RelatedInformation, DiagnosticRelatedInformation{Location: loc, Message: n.Msg})
		}
		out = append(out, dd)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Range.Start.Line < out[j].Range.Start.Line })
	s.conn.notify("textDocument/publishDiagnostics", publishDiagnosticsParams{URI: d.uri, Version: d.version, Diagnostics: out})
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

func (s *Server) doc(uri string) *document {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.docs[uri]
}
