package lang

import "bytes"

// KeepLineEndings returns out, text that Format printed for src, with
// the line endings of src: "\r\n" when the first line of src ends so,
// "\n" otherwise. Line ends inside out (in block comments, which Format
// copies) are made uniform first, so a file never mixes them.
func KeepLineEndings(out, src []byte) []byte {
	out = bytes.ReplaceAll(out, []byte("\r\n"), []byte("\n"))
	out = bytes.ReplaceAll(out, []byte("\r"), []byte("\n"))
	if i := bytes.IndexByte(src, '\n'); i > 0 && src[i-1] == '\r' {
		out = bytes.ReplaceAll(out, []byte("\n"), []byte("\r\n"))
	}
	return out
}
