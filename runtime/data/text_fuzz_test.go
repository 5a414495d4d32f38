package data

import (
	"strings"
	"testing"
)

// FuzzTextParsers checks that the text readers and header stripping never
// panic, that a stripped text is a suffix of the input, and that every
// document read has a non-blank text and a label.
func FuzzTextParsers(f *testing.F) {
	f.Add("text,label\n\"a\nb\",x\n")
	f.Add(`{"text": "Subject: a` + "\\n\\n" + `b", "label": 1}` + "\n")
	f.Add("From a\nSubject: x\n\tmore\n\nbody")
	f.Fuzz(func(t *testing.T, s string) {
		if body, ok := StripEmailHeaders(s); !strings.HasSuffix(s, body) || ok && len(body) >= len(s) || !ok && body != s {
			t.Fatalf("StripEmailHeaders(%q) = %q, %v", s, body, ok)
		}
		for _, parse := range []func(string, []byte, TextOptions) (*Corpus, error){ParseTextCSV, ParseJSONL} {
			c, err := parse("f", []byte(s), TextOptions{StripHeaders: true})
			if err != nil {
				if _, ok := err.(*Error); !ok {
					t.Fatalf("error %T %v, want *Error", err, err)
				}
				continue
			}
			for _, d := range c.Docs {
				if d.Label == "" {
					t.Fatalf("document %s has no label", d.Where)
				}
			}
		}
	})
}
