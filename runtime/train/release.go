package train

import "runtime/debug"

// releaseGarbage returns the memory that the run no longer uses to the
// system: after reading the data (a text corpus, parsed JSON, CSV
// records) and after building a step program (the passes' intermediate
// graphs, the input buffers that binding replaced), before the
// program's arena is first written. Without it the process keeps those
// pages next to the arena, and its peak is that garbage plus what
// training needs rather than what `encc summary` reports. It costs one
// collection per program.
func releaseGarbage() { debug.FreeOSMemory() }
