package data

import "strings"

// StripEmailHeaders returns the body of an e-mail: text with everything
// up to and including the first blank line removed, when text starts
// with RFC 822 (RFC 5322) headers. It reports whether it removed
// anything. The rule:
//
//   - the first line may be an mbox "From " line (the envelope sender,
//     as in the SpamAssassin corpus);
//   - then come header fields, "Name: value", the name being one or more
//     printable ASCII characters other than space and ":" directly
//     followed by ":", each possibly continued on lines that start with a
//     space or a tab;
//   - at least one header field is needed, and the headers end at the
//     first blank line (empty, or a lone "\r").
//
// If any line before the first blank line is neither (or there is no
// blank line), text is not an e-mail with headers and is returned
// unchanged. Lines end with "\n" or "\r\n".
func StripEmailHeaders(text string) (string, bool) {
	rest := text
	fields := 0
	first := true
	for {
		i := strings.IndexByte(rest, '\n')
		if i < 0 {
			return text, false // no blank line
		}
		line := strings.TrimSuffix(rest[:i], "\r")
		rest = rest[i+1:]
		switch {
		case line == "":
			if fields == 0 {
				return text, false
			}
			return rest, true
		case first && strings.HasPrefix(line, "From "):
		case line[0] == ' ' || line[0] == '\t':
			if fields == 0 {
				return text, false // a continuation of nothing
			}
		case isHeaderField(line):
			fields++
		default:
			return text, false
		}
		first = false
	}
}

// isHeaderField reports whether line starts with a field name and ":".
func isHeaderField(line string) bool {
	for i := 0; i < len(line); i++ {
		c := line[i]
		if c == ':' {
			return i > 0
		}
		if c <= ' ' || c > '~' {
			return false
		}
	}
	return false
}
