package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/encc-lang/encc/compiler"
	"github.com/encc-lang/encc/runtime/train"
)

// runVectors runs a train with objective = skipgram(...): it writes word
// vectors, not a checkpoint, so --resume and --plot do not apply.
func runVectors(ctx context.Context, prog *compiler.Program, vt *compiler.VectorsTrain, opts train.Options, badFlags bool, stderr io.Writer) int {
	if badFlags {
		return usageError("run", stderr, "--resume and --plot do not apply to %s (a skipgram train writes word vectors)", vt.Name)
	}
	res, err := train.RunVectors(ctx, prog, vt, opts)
	if errors.Is(err, train.ErrInterrupted) {
		fmt.Fprintf(stderr, "encc run: %v\n", err)
		return 130
	}
	if err != nil {
		return failf("run", stderr, "%s", oneLine(err))
	}
	fmt.Fprintln(stderr, train.VectorsLine(res))
	return exitOK
}
