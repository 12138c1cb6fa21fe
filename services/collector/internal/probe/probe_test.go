package probe

import (
	"errors"
	"os"
	"testing"
	"time"

	"github.com/cilium/ebpf/ringbuf"

	"github.com/peregrine-rt/peregrine/services/collector/internal/sysno"
)

func TestLoad(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	p, err := Load(Options{RingSize: 1 << 20, Exit: sysno.MustParse(sysno.Default), Enter: sysno.MustParse(sysno.EnterDefault)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	f, err := os.Open("/etc/hostname")
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	var rec ringbuf.Record
	n := 0
	for {
		err := p.ReadInto(&rec, time.Now().Add(100*time.Millisecond))
		if errors.Is(err, os.ErrDeadlineExceeded) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
	if n == 0 {
		t.Fatal("no records")
	}
	t.Logf("%d records", n)
}
