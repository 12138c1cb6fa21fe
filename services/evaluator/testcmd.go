package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/peregrine-rt/peregrine/pkg/schema"

	"github.com/peregrine-rt/peregrine/services/evaluator/internal/config"
	"github.com/peregrine-rt/peregrine/services/evaluator/internal/dropalert"
	"github.com/peregrine-rt/peregrine/services/evaluator/internal/evaluate"
	"github.com/peregrine-rt/peregrine/services/evaluator/internal/eventsfile"
	"github.com/peregrine-rt/peregrine/services/evaluator/internal/ruleset"
)

// testCmd evaluates the events of a JSON-lines file against rule files
// and prints each alert as a Falco JSON line on stdout, in event order.
func testCmd(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("evaluator test", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var files config.Files
	config.RegisterRules(fs, &files)
	events := fs.String("events", "", "JSON-lines file of events: schema records (collector --print) or flat Falco field objects; - for stdin")
	matching := fs.String("rule-matching", config.MatchFirst, "first or all")
	hostname := fs.String("hostname", "", "alerts' hostname (default: the record's node; for flat events their evt.hostname, else this host)")
	pos, err := config.Parse(fs, args)
	if err != nil {
		return usageExit(err)
	}
	files = append(files, pos...)
	if *events == "" {
		fmt.Fprintln(stderr, "evaluator test: --events FILE is required")
		return exitUsage
	}
	opts, err := ruleOptions(*matching)
	if err != nil {
		fmt.Fprintf(stderr, "evaluator test: %v\n", err)
		return exitUsage
	}
	set, err := ruleset.Load(ruleset.Source{Paths: files, Options: opts})
	if err != nil {
		printIssues(stderr, err)
		return exitFail
	}
	in, name := io.Reader(os.Stdin), "stdin"
	if *events != "-" {
		f, err := os.Open(*events)
		if err != nil {
			fmt.Fprintf(stderr, "evaluator test: %v\n", err)
			return exitFail
		}
		defer f.Close()
		in, name = f, *events
	}
	// Every drop event of a test file alerts: rate limiting is for a
	// running service, not for checking a rule's outcome.
	ev, err := evaluate.New(*hostname, dropalert.Options{Burst: 1 << 30})
	if err != nil {
		fmt.Fprintf(stderr, "evaluator test: %v\n", err)
		return exitFail
	}
	flatHost := *hostname
	if flatHost == "" {
		flatHost, _ = os.Hostname()
	}
	w := ev.NewWorker()
	enc := json.NewEncoder(stdout)
	enc.SetEscapeHTML(false) // Falco does not escape <NA> as \u003c
	var alerts int
	var encErr error
	emit := func(a evaluate.Alert) {
		alerts++
		if encErr == nil {
			encErr = enc.Encode(a.Alert)
		}
	}
	err = eventsfile.Read(in, name, func(e eventsfile.Event) error {
		if e.Flat != nil {
			host := flatHost
			if h, ok := e.Flat["evt.hostname"].(string); ok {
				host = h
			}
			w.Flat(set.Engine, e.Flat, host, emit)
		} else {
			rec := e.Record
			b := schema.BatchFromRecords(rec.Node, []schema.Record{*rec})
			w.Batch(set.Engine, b, "", emit)
		}
		return encErr
	})
	if err != nil {
		fmt.Fprintf(stderr, "evaluator test: %v\n", err)
		return exitFail
	}
	fmt.Fprintf(stderr, "%d alert(s)\n", alerts)
	return exitOK
}
