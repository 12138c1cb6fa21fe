package probe

import (
	"errors"
	"os"
	"os/exec"
	"strconv"
	"time"

	"github.com/cilium/ebpf/ringbuf"
	"testing"

	"github.com/peregrine-rt/peregrine/services/collector/internal/sysno"
)

// TestProgramCost prints the per-invocation cost of each program while a
// C open/close loop runs (set PEREGRINE_LOOP to the loop binary).
var ringSize = func() int { n, _ := strconv.Atoi(os.Getenv("PEREGRINE_RING")); return n }()

func TestProgramCost(t *testing.T) {
	loop := os.Getenv("PEREGRINE_LOOP")
	if os.Geteuid() != 0 || loop == "" {
		t.Skip("needs root and PEREGRINE_LOOP")
	}
	for _, tc := range []struct {
		name        string
		exit, enter []uint32
	}{
		{"none", nil, nil},
		{"exit", sysno.MustParse(sysno.Default), nil},
		{"exit+enter", sysno.MustParse(sysno.Default), sysno.MustParse(sysno.EnterDefault)},
	} {
		p, err := Load(Options{Exit: tc.exit, Enter: tc.enter, IgnorePID: uint32(os.Getpid()), RingSize: ringSize})
		if err != nil {
			t.Fatal(err)
		}
		// drain the ring, or failed (cheap) writes would be measured
		done := make(chan struct{})
		go func() {
			defer close(done)
			var rec ringbuf.Record
			for {
				err := p.ReadInto(&rec, time.Now().Add(50*time.Millisecond))
				if err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
					return
				}
			}
		}()
		out, err := exec.Command(loop, "500000").CombinedOutput()
		if err != nil {
			t.Fatal(err)
		}
		drops, _ := p.KernelDrops()
		t.Logf("%s: kernel drops %d", tc.name, drops)
		st, _ := p.ProgramStats()
		for _, n := range []string{"sys_enter", "sys_exit"} {
			s := st[n]
			if s.RunCount > 0 {
				t.Logf("%s %s: %d runs, %d ns/run (loop %s)", tc.name, n, s.RunCount, s.Runtime.Nanoseconds()/int64(s.RunCount), out)
			}
		}
		p.Close()
		<-done
	}
}
