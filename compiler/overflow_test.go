package compiler_test

import (
	"strings"
	"testing"
	"time"

	"github.com/encc-lang/encc/compiler"
)

// Integer overflow in constant and dimension arithmetic is a positioned
// error, never a silently wrapped value (issue 17, case 4); a huge power
// is computed by squaring, not by a loop of 10^18 steps.
func TestIntegerOverflow(t *testing.T) {
	for _, tc := range []struct{ src, err string }{
		{"const x = 2 ** 64 + 3", "x.enc:1:11: 2 ** 64: integer overflow (the result does not fit in 64 bits)"},
		{"const x = 2 ** 1000000000000000000", "x.enc:1:11: 2 ** 1000000000000000000: integer overflow"},
		{"const x = 9223372036854775807 + 1", "x.enc:1:11: 9223372036854775807 + 1: integer overflow"},
		{"const x = -9223372036854775807 - 2", "x.enc:1:11: -9223372036854775807 - 2: integer overflow"},
		{"const x = 3037000500 * 3037000500", "x.enc:1:11: 3037000500 * 3037000500: integer overflow"},
		{"const x = -(-9223372036854775807 - 1)", "x.enc:1:11: -(-9223372036854775807 - 1): integer overflow"},
		{"model M {\n l = Linear(9223372036854775807, 2)\n forward(x: f32[B, 4]) -> f32[B, 4] { return x }\n}",
			"x.enc:2:6: Linear(9223372036854775807, 2): parameter weight of type f32[2, 9223372036854775807] has more than 2^50 elements"},
		{"model M {\n l = Linear(4294967296, 4294967296)\n forward(x: f32[B, 4]) -> f32[B, 4] { return x }\n}",
			"x.enc:2:6: Linear(4294967296, 4294967296): parameter weight of type f32[4294967296, 4294967296] has more than 2^50 elements"},
		{"model M {\n param w: f32[4294967296, 4294967296]\n forward(x: f32[B, 4]) -> f32[B, 4] { return x }\n}",
			"x.enc:2:11: f32[4294967296, 4294967296] has more than 2^50 elements"},
		{"model M(n: int = 4611686018427387904) {\n forward(x: f32[B, n * 4]) -> f32[B, 4] { return x }\n}",
			"x.enc:2:20: n * 4: integer overflow"},
		{"const x = 2 ** 62 + (2 ** 62 - 1) * 1", ""},
		{"const x = -9223372036854775807 - 1", ""},
		{"const x = 3 ** 39", ""},
	} {
		start := time.Now()
		_, diags := compiler.Check("x.enc", []byte(tc.src), &compiler.Options{NoPrelude: true})
		if time.Since(start) > 10*time.Second {
			t.Errorf("%s: took %v", tc.src, time.Since(start))
		}
		if tc.err == "" {
			if diags.HasErrors() {
				t.Errorf("%s: unexpected %v", tc.src, diags)
			}
			continue
		}
		if len(diags) == 0 || !strings.HasPrefix(diags[0].Error(), tc.err) {
			t.Errorf("%s:\n got %v\nwant %s", tc.src, diags, tc.err)
		}
	}
}

func TestPowInt(t *testing.T) {
	for _, tc := range []struct {
		x, y, want int64
		ovf        bool
	}{
		{2, 10, 1024, false}, {2, 62, 1 << 62, false}, {2, 63, 0, true}, {-2, 63, -1 << 63, false}, {-2, 64, 0, true},
		{3, 39, 4052555153018976267, false}, {3, 40, 0, true}, {1, 1 << 62, 1, false}, {-1, 1<<62 + 1, -1, false},
		{0, 0, 1, false}, {7, 0, 1, false},
	} {
		got, ovf := compiler.PowInt(tc.x, tc.y)
		if ovf != tc.ovf || !ovf && got != tc.want {
			t.Errorf("PowInt(%d, %d) = %d, %v; want %d, %v", tc.x, tc.y, got, ovf, tc.want, tc.ovf)
		}
	}
}
