package train

import (
	"sync"
	"testing"

	"github.com/encc-lang/encc/ir"
)

// A runRecorder is an Executor that notes in its log when it first runs.
type runRecorder struct {
	Executor
	log *compileLog
}

func (r runRecorder) Run() error {
	r.log.mu.Lock()
	r.log.ran = true
	r.log.mu.Unlock()
	return r.Executor.Run()
}

type compileLog struct {
	mu       sync.Mutex
	ran      bool
	compiles int
	late     int // compiles after a program first ran
}

// TestProgramsBuiltBeforeFirstStep: a run compiles every program it will
// run (both phases' steps at the full and the short batch, the
// evaluation at both test batch sizes) before its first step, so no
// program is built next to a live arena (the peak encc summary plans).
func TestProgramsBuiltBeforeFirstStep(t *testing.T) {
	log := &compileLog{}
	RegisterBackend("recorder", func(g *ir.Graph, threads int) (Executor, error) {
		ex, err := compileCPU(g, threads)
		if err != nil {
			return nil, err
		}
		log.mu.Lock()
		log.compiles++
		if log.ran {
			log.late++
		}
		log.mu.Unlock()
		return runRecorder{ex, log}, nil
	}, false)
	p := check(t, small)
	if _, err := Run(t.Context(), p, p.Trains[0], Options{Quiet: true, Device: "recorder"}); err != nil {
		t.Fatal(err)
	}
	// 1,437 training samples in batches of 50 (28 full, one of 37) and
	// 360 test samples (7 of 50, one of 10): 2 phases × 2 step sizes + 2
	// evaluation sizes.
	if log.compiles != 6 || log.late != 0 {
		t.Errorf("%d programs compiled, %d of them after the first step ran; want 6, none late", log.compiles, log.late)
	}
}
