//go:build !unix

package train

import "os"

// tryLock is a no-op where flock is not available: the lock file still
// records the writer, but two runs are not kept apart.
func tryLock(f *os.File) (bool, error) { return true, nil }

func unlock(f *os.File) {}
