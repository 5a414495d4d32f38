package train

import "runtime/debug"

// releaseGarbage returns the memory that the run no longer uses to the
// system: after reading the data (a text corpus, parsed JSON, CSV
// records), after building a program (the passes' intermediate graphs,
// the input buffers that binding replaced), before its arena is first
// written, and after writing a checkpoint (a copy of the weights and
// state, and the file's bytes). Without it the process keeps those
// pages next to the arenas, and the Go heap, whose next collection waits
// until it has grown by as much as it holds live (the arenas included),
// piles garbage on top of what training needs. It costs one collection
// per program and per checkpoint.
func releaseGarbage() { debug.FreeOSMemory() }
