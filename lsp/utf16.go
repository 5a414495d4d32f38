package lsp

// This file converts between LSP positions (zero-based lines, UTF-16
// code units) and byte offsets in a UTF-8 text, and from diag positions
// (one-based lines, one-based byte columns).

import (
	"unicode/utf16"
	"unicode/utf8"

	"github.com/encc-lang/encc/internal/diag"
)

// lineStarts returns the byte offset at which each line begins.
func lineStarts(text string) []int {
	starts := []int{0}
	for i := 0; i < len(text); i++ {
		if text[i] == '\n' {
			starts = append(starts, i+1)
		}
	}
	return starts
}

// offsetOf converts an LSP position to a byte offset, clamping to the
// text (clients may send positions past the end of a line).
func offsetOf(text string, p Position) int {
	starts := lineStarts(text)
	if p.Line < 0 {
		return 0
	}
	if p.Line >= len(starts) {
		return len(text)
	}
	off := starts[p.Line]
	units := 0
	for off < len(text) && text[off] != '\n' && units < p.Character {
		r, size := utf8.DecodeRuneInString(text[off:])
		units += utf16.RuneLen(r)
		if units > p.Character && r >= 0x10000 {
			break
		}
		if utf16.RuneLen(r) < 0 {
			units++ // invalid rune: one unit
		}
		off += size
	}
	return off
}

// positionOf converts a byte offset to an LSP position.
func positionOf(text string, off int) Position {
	if off > len(text) {
		off = len(text)
	}
	if off < 0 {
		off = 0
	}
	line, start := 0, 0
	for i := 0; i < off; i++ {
		if text[i] == '\n' {
			line++
			start = i + 1
		}
	}
	units := 0
	for i := start; i < off; {
		r, size := utf8.DecodeRuneInString(text[i:])
		n := utf16.RuneLen(r)
		if n < 0 {
			n = 1
		}
		units += n
		i += size
	}
	return Position{Line: line, Character: units}
}

// fromDiag converts a diag position (1-based line, 1-based byte column)
// in text to an LSP position.
func fromDiag(text string, p diag.Pos) Position {
	if !p.IsValid() {
		return Position{}
	}
	starts := lineStarts(text)
	if p.Line-1 >= len(starts) {
		return positionOf(text, len(text))
	}
	off := starts[p.Line-1] + p.Col - 1
	if p.Offset > 0 && p.Offset <= len(text) && p.Offset >= starts[p.Line-1] {
		off = p.Offset
	}
	return positionOf(text, off)
}
