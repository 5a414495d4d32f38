package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"strings"
)

var helpCmd = &command{
	name:     "help",
	args:     "[COMMAND]",
	synopsis: "show help for encc or one of its commands",
	doc: `Help with no argument lists the commands. 'encc help COMMAND' describes
one command and its flags, as 'encc COMMAND -h' does.`,
	run: runHelp,
}

func runHelp(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("help")
	pos, code, ok := parseFlags(fs, args, stdout, stderr)
	if !ok {
		return code
	}
	switch len(pos) {
	case 0:
		usage(stdout)
		return exitOK
	case 1:
	default:
		return usageError("help", stderr, "too many arguments")
	}
	c := lookup(pos[0])
	if c == nil {
		return usageError("help", stderr, "unknown command %q", pos[0])
	}
	// A command describes its own flags: ask it, as `encc COMMAND -h`.
	// One that does not answer -h with its help gets what the table says.
	var errs bytes.Buffer
	if c.run([]string{"-h"}, stdout, &errs) == exitOK {
		return exitOK
	}
	commandHelp(c, newFlags(c.name), stdout)
	return exitOK
}

// commandHelp writes the help of c: the usage line, the description and
// the flags of fs.
func commandHelp(c *command, fs *flag.FlagSet, w io.Writer) {
	fmt.Fprintf(w, "usage: encc %s %s\n\n", c.name, c.args)
	doc := c.doc
	if doc == "" {
		doc = strings.ToUpper(c.synopsis[:1]) + c.synopsis[1:] + "."
	}
	fmt.Fprintln(w, strings.TrimSpace(doc))
	var flags []*flag.Flag
	fs.VisitAll(func(f *flag.Flag) { flags = append(flags, f) })
	if len(flags) == 0 {
		return
	}
	fmt.Fprint(w, "\nFlags:\n")
	width := 0
	names := make([]string, len(flags))
	for i, f := range flags {
		names[i] = flagName(f)
		width = max(width, len(names[i]))
	}
	for i, f := range flags {
		_, u := flag.UnquoteUsage(f)
		fmt.Fprintf(w, "  %-*s  %s\n", width, names[i], u)
	}
}

// flagName spells a flag as users type it: -w for one letter, --json for
// words (the flag package accepts either number of dashes), with a
// placeholder for flags that take a value.
func flagName(f *flag.Flag) string {
	name := "-" + f.Name
	if len(f.Name) > 1 {
		name = "--" + f.Name
	}
	if b, ok := f.Value.(interface{ IsBoolFlag() bool }); ok && b.IsBoolFlag() {
		return name
	}
	arg, _ := flag.UnquoteUsage(f)
	if arg == "" {
		arg = "value"
	}
	return name + " " + strings.ToUpper(arg)
}
