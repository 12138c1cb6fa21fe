// Command peregrine runs Peregrine on one machine: an embedded JetStream
// server on 127.0.0.1 and every stage binary found beside it, each as its
// own process (as in a cluster), with their logs prefixed by stage name.
// Ctrl-C stops the stages first, then the server.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// stage is one pipeline process.
type stage struct {
	name string
	args []string
}

func main() {
	var (
		listen  = flag.String("listen", "127.0.0.1", "address the embedded NATS server listens on")
		port    = flag.Int("port", 4222, "NATS client port")
		dataDir = flag.String("data", "", "JetStream store directory (default: a new temporary directory)")
		binDir  = flag.String("bin", "", "directory holding the stage binaries (default: this binary's directory)")
		grace   = flag.Duration("grace", 10*time.Second, "how long stages get to stop after Ctrl-C")
	)
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil)).With("stage", "peregrine")
	if err := run(log, *listen, *port, *dataDir, *binDir, *grace, flag.Args()); err != nil {
		log.Error("stopped", "err", err)
		os.Exit(1)
	}
}

func run(log *slog.Logger, listen string, port int, dataDir, binDir string, grace time.Duration, extra []string) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()

	if binDir == "" {
		self, err := os.Executable()
		if err != nil {
			return fmt.Errorf("locate binaries: %w", err)
		}
		binDir = filepath.Dir(self)
	}
	if dataDir == "" {
		d, err := os.MkdirTemp("", "peregrine-nats-")
		if err != nil {
			return fmt.Errorf("jetstream store: %w", err)
		}
		defer os.RemoveAll(d)
		dataDir = d
	}
	ns, err := server.NewServer(&server.Options{
		Host: listen, Port: port, JetStream: true, StoreDir: dataDir, ServerName: "peregrine-local",
		NoSigs: true, MaxPayload: 8 << 20,
	})
	if err != nil {
		return fmt.Errorf("nats server: %w", err)
	}
	go ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		return errors.New("nats server: not ready after 10s")
	}
	defer ns.Shutdown()
	url := ns.ClientURL()
	log.Info("embedded nats-server ready", "url", url, "jetstream_store", dataDir)

	stages := plan(binDir, extra)
	if len(stages) == 0 {
		return fmt.Errorf("no stage binaries in %s: run make build", binDir)
	}
	var wg sync.WaitGroup
	errs := make(chan error, len(stages))
	var cmds []*exec.Cmd
	for _, st := range stages {
		cmd := exec.Command(filepath.Join(binDir, st.name), st.args...)
		cmd.Env = append(os.Environ(), "NATS_URL="+url)
		// Own process group: a terminal's Ctrl-C reaches only this runner, which
		// stops the stages in order. Pdeathsig: if the runner dies anyway, so do they.
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
		stdout, _ := cmd.StdoutPipe()
		stderr, _ := cmd.StderrPipe()
		if err := cmd.Start(); err != nil {
			return fmt.Errorf("start %s: %w", st.name, err)
		}
		log.Info("started stage", "name", st.name, "pid", cmd.Process.Pid, "args", strings.Join(st.args, " "))
		cmds = append(cmds, cmd)
		// Stage stdout is the product (alerts printed by the notifier, events
		// with --print): pass it through untouched. Logs get a prefix.
		go io.Copy(os.Stdout, stdout)
		go prefix(os.Stderr, st.name, stderr)
		wg.Add(1)
		go func(name string, cmd *exec.Cmd) {
			defer wg.Done()
			err := cmd.Wait()
			if ctx.Err() == nil {
				errs <- fmt.Errorf("stage %s exited: %v", name, err)
			}
		}(st.name, cmd)
	}

	select {
	case <-ctx.Done():
		log.Info("stopping stages")
	case err = <-errs:
		log.Error("a stage failed, stopping the others", "err", err)
		stop()
	}
	for _, cmd := range cmds {
		_ = cmd.Process.Signal(syscall.SIGTERM)
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(grace):
		for _, cmd := range cmds {
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		}
		<-done
	}
	log.Info("all stages stopped")
	return err
}

// plan lists the stages whose binaries exist. Without an enricher the
// evaluator reads raw events directly, as on a plain host.
func plan(binDir string, extra []string) []stage {
	have := func(name string) bool {
		fi, err := os.Stat(filepath.Join(binDir, name))
		return err == nil && !fi.IsDir()
	}
	var out []stage
	if have("collector") {
		out = append(out, stage{name: "collector"})
	}
	input := "events.raw.>"
	if have("enricher") {
		out = append(out, stage{name: "enricher"})
		input = "events.enriched.>"
	}
	if have("evaluator") {
		out = append(out, stage{name: "evaluator", args: []string{"run", "--input", input}})
	}
	if have("notifier") {
		out = append(out, stage{name: "notifier"})
	}
	for i := range out {
		if len(extra) > 0 && out[i].name == extra[0] {
			out[i].args = append(out[i].args, extra[1:]...)
		}
	}
	return out
}

// prefix copies r to w line by line, each line led by "[name] ".
func prefix(w io.Writer, name string, r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		fmt.Fprintf(w, "[%s] %s\n", name, sc.Text())
	}
}
