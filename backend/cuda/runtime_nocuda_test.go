//go:build !cuda

package cuda

import (
	"errors"
	"testing"
)

func TestCompileWithoutCUDA(t *testing.T) {
	if Available() {
		t.Fatal("Available in a build without the cuda tag")
	}
	_, err := Compile(digitsMLP(t), Options{})
	if !errors.Is(err, ErrNoCUDA) || err.Error() != "this encc was built without CUDA support; rebuild with -tags cuda on a machine with the CUDA toolkit" {
		t.Fatalf("Compile: %v", err)
	}
}
