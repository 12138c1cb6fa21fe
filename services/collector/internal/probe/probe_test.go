package probe

import (
	"encoding/binary"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/cilium/ebpf/ringbuf"

	"github.com/peregrine-rt/peregrine/services/collector/internal/record"
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

// TestFDHelperFallback loads the probe as on kernels that refuse the
// direct fd table read: an open still carries its file item.
func TestFDHelperFallback(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	for _, noCast := range []bool{false, true} {
		p, err := Load(Options{RingSize: 1 << 20, Exit: []uint32{sysno.Openat}, noFDCast: noCast})
		if err != nil {
			t.Fatal(err)
		}
		f, err := os.Open("/etc/hostname")
		if err != nil {
			t.Fatal(err)
		}
		fd := f.Fd()
		f.Close()
		if !hasFileItem(t, p, int64(fd)) {
			t.Errorf("helper read %v: no openat record of fd %d with a file item", noCast, fd)
		}
		p.Close()
	}
}

// hasFileItem reads the ring until an openat exit of this process that
// returned fd and carries a file item (type 4) after its path.
func hasFileItem(t *testing.T, p *Probe, fd int64) bool {
	t.Helper()
	// bounded: other processes' opens may keep the ring busy
	return eachRecord(t, p, 10*time.Second, true, func(b []byte) bool { return fileItemAfterPath(b, fd) })
}

// eachRecord hands the ring's raw records, one at a time, to found until
// it returns true (then eachRecord does too), until limit passes, or, when
// untilQuiet is set, until the ring stays empty for 100ms. b is reused.
func eachRecord(t *testing.T, p *Probe, limit time.Duration, untilQuiet bool, found func(b []byte) bool) bool {
	t.Helper()
	var rec ringbuf.Record
	for end := time.Now().Add(limit); time.Now().Before(end); {
		err := p.ReadInto(&rec, time.Now().Add(100*time.Millisecond))
		if errors.Is(err, os.ErrDeadlineExceeded) {
			if untilQuiet {
				return false
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		for s := rec.RawSample; len(s) > 0; {
			b, rest, err := record.Next(s)
			if err != nil {
				t.Fatal(err)
			}
			s = rest
			if found(b) {
				return true
			}
		}
	}
	return false
}

// fileItemAfterPath reports whether raw record b is an openat exit of this
// process that returned fd and has a file item (type 4) after its path.
func fileItemAfterPath(b []byte, fd int64) bool {
	const hdr, ctx = 88, 192
	le := binary.LittleEndian
	if len(b) < hdr || le.Uint16(b[2:]) != sysno.Openat || le.Uint32(b[76:]) != uint32(os.Getpid()) || int64(le.Uint64(b[16:])) != fd {
		return false
	}
	off := hdr
	if le.Uint16(b[86:])&1 != 0 {
		off += ctx
	}
	// path item, then the file item
	if len(b) < off+4 {
		return false
	}
	off += 4 + int(le.Uint16(b[off+2:]))
	return len(b) >= off+4 && b[off] == 4
}
