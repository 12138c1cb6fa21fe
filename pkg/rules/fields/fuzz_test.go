package fields

import (
	"testing"

	"github.com/peregrine-rt/peregrine/pkg/schema"
)

// FuzzExtract feeds arbitrary parameter values and fd info to every field:
// extraction must never panic on what a collector might send.
func FuzzExtract(f *testing.F) {
	f.Add(uint16(schema.EventOpenat), int64(-2), int64(0), "rel/path", "\x02\x00\x50\x04\x01\x02\x03\x04\x05\x06\x07\x08", byte('f'), false)
	f.Add(uint16(schema.EventConnect), int64(0), int64(3), "", "\x01\x00\x00\x00\x00\x00\x00\x00\x01", byte('4'), true)
	f.Add(uint16(schema.EventExecve), int64(0), int64(-1), "/bin/sh", "", byte(0), false)
	var fs []*Field
	for _, n := range Names() {
		arg, hasArg := "", false
		if registry[n].arg == argRequired {
			arg, hasArg = "1", true
		}
		fld, err := Lookup(n, arg, hasArg)
		if err != nil {
			f.Fatal(err)
		}
		fs = append(fs, fld)
	}
	for _, s := range []string{"evt.arg.flags", "evt.arg.fd", "evt.arg.tuple", "evt.arg.uid", "evt.rawarg.addr", "evt.arg[3]"} {
		fs = append(fs, MustLookup(s))
	}
	f.Fuzz(func(t *testing.T, typ uint16, res, n int64, s, raw string, fdType byte, enter bool) {
		ev := schema.Event{Type: schema.EventType(typ), Res: res}
		if enter {
			ev.Flags = schema.FlagEnter
		}
		for i := 0; i < 8; i++ {
			ev.Args = append(ev.Args, schema.Arg{Int: n << i, Str: raw, Resolved: s})
		}
		if fdType != 0 {
			ev.FD = &schema.FD{Num: n, Type: schema.FDType(fdType), Name: s, Role: uint8(n & 3), L4: uint8(n)}
		}
		p := shellProc()
		p.ContainerID = s
		c := NewCtx(one(ev, p, nil), 0, "")
		for _, fld := range fs {
			if v, ok := fld.Extract(c); ok {
				_ = fld.Format(v)
			}
			fld.ExtractAll(c, func(Value) bool { return true })
		}
	})
}
