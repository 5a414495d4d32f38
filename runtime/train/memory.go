package train

import "runtime/debug"

// releaseLoadGarbage returns the memory that reading the data left
// behind (a text corpus, parsed JSON, CSV records) to the system before
// the programs' arenas are allocated. Without it the process keeps those
// pages, and its peak is loading's garbage plus training's memory rather
// than what `encc summary` reports.
func releaseLoadGarbage() { debug.FreeOSMemory() }
