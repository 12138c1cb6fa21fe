package rules

import (
	"sort"
	"testing"
	"time"

	"github.com/peregrine-rt/peregrine/pkg/rules/fields"
)

func TestPerfPerRule(t *testing.T) {
	e, err := Compile(loadUpstream(t), Options{})
	if err != nil {
		t.Fatal(err)
	}
	b := benchBatch()
	c := &fields.Ctx{}
	s := e.states.Get().(*evalState)
	type res struct {
		name string
		ns   float64
	}
	tot := map[string]float64{}
	for i := 0; i < 8; i++ {
		c.Reset(b, i, "")
		s.c = c
		var rs []res
		sum := 0.0
		base := 1e18
		for rep := 0; rep < 5; rep++ {
			st := time.Now()
			for k := 0; k < 5000; k++ {
				clear(s.done)
				c.Reset(b, i, "")
			}
			base = min(base, float64(time.Since(st).Nanoseconds())/5000)
		}
		for _, en := range e.byType[b.Events[i].Type] {
			best := 1e18
			for rep := 0; rep < 5; rep++ {
				st := time.Now()
				for k := 0; k < 5000; k++ {
					clear(s.done)
					c.Reset(b, i, "")
					en.match(s)
				}
				d := float64(time.Since(st).Nanoseconds()) / 5000
				best = min(best, d)
			}
			best -= base
			rs = append(rs, res{en.rule.Name, best})
			sum += best
			tot[en.rule.Name] += best
		}
		sort.Slice(rs, func(a, b int) bool { return rs[a].ns > rs[b].ns })
		t.Logf("event %d %s sum %.0f ns base %.0f", i, b.Events[i].Type, sum, base)
		for _, r := range rs[:min(6, len(rs))] {
			t.Logf("   %6.0f %s", r.ns, r.name)
		}
	}
}
