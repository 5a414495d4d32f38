// Package diag holds source positions and diagnostics shared by every
// stage of encc: the parser, the checker, the IR passes and the CLI.
//
// A Diagnostic is "file:line:col: message" plus the offending source line
// with a caret, and optional notes that carry their own positions. A List
// collects diagnostics, sorts them by position, removes duplicates and
// keeps at most MaxErrors of them.
package diag

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// MaxErrors is the number of diagnostics a List keeps.
const MaxErrors = 10

// A Pos is a position in a source file. Line and Col are 1-based; Col
// counts bytes. Offset is the 0-based byte offset. The zero Pos is "no
// position".
type Pos struct {
	File   string
	Offset int
	Line   int
	Col    int
}

// IsValid reports whether p names a position.
func (p Pos) IsValid() bool { return p.Line > 0 }

// String formats p as file:line:col (or line:col without a file).
func (p Pos) String() string {
	switch {
	case !p.IsValid() && p.File == "":
		return "-"
	case !p.IsValid():
		return p.File
	case p.File == "":
		return fmt.Sprintf("%d:%d", p.Line, p.Col)
	}
	return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Col)
}

// Before reports whether p comes before q (file, then offset).
func (p Pos) Before(q Pos) bool {
	if p.File != q.File {
		return p.File < q.File
	}
	if p.Line != q.Line {
		return p.Line < q.Line
	}
	return p.Col < q.Col
}

// A Span is a half-open range [Start, End) in one file.
type Span struct {
	Start, End Pos
}

// A Note is extra information attached to a Diagnostic, at its own
// position ("declared here").
type Note struct {
	Pos Pos
	Msg string
}

// Severity tells errors from warnings.
type Severity int

const (
	Error Severity = iota
	Warning
)

func (s Severity) String() string {
	if s == Warning {
		return "warning"
	}
	return "error"
}

// A Diagnostic is one message about the source.
type Diagnostic struct {
	Pos      Pos
	End      Pos // optional end of the offending range
	Severity Severity
	Msg      string
	Notes    []Note
}

// Error implements error: "file:line:col: message", the message made
// safe for a terminal by Clean.
func (d *Diagnostic) Error() string {
	return d.Pos.String() + ": " + Clean(d.Msg)
}

// maxWord is the longest run of non-blank bytes Clean leaves whole.
const maxWord = 80

// Clean makes a message safe and short enough to print: control
// characters (ESC, BEL, CR...) and invalid UTF-8 bytes, which a message
// may quote from the source, are written as Go escapes, so that they
// cannot drive the terminal, and a run of more than maxWord non-blank
// bytes (a name a million characters long) keeps its start and end
// around "…".
func Clean(msg string) string {
	if isClean(msg) {
		return msg
	}
	var sb strings.Builder
	for i, w := range strings.Split(msg, " ") {
		if i > 0 {
			sb.WriteByte(' ')
		}
		w = escape(w)
		if len(w) > maxWord {
			w = cutUTF8(w, maxWord/2, true) + "…" + cutUTF8(w, maxWord/4, false)
		}
		sb.WriteString(w)
	}
	return sb.String()
}

func isClean(s string) bool {
	run := 0
	for _, r := range s {
		if r == ' ' {
			run = 0
			continue
		}
		run++
		if run > maxWord || isControl(r) {
			return false
		}
	}
	return true
}

func isControl(r rune) bool {
	return r < 0x20 && r != '\t' || r == 0x7f || r >= 0x80 && r < 0xa0 || r == utf8.RuneError
}

// escape writes control characters and invalid bytes of s as Go escapes.
func escape(s string) string {
	var sb strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if isControl(r) {
			if r == utf8.RuneError && n == 3 { // a real U+FFFD
				sb.WriteString(s[i : i+n])
			} else {
				q := strconv.QuoteToASCII(s[i : i+n])
				sb.WriteString(q[1 : len(q)-1])
			}
		} else {
			sb.WriteString(s[i : i+n])
		}
		i += n
	}
	return sb.String()
}

// cutUTF8 returns about n bytes from the start (or the end) of s, cut at
// a rune boundary.
func cutUTF8(s string, n int, head bool) string {
	if head {
		for n > 0 && !utf8.RuneStart(s[n]) {
			n--
		}
		return s[:n]
	}
	i := len(s) - n
	for i < len(s) && !utf8.RuneStart(s[i]) {
		i++
	}
	return s[i:]
}

// Errorf makes an error Diagnostic at pos.
func Errorf(pos Pos, format string, args ...any) *Diagnostic {
	return &Diagnostic{Pos: pos, Msg: fmt.Sprintf(format, args...)}
}

// WithNote adds a note and returns d.
func (d *Diagnostic) WithNote(pos Pos, format string, args ...any) *Diagnostic {
	d.Notes = append(d.Notes, Note{Pos: pos, Msg: fmt.Sprintf(format, args...)})
	return d
}

// WithEnd sets the end of the offending range and returns d.
func (d *Diagnostic) WithEnd(end Pos) *Diagnostic {
	d.End = end
	return d
}

// A List is a list of diagnostics. Its zero value is ready to use.
type List []*Diagnostic

// Add appends d.
func (l *List) Add(d *Diagnostic) { *l = append(*l, d) }

// Errorf appends a new error at pos and returns it so notes can be added.
func (l *List) Errorf(pos Pos, format string, args ...any) *Diagnostic {
	d := Errorf(pos, format, args...)
	l.Add(d)
	return d
}

// Len reports the number of diagnostics.
func (l List) Len() int { return len(l) }

// HasErrors reports whether l holds at least one error.
func (l List) HasErrors() bool {
	for _, d := range l {
		if d.Severity == Error {
			return true
		}
	}
	return false
}

// Sort sorts l by position, removes exact duplicates and keeps at most
// MaxErrors entries.
func (l *List) Sort() {
	s := *l
	sort.SliceStable(s, func(i, j int) bool { return s[i].Pos.Before(s[j].Pos) })
	out := s[:0]
	for i, d := range s {
		if i > 0 && d.Pos == s[i-1].Pos && d.Msg == s[i-1].Msg {
			continue
		}
		out = append(out, d)
	}
	if len(out) > MaxErrors {
		out = out[:MaxErrors]
	}
	*l = out
}

// Err returns l as an error, or nil when l is empty.
func (l List) Err() error {
	if len(l) == 0 {
		return nil
	}
	return l
}

// Error implements error: the first diagnostic, and how many more.
func (l List) Error() string {
	switch len(l) {
	case 0:
		return "no errors"
	case 1:
		return l[0].Error()
	}
	return fmt.Sprintf("%s (and %d more errors)", l[0].Error(), len(l)-1)
}

// A SourceFunc returns the text of a file by name, for printing source
// lines under messages. It may return nil.
type SourceFunc func(file string) []byte

// Print writes every diagnostic in the long form: the message, the source
// line with a caret under the column, and the notes.
func Print(sb *strings.Builder, l List, src SourceFunc) {
	for _, d := range l {
		fmt.Fprintf(sb, "%s: %s\n", d.Pos, Clean(d.Msg))
		if line, ok := sourceLine(src, d.Pos); ok {
			writeCaret(sb, line, d.Pos, d.End)
		}
		for _, n := range d.Notes {
			fmt.Fprintf(sb, "\t%s: note: %s\n", n.Pos, Clean(n.Msg))
		}
	}
}

// Short writes one line per diagnostic and note, without source lines.
func Short(sb *strings.Builder, l List) {
	for _, d := range l {
		fmt.Fprintf(sb, "%s: %s\n", d.Pos, Clean(d.Msg))
		for _, n := range d.Notes {
			fmt.Fprintf(sb, "\t%s: note: %s\n", n.Pos, Clean(n.Msg))
		}
	}
}

// sourceLine returns line p.Line of p.File. Lines end at "\n", "\r\n"
// or a lone "\r", as the parser counts them.
func sourceLine(src SourceFunc, p Pos) (string, bool) {
	if src == nil || !p.IsValid() {
		return "", false
	}
	text := src(p.File)
	if text == nil {
		return "", false
	}
	line := 1
	for len(text) > 0 {
		i := 0
		for i < len(text) && text[i] != '\n' && text[i] != '\r' {
			i++
		}
		if line == p.Line {
			return string(text[:i]), true
		}
		if i < len(text) && text[i] == '\r' && i+1 < len(text) && text[i+1] == '\n' {
			i++
		}
		if i == len(text) {
			break
		}
		text = text[i+1:]
		line++
	}
	if line == p.Line {
		return "", true
	}
	return "", false
}

// maxLine is the longest source line writeCaret shows whole; a longer one
// is shown as a window around the column.
const maxLine = 160

// writeCaret writes line under a message with a caret under columns
// [p.Col, end.Col). Control characters are escaped (the caret moves with
// them) and a long line is cut to a window around the caret.
func writeCaret(sb *strings.Builder, line string, p, end Pos) {
	col := p.Col - 1 // 0-based byte offset of the caret
	n := 1
	if end.IsValid() && end.Line == p.Line && end.Col > p.Col {
		n = end.Col - p.Col
	}
	col = min(col, len(line))
	lo, hi := 0, len(line)
	if hi > maxLine {
		lo = max(0, col-maxLine/2)
		hi = min(len(line), lo+maxLine)
		for lo > 0 && !utf8.RuneStart(line[lo]) {
			lo--
		}
		for hi < len(line) && !utf8.RuneStart(line[hi]) {
			hi++
		}
	}
	var text, pad strings.Builder
	if lo > 0 {
		text.WriteString("…")
		pad.WriteByte(' ')
	}
	width := 0
	for i := lo; i < hi; {
		r, size := utf8.DecodeRuneInString(line[i:])
		s := line[i : i+size]
		if r == '\t' {
			// kept: the pad below copies it
		} else if isControl(r) && !(r == utf8.RuneError && size == 3) {
			s = escape(s)
		}
		text.WriteString(s)
		switch {
		case i < col && r == '\t':
			pad.WriteByte('\t')
		case i < col:
			pad.WriteString(strings.Repeat(" ", utf8.RuneCountInString(s)))
		case i < col+n:
			width += utf8.RuneCountInString(s)
		}
		i += size
	}
	if hi < len(line) {
		text.WriteString("…")
	}
	sb.WriteString("\t" + text.String() + "\n\t" + pad.String())
	sb.WriteString(strings.Repeat("^", max(1, min(width, maxLine))) + "\n")
}

// jsonDiag is the --json form of a Diagnostic, for tools.
type jsonDiag struct {
	File     string     `json:"file"`
	Line     int        `json:"line"`
	Col      int        `json:"col"`
	EndLine  int        `json:"endLine,omitempty"`
	EndCol   int        `json:"endCol,omitempty"`
	Severity string     `json:"severity"`
	Message  string     `json:"message"`
	Notes    []jsonNote `json:"notes,omitempty"`
}

type jsonNote struct {
	File    string `json:"file"`
	Line    int    `json:"line"`
	Col     int    `json:"col"`
	Message string `json:"message"`
}

// JSON renders l as a JSON array for tools (encc check --json).
func JSON(l List) ([]byte, error) {
	out := make([]jsonDiag, 0, len(l))
	for _, d := range l {
		j := jsonDiag{File: d.Pos.File, Line: d.Pos.Line, Col: d.Pos.Col,
			Severity: d.Severity.String(), Message: Clean(d.Msg)}
		if d.End.IsValid() {
			j.EndLine, j.EndCol = d.End.Line, d.End.Col
		}
		for _, n := range d.Notes {
			j.Notes = append(j.Notes, jsonNote{n.Pos.File, n.Pos.Line, n.Pos.Col, Clean(n.Msg)})
		}
		out = append(out, j)
	}
	return json.MarshalIndent(out, "", "  ")
}

// Suggest returns the candidate nearest to name by edit distance, or ""
// when none is close enough to be a likely typo. Ties go to the earlier
// candidate.
func Suggest(name string, candidates []string) string {
	limit := min(3, 1+len(name)/3)
	best, bestD := "", limit+1
	for _, c := range candidates {
		if c == name {
			continue
		}
		if d := editDistance(name, c); d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
