package fields_test

import (
	"fmt"

	"github.com/peregrine-rt/peregrine/pkg/rules/fields"
	"github.com/peregrine-rt/peregrine/pkg/schema"
)

func ExampleLookup() {
	b := &schema.Batch{
		Node:  "node-1",
		Procs: []schema.Process{{Pid: 7, Comm: "cat", Args: []string{"/etc/shadow"}, ContainerID: schema.HostContainerID}},
		Events: []schema.Event{{Type: schema.EventOpenat, Proc: 0, Res: -13, Args: []schema.Arg{
			schema.IntArg(-100), schema.StrArg("/etc/shadow"), schema.IntArg(0), schema.IntArg(0),
			schema.IntArg(0), schema.IntArg(0)}}},
	}
	c := fields.NewCtx(b, 0, "")
	for _, s := range []string{"proc.cmdline", "evt.res", "fd.name", "evt.arg.flags", "container.id", "proc.pname"} {
		f := fields.MustLookup(s)
		if v, ok := f.Extract(c); ok {
			fmt.Printf("%s=%s\n", f, f.Format(v))
		} else {
			fmt.Printf("%s=%s\n", f, fields.NA)
		}
	}
	// Output:
	// proc.cmdline=cat /etc/shadow
	// evt.res=EACCES
	// fd.name=/etc/shadow
	// evt.arg.flags=O_RDONLY
	// container.id=host
	// proc.pname=<NA>
}
