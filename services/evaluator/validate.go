package main

import (
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/peregrine-rt/peregrine/pkg/rules"

	"github.com/peregrine-rt/peregrine/services/evaluator/internal/config"
	"github.com/peregrine-rt/peregrine/services/evaluator/internal/ruleset"
)

// validateCmd compiles rule files like `falco -V`: it prints each error
// as file:line:col: message on stderr and exits 1, or prints a one-line
// summary and exits 0. Warnings go to stderr either way.
func validateCmd(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("evaluator validate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var files config.Files
	config.RegisterRules(fs, &files)
	pos, err := config.Parse(fs, args)
	if err != nil {
		return usageExit(err)
	}
	files = append(files, pos...)
	set, err := ruleset.Load(ruleset.Source{Paths: files})
	if err != nil {
		printIssues(stderr, err)
		return exitFail
	}
	for _, w := range set.Engine.Warnings() {
		fmt.Fprintf(stderr, "%s (warning)\n", w)
	}
	enabled := 0
	for _, r := range set.Engine.Rules() {
		if r.Enabled {
			enabled++
		}
	}
	fmt.Fprintf(stdout, "OK: %d file(s), %d rules (%d enabled), %d warnings: %v\n",
		len(set.Files), len(set.Engine.Rules()), enabled, len(set.Engine.Warnings()), set.Files)
	return exitOK
}

// printIssues writes one issue per line, or the error as is.
func printIssues(w io.Writer, err error) {
	var is rules.Issues
	if errors.As(err, &is) {
		for _, i := range is {
			fmt.Fprintln(w, i.String())
		}
		fmt.Fprintf(w, "%d error(s)\n", len(is))
		return
	}
	fmt.Fprintln(w, err)
}
