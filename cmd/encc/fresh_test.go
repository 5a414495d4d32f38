package main

import (
	"os/exec"
	"path/filepath"
	"testing"
)

// BenchmarkCheckFreshProcess times `encc check` of the BERT-base file in a
// fresh process each time, as a user or an editor's save hook runs it:
// process start, package initialization, the stdlib (built from its
// generated trees) and the check. BenchmarkVersionFreshProcess is the
// floor: `encc version`, which does no work.
func BenchmarkCheckFreshProcess(b *testing.B) {
	benchFresh(b, "check", "../../compiler/testdata/bert_base.enc")
}

func BenchmarkVersionFreshProcess(b *testing.B) {
	benchFresh(b, "version")
}

func benchFresh(b *testing.B, args ...string) {
	bin := filepath.Join(b.TempDir(), "encc")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		b.Fatalf("go build: %v\n%s", err, out)
	}
	for b.Loop() {
		if out, err := exec.Command(bin, args...).CombinedOutput(); err != nil {
			b.Fatalf("encc %v: %v\n%s", args, err, out)
		}
	}
}
