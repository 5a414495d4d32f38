package main

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
)

var versionCmd = &command{
	name:     "version",
	args:     "",
	synopsis: "print the version of encc and of the Go toolchain that built it",
	doc: `Version prints the module version of encc ('(devel)' when built from a
checkout), the VCS revision when the build recorded one, the Go version
and the target platform.`,
	run: runVersion,
}

func runVersion(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("version")
	pos, code, ok := parseFlags(fs, args, stdout, stderr)
	if !ok {
		return code
	}
	if len(pos) > 0 {
		return usageError("version", stderr, "no arguments expected")
	}
	fmt.Fprintln(stdout, versionString())
	return exitOK
}

// versionString is "encc VERSION [REVISION] GOVERSION OS/ARCH".
func versionString() string {
	version, rev := "(devel)", ""
	if bi, ok := debug.ReadBuildInfo(); ok {
		if v := bi.Main.Version; v != "" {
			version = v
		}
		modified := false
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
				if len(rev) > 12 {
					rev = rev[:12]
				}
			case "vcs.modified":
				modified = s.Value == "true"
			}
		}
		if rev != "" && modified {
			rev += "+dirty"
		}
	}
	s := "encc " + version
	if rev != "" {
		s += " " + rev
	}
	return s + " " + runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH
}
