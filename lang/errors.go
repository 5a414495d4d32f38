package lang

import (
	"regexp"
	"sort"

	"github.com/alecthomas/participle/v2/lexer"

	"github.com/encc-lang/encc/internal/diag"
)

var expectedRE = regexp.MustCompile(`\(expected (.*)\)$`)

func expectedOf(msg string) string {
	if m := expectedRE.FindStringSubmatch(msg); m != nil {
		return m[1]
	}
	return ""
}

func (p *parser) tokenAt(off int) lexer.Token {
	i := sort.Search(len(p.toks), func(i int) bool { return p.toks[i].Pos.Offset >= off })
	if i < len(p.toks) {
		return p.toks[i]
	}
	return p.toks[len(p.toks)-1]
}

func (p *parser) rewrite(tok lexer.Token, expected string) *diag.Diagnostic {
	return diag.Errorf(p.at(tok.Pos.Offset), "RAW unexpected %q expected %s", tok.Value, expected)
}
