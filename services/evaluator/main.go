// Command evaluator is Peregrine's rules stage: it evaluates event batches
// from the bus against Falco rules and publishes Falco alerts.
//
//	evaluator [run] [flags]                   consume events.enriched.> and publish alerts
//	evaluator validate -r FILE...             check rule files, like falco -V
//	evaluator test -r FILE... --events FILE   evaluate JSON-line events, print alerts
//
// With no -r the embedded upstream stable rules are loaded, then
// /etc/peregrine/rules.local.yaml when it exists.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
)

// Exit codes.
const (
	exitOK    = 0
	exitFail  = 1 // rule errors, bad events, a failed service
	exitUsage = 2
)

const usage = `usage:
  evaluator [run] [flags]                      consume events and publish alerts
  evaluator validate [-r FILE]... [FILE...]    check rule files (exit 1 on errors)
  evaluator test [-r FILE]... --events FILE    evaluate JSON-line events, print alerts
Run "evaluator COMMAND -h" for a command's flags.
`

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

// run dispatches a command line and returns the exit code; it is main
// without the process, for tests.
func run(args []string, stdout, stderr io.Writer) int {
	cmd := "run"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "run":
		return runCmd(args, stderr)
	case "validate":
		return validateCmd(args, stdout, stderr)
	case "test":
		return testCmd(args, stdout, stderr)
	case "help":
		fmt.Fprint(stdout, usage)
		return exitOK
	}
	fmt.Fprintf(stderr, "evaluator: unknown command %q\n%s", cmd, usage)
	return exitUsage
}

// usageExit is the exit code after a flag parse error: 0 for -h, which
// flag has answered with the usage, 2 otherwise.
func usageExit(err error) int {
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	return exitUsage
}
