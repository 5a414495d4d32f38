// Package prewarm starts, while encc's packages initialize, the work that
// a command reading .enc files needs first: building the participle
// parser (lang.Prewarm), about a millisecond of reflection. Go initializes
// packages in the order of their import paths as soon as their imports
// are initialized, so this package, which needs only lang, initializes
// before the compiler, the exporters and the plotting packages do, and
// the build runs on another core while they initialize. After the build
// it parses the first .enc file among the command's arguments there, and
// the command's own parse of that file takes the tree (lang.Prewarm).
//
// `encc version` and `encc help`, which parse nothing, do not start it,
// nor does a process that may use only one core, where the build could
// not run beside the rest.
package prewarm

import (
	"os"
	"runtime"
	"strings"

	"github.com/encc-lang/encc/lang"
)

func init() {
	if len(os.Args) > 1 && parses(os.Args[1]) && runtime.GOMAXPROCS(0) > 1 {
		lang.Prewarm(encFile(os.Args[2:]))
	}
}

// encFile returns the first argument that names a .enc file, which the
// command will parse first, or "".
func encFile(args []string) string {
	for _, a := range args {
		if strings.HasSuffix(a, ".enc") && !strings.HasPrefix(a, "-") {
			return a
		}
	}
	return ""
}

// parses reports whether the command named by encc's first argument may
// parse a .enc file: every command but version and help (and a flag such
// as -h, which is no command).
func parses(cmd string) bool {
	return cmd != "version" && cmd != "help" && !strings.HasPrefix(cmd, "-")
}
