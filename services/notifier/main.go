// Command notifier delivers Peregrine's alerts to outputs (stdout, file,
// syslog, webhook, Slack, ..., Falco's gRPC API); it is Peregrine's
// Falcosidekick. See services/notifier/internal/app.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/peregrine-rt/peregrine/services/notifier/internal/app"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := app.Main(ctx, os.Args[1:], app.Env{Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv})
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "notifier:", err)
		os.Exit(1)
	}
}
