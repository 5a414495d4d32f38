package lang

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"testing"
	"time"

	"github.com/encc-lang/encc/internal/cputime"
)

var importLine = regexp.MustCompile(`(?m)^import .*$`)

// largeSource returns at least size bytes of .enc: the examples and the
// standard library, imports removed, repeated. Parse does not resolve
// names, so repeated declarations are fine.
func largeSource(tb testing.TB, size int) []byte {
	var one []byte
	for _, pat := range []string{"../examples/*.enc", "../stdlib/*.enc"} {
		m, err := filepath.Glob(pat)
		if err != nil {
			tb.Fatal(err)
		}
		for _, f := range m {
			src, err := os.ReadFile(f)
			if err != nil {
				tb.Fatal(err)
			}
			one = append(one, importLine.ReplaceAll(src, nil)...)
			one = append(one, '\n')
		}
	}
	var buf bytes.Buffer
	for buf.Len() < size {
		buf.Write(one)
	}
	return buf.Bytes()
}

// BenchmarkParse1MB parses a generated 1 MB file; b.SetBytes makes the
// result read in MB/s, and -benchmem gives the allocations per MB.
func BenchmarkParse1MB(b *testing.B) {
	src := largeSource(b, 1<<20)
	if _, errs := Parse("large.enc", src); len(errs) > 0 {
		b.Fatal(errs)
	}
	b.SetBytes(int64(len(src)))
	b.ReportAllocs()
	b.ResetTimer()
	cpu := cputime.Process()
	for i := 0; i < b.N; i++ {
		Parse("large.enc", src)
	}
	reportCPU(b, cpu)
}

// reportCPU reports the CPU time per operation since cpu (GC included),
// in "cpu-ms/op".
func reportCPU(b *testing.B, cpu time.Duration) {
	if d := cputime.Process() - cpu; d > 0 {
		b.ReportMetric(float64(d.Microseconds())/1000/float64(b.N), "cpu-ms/op")
	}
}

// BenchmarkParseStdlib parses the standard library's files, what every
// encc process does once.
func BenchmarkParseStdlib(b *testing.B) {
	files, err := filepath.Glob("../stdlib/*.enc")
	if err != nil {
		b.Fatal(err)
	}
	var srcs [][]byte
	n := 0
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			b.Fatal(err)
		}
		srcs = append(srcs, src)
		n += len(src)
	}
	b.SetBytes(int64(n))
	b.ReportAllocs()
	cpu := cputime.Process()
	for b.Loop() {
		for i, src := range srcs {
			if _, errs := Parse(files[i], src); len(errs) > 0 {
				b.Fatal(errs)
			}
		}
	}
	reportCPU(b, cpu)
}

// TestParseAllocations bounds what parsing allocates per byte of source,
// a figure that, unlike time, does not depend on the machine's load. The
// participle-only parser allocated about 900 bytes per byte; the fast
// one about 160.
func TestParseAllocations(t *testing.T) {
	src := largeSource(t, 64<<10)
	Parse("warm.enc", src)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	if _, errs := Parse("large.enc", src); len(errs) > 0 {
		t.Fatal(errs)
	}
	runtime.ReadMemStats(&after)
	perByte := float64(after.TotalAlloc-before.TotalAlloc) / float64(len(src))
	t.Logf("%.0f bytes allocated per byte of source", perByte)
	if perByte > 300 {
		t.Errorf("parsing allocates %.0f bytes per byte of source, want at most 300", perByte)
	}
}
