package safetensors

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Write goes through a temporary file in the folder of the file it
// writes. A write killed before its rename (SIGKILL, power loss) leaves
// that file behind; the next Write of the same path removes it. The
// temporary file's name holds the writer's process id, so a file still
// being written by a live process is left alone.

// tempPattern is the os.CreateTemp pattern of Write's temporary file for
// base: .BASE.tmp-PID-RANDOM.
func tempPattern(base string) string {
	return fmt.Sprintf(".%s.tmp-%d-*", base, os.Getpid())
}

// oldTempAge is the age after which a temporary file without a process
// id (written by an older encc) is taken as abandoned.
const oldTempAge = 10 * time.Minute

// removeStaleTemps removes the temporary files of earlier writes of
// dir/base whose writer is gone. Errors are ignored: a file that cannot
// be removed is only litter.
func removeStaleTemps(dir, base string) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	prefix := "." + base + ".tmp-"
	for _, e := range ents {
		name := e.Name()
		if !strings.HasPrefix(name, prefix) || !e.Type().IsRegular() {
			continue
		}
		rest := name[len(prefix):]
		stale := false
		if pidText, _, ok := strings.Cut(rest, "-"); ok {
			pid, err := strconv.Atoi(pidText)
			stale = err == nil && pid != os.Getpid() && !processAlive(pid)
		} else if info, err := e.Info(); err == nil {
			stale = time.Since(info.ModTime()) > oldTempAge
		}
		if stale {
			os.Remove(filepath.Join(dir, name))
		}
	}
}
