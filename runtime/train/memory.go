package train

// This file checks, before a run allocates anything large, that the
// memory it plans to use is there: the arena of the step program, the
// parameters, the optimizer state and the program's input storage. A
// model too large for the machine is then one clear error with both
// numbers, not a "fatal error: runtime: out of memory" that kills the
// process.

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/encc-lang/encc/ir"
)

// A memoryNeed is the planned bytes of a run.
type memoryNeed struct {
	arena, params, state, inputs int64
}

func (m memoryNeed) total() int64 { return m.arena + m.params + m.state + m.inputs }

func (m memoryNeed) String() string {
	return fmt.Sprintf("%s (arena %s + parameters %s + optimizer state %s + program inputs %s)",
		bytesString(m.total()), bytesString(m.arena), bytesString(m.params), bytesString(m.state), bytesString(m.inputs))
}

// planMemory returns what running g needs: its planned arena, and the
// storage of its inputs, kept twice for parameters and optimizer state
// (the trainer's copy and the program's).
func planMemory(g *ir.Graph) (memoryNeed, error) {
	var m memoryNeed
	plan, err := ir.PlanMemory(g, ir.PlanOptions{})
	if err != nil {
		return m, err
	}
	m.arena = int64(plan.Size)
	for _, in := range g.Inputs {
		b := int64(in.Type.Bytes())
		switch in.Role() {
		case ir.RoleParam, ir.RoleConst:
			m.params += b
		case ir.RoleState:
			m.state += b
		}
		m.inputs += b
	}
	return m, nil
}

// checkMemory returns an error naming both numbers when need is more
// than the memory available (MemAvailable, or the cgroup's limit when
// lower). Where the available memory cannot be read, it checks nothing.
func checkMemory(what string, need memoryNeed) error {
	avail, ok := availableMemory()
	if !ok || need.total() <= avail {
		return nil
	}
	return fmt.Errorf("%s needs %s of memory, but %s is available: make the model or the batch smaller", what, need, bytesString(avail))
}

// availableMemory reads the memory this process may still use: the
// kernel's MemAvailable, capped by a cgroup v2 memory limit.
func availableMemory() (int64, bool) {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0, false
	}
	defer f.Close()
	var avail int64 = -1
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "MemAvailable:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err == nil {
				avail = kb << 10
			}
		}
	}
	if avail < 0 {
		return 0, false
	}
	if lim, ok := readInt("/sys/fs/cgroup/memory.max"); ok {
		if cur, ok := readInt("/sys/fs/cgroup/memory.current"); ok && lim-cur < avail {
			avail = max(lim-cur, 0)
		}
	}
	return avail, true
}

func readInt(path string) (int64, bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, false
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	return n, err == nil
}

// bytesString writes n bytes with a binary unit: 512 B, 1.5 KiB, 3.6 TiB.
func bytesString(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 5; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
