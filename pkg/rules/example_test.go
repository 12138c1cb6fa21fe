package rules_test

import (
	"fmt"

	"github.com/peregrine-rt/peregrine/pkg/rules"
	"github.com/peregrine-rt/peregrine/pkg/rules/fields"
)

func ExampleCompile() {
	src := `
- list: shell_binaries
  items: [bash, sh, zsh]
- macro: spawned_process
  condition: evt.type in (execve, execveat)
- rule: Shell spawned
  desc: a shell was started
  condition: spawned_process and proc.name in (shell_binaries)
  output: shell started (user=%user.name parent=%proc.pname cmd=%proc.cmdline)
  priority: NOTICE
  tags: [shell]
`
	e, err := rules.Compile([]rules.File{{Name: "example.yaml", Data: []byte(src)}}, rules.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	c := &fields.Ctx{Flat: map[string]any{
		"evt.type": "execve", "evt.rawtime": int64(1_700_000_000_123456789),
		"proc.name": "bash", "user.name": "root", "proc.cmdline": "bash -i",
	}}
	e.Eval(c, func(r *rules.Rule) {
		a := e.Alert(r, c)
		fmt.Println(a.Rule, r.EventTypes)
		fmt.Println(a.Output)
		fmt.Println(a.OutputFields["proc.pname"] == nil)
	})
	// Output:
	// Shell spawned [execve execveat]
	// 22:13:20.123456789: Notice shell started (user=root parent=<NA> cmd=bash -i)
	// true
}
