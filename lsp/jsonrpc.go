package lsp

// This file implements the JSON-RPC 2.0 transport of the Language
// Server Protocol: messages framed by a Content-Length header.

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
)

// A message is a request, a response or a notification.
type message struct {
	JSONRPC string           `json:"jsonrpc"`
	ID      *json.RawMessage `json:"id,omitempty"`
	Method  string           `json:"method,omitempty"`
	Params  json.RawMessage  `json:"params,omitempty"`
	Result  any              `json:"result,omitempty"`
	Error   *rpcError        `json:"error,omitempty"`
}

type rpcError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

// JSON-RPC and LSP error codes.
const (
	codeParseError     = -32700
	codeInvalidRequest = -32600
	codeMethodNotFound = -32601
	codeInvalidParams  = -32602
	codeInternalError  = -32603
	codeNotInitialized = -32002
)

// maxMessage bounds a message body, so a bad header cannot exhaust memory.
const maxMessage = 64 << 20

// A conn reads and writes framed messages.
type conn struct {
	r  *bufio.Reader
	mu sync.Mutex
	w  io.Writer
	// logf, when set, is told about framing errors that read skipped.
	logf func(format string, args ...any)
	// pending is the start of a header line that resync consumed.
	pending string
}

func newConn(r io.Reader, w io.Writer) *conn {
	return &conn{r: bufio.NewReader(r), w: w}
}

// A frameError is a message whose header cannot be used: the stream can
// resynchronize at the next "Content-Length:" header.
type frameError struct{ msg string }

func (e *frameError) Error() string { return e.msg }

// read returns the body of the next message. A bad header (a length that
// is not a number, negative or too large, a message without a length, a
// line that is not a header) is logged and skipped: read looks for the
// next "Content-Length:" header and goes on from there, so one bad
// message from a client does not end the session. It returns io.EOF at
// the end of the stream, and another error when the stream ends inside
// a message or after an error with no message following.
func (c *conn) read() ([]byte, error) {
	for {
		body, err := c.readFrame()
		var fe *frameError
		if !errors.As(err, &fe) {
			return body, err
		}
		if c.logf != nil {
			c.logf("%v; skipping to the next message", fe)
		}
		if err := c.resync(); err != nil {
			if errors.Is(err, io.EOF) {
				return nil, fmt.Errorf("%v, and no message follows", fe)
			}
			return nil, err
		}
	}
}

const contentLength = "content-length:"

// resync reads up to and including the next "Content-Length:" (in any
// case) and leaves it pending for readFrame.
func (c *conn) resync() error {
	matched := 0
	for {
		b, err := c.r.ReadByte()
		if err != nil {
			return err
		}
		switch {
		case b|0x20 == contentLength[matched]:
			matched++
		case b|0x20 == contentLength[0]:
			matched = 1
		default:
			matched = 0
		}
		if matched == len(contentLength) {
			c.pending = "Content-Length:"
			return nil
		}
	}
}

func (c *conn) readFrame() ([]byte, error) {
	length := -1
	start := true // nothing of this message read yet
	for {
		line, err := c.r.ReadString('\n')
		line, c.pending = c.pending+line, ""
		if err != nil {
			if errors.Is(err, io.EOF) && start && line == "" {
				return nil, io.EOF
			}
			if errors.Is(err, io.EOF) {
				return nil, fmt.Errorf("the stream ended inside a message header")
			}
			return nil, err
		}
		start = false
		line = strings.TrimRight(line, "\r\n")
		if line == "" {
			break
		}
		name, value, ok := strings.Cut(line, ":")
		if !ok {
			return nil, &frameError{fmt.Sprintf("bad header line %.80q", line)}
		}
		if strings.EqualFold(strings.TrimSpace(name), "Content-Length") {
			n, err := strconv.Atoi(strings.TrimSpace(value))
			if err != nil || n < 0 {
				return nil, &frameError{fmt.Sprintf("bad Content-Length %.80q", strings.TrimSpace(value))}
			}
			if n > maxMessage {
				// The length is known: skip the body and stay in step.
				if _, err := c.skipHeadersAndBody(int64(n)); err != nil {
					return nil, err
				}
				return nil, &frameError{fmt.Sprintf("message of %d bytes is over the limit of %d", n, maxMessage)}
			}
			length = n
		}
	}
	if length < 0 {
		return nil, &frameError{"message without Content-Length"}
	}
	body := make([]byte, length)
	if n, err := io.ReadFull(c.r, body); err != nil {
		return nil, fmt.Errorf("the stream ended inside a message body (%d of %d bytes)", n, length)
	}
	return body, nil
}

// skipHeadersAndBody reads the rest of a header and n bytes of body.
func (c *conn) skipHeadersAndBody(n int64) (int64, error) {
	for {
		line, err := c.r.ReadString('\n')
		if err != nil {
			return 0, fmt.Errorf("the stream ended inside a message header")
		}
		if strings.TrimRight(line, "\r\n") == "" {
			break
		}
	}
	return io.CopyN(io.Discard, c.r, n)
}

// write sends one message.
func (c *conn) write(m *message) error {
	m.JSONRPC = "2.0"
	body, err := json.Marshal(m)
	if err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, err := fmt.Fprintf(c.w, "Content-Length: %d\r\n\r\n", len(body)); err != nil {
		return err
	}
	_, err = c.w.Write(body)
	return err
}

func (c *conn) notify(method string, params any) error {
	raw, err := json.Marshal(params)
	if err != nil {
		return err
	}
	return c.write(&message{Method: method, Params: raw})
}
