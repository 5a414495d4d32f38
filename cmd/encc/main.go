// Command encc is the compiler for .enc, a declarative language for
// neural-network encoders.
//
// Each subcommand lives in its own file and is one entry of the table
// in this file; `encc help` prints the table. Run `encc help` for usage.
//
// To add a command: write NAME.go with `var nameCmd = &command{...}` and
// its run function, which builds its flags with newFlags("NAME"), parses
// them with parseFlags (flags may follow the arguments; -h prints the
// command's help), and reports with usageError (exit 2) or failf (exit
// 1); add nameCmd to the table below and a script to
// testdata/script/NAME.txtar. A panic in a command is caught by
// runProtected and reported as an internal error (exit 3).
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strings"

	_ "github.com/encc-lang/encc/cmd/encc/internal/prewarm" // the parser is built while the packages initialize
	"github.com/encc-lang/encc/internal/diag"
)

// A command is one subcommand of encc.
type command struct {
	name     string // the word after encc
	args     string // argument synopsis: "[-w | -d | -l] FILE..."
	synopsis string // one line for the command table
	doc      string // longer help for `encc help NAME`, may be empty
	hidden   bool   // left out of the table (tools and tests)

	// run runs the command on its arguments (without the name) and
	// returns the exit status: 0 success, 1 failure, 2 usage error.
	run func(args []string, stdout, stderr io.Writer) int
}

// commands is the table of subcommands, in the order `encc help` lists
// them. It is filled in init because `help` reads it.
var commands []*command

func init() {
	commands = []*command{
		checkCmd,
		fmtCmd,
		summaryCmd,
		graphCmd,
		compileCmd,
		benchCmd,
		runCmd,
		evalCmd,
		predictCmd,
		embedCmd,
		exportCmd,
		mergeCmd,
		lspCmd,
		versionCmd,
		helpCmd,
	}
}

// lookup returns the command called name, or nil.
func lookup(name string) *command {
	for _, c := range commands {
		if c.name == name {
			return c
		}
	}
	return nil
}

func main() {
	stop := startProfile()
	code := Main()
	stop()
	os.Exit(code)
}

// Main runs encc on os.Args and returns the exit status. Tests run it
// in-process through testscript.
func Main() int { return run(os.Args[1:], os.Stdout, os.Stderr) }

// Exit statuses.
const (
	exitOK       = 0 // success
	exitFail     = 1 // the input has errors, or a file cannot be read or written
	exitUsage    = 2 // bad command line
	exitInternal = 3 // a bug in encc
)

// run dispatches args to a subcommand.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return exitUsage
	}
	name := args[0]
	switch name {
	case "-h", "-help", "--help":
		usage(stdout)
		return exitOK
	case "-version", "--version":
		name = "version"
	}
	c := lookup(name)
	if c == nil {
		msg := fmt.Sprintf("encc: unknown command %q", name)
		if strings.HasPrefix(name, "-") {
			msg = fmt.Sprintf("encc: unknown flag %q (flags go after the command)", name)
		} else if s := diag.Suggest(name, commandNames()); s != "" {
			msg += fmt.Sprintf(" (did you mean %q?)", s)
		}
		fmt.Fprintln(stderr, msg)
		fmt.Fprintln(stderr)
		usage(stderr)
		return exitUsage
	}
	return runProtected(c, args[1:], stdout, stderr)
}

// runProtected runs c and turns a panic, which is always a bug in encc,
// into one line naming it, a stack trace and exit status 3.
func runProtected(c *command, args []string, stdout, stderr io.Writer) (code int) {
	defer func() {
		if r := recover(); r != nil {
			fmt.Fprintf(stderr, "encc: internal error: %v\n", r)
			fmt.Fprintf(stderr, "This is a bug in encc %s; please report it with the input and this trace:\n%s", c.name, debug.Stack())
			code = exitInternal
		}
	}()
	return c.run(args, stdout, stderr)
}

func commandNames() []string {
	var out []string
	for _, c := range commands {
		if !c.hidden {
			out = append(out, c.name)
		}
	}
	return out
}

// usage writes the top-level help: what encc is and the command table.
func usage(w io.Writer) {
	fmt.Fprint(w, `encc compiles .enc files: declarative neural-network encoders, their
datasets and their training and fine-tuning schedules.

Usage:

	encc <command> [arguments]

Commands:

`)
	width := 0
	for _, c := range commands {
		if !c.hidden {
			width = max(width, len(c.name))
		}
	}
	for _, c := range commands {
		if !c.hidden {
			fmt.Fprintf(w, "\t%-*s  %s\n", width, c.name, c.synopsis)
		}
	}
	fmt.Fprint(w, `
Run 'encc help <command>' for details on a command.
`)
}

// newFlags returns the flag set of the command called name. Errors and
// -h are reported by parseFlags, not by the flag package. A command's
// run function finds its table entry through the flag set's name, so the
// entry and the function can refer to each other without an
// initialization cycle.
func newFlags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return fs
}

// parseFlags parses args with fs and returns the positional arguments.
// Flags may come before, between or after positional arguments
// (`encc check a.enc --json`); everything after "--" is positional.
//
// When ok is false the caller returns code: 0 after -h (help printed to
// stdout), 2 after a bad flag (message and usage line on stderr).
func parseFlags(fs *flag.FlagSet, args []string, stdout, stderr io.Writer) (pos []string, code int, ok bool) {
	var rest []string
	for i, a := range args {
		if a == "--" {
			args, rest = args[:i], args[i+1:]
			break
		}
	}
	for {
		err := fs.Parse(args)
		if errors.Is(err, flag.ErrHelp) {
			commandHelp(lookup(fs.Name()), fs, stdout)
			return nil, exitOK, false
		}
		if err != nil {
			return nil, usageError(fs.Name(), stderr, "%v", err), false
		}
		args = fs.Args()
		if len(args) == 0 {
			break
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
	return append(pos, rest...), exitOK, true
}

// usageError reports a bad command line for the command called name and
// returns exit status 2.
func usageError(name string, stderr io.Writer, format string, a ...any) int {
	c := lookup(name)
	fmt.Fprintf(stderr, "encc %s: %s\n", name, fmt.Sprintf(format, a...))
	fmt.Fprintf(stderr, "usage: encc %s %s\nRun 'encc help %s' for details.\n", name, c.args, name)
	return exitUsage
}

// failf reports a failure of the command called name in one line and
// returns exit status 1.
func failf(name string, stderr io.Writer, format string, a ...any) int {
	fmt.Fprintf(stderr, "encc %s: %s\n", name, fmt.Sprintf(format, a...))
	return exitFail
}
