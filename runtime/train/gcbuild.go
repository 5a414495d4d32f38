package train

import "runtime/debug"

// tightGC makes the collector run after every 1% of heap growth, for
// the building of a program (lowering, the pass pipeline, compiling):
// at the end of the first epoch the run builds the step of a short last
// batch and the evaluation programs next to the live arena, and their
// short-lived graphs would otherwise pile up as garbage to the next
// collection, a peak the plan does not hold. The collections see a heap
// of pointer-free arenas and weights, so they are quick. It returns the
// function that restores the setting.
func tightGC() func() {
	old := debug.SetGCPercent(1)
	return func() { debug.SetGCPercent(old) }
}
