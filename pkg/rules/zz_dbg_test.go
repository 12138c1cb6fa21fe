package rules

import (
	"sort"
	"testing"

	"github.com/peregrine-rt/peregrine/pkg/rules/fields"
)

func TestDbgCounts(t *testing.T) {
	e, err := Compile(loadUpstream(t), Options{})
	if err != nil {
		t.Fatal(err)
	}
	b := benchBatch()
	c := &fields.Ctx{}
	clear(DbgHits)
	clear(DbgMiss)
	for i := range b.Events {
		c.Reset(b, i, "")
		e.Eval(c, func(*Rule) {})
	}
	type kv struct {
		k    string
		h, m int
	}
	var all []kv
	th, tm := 0, 0
	for k := range DbgMiss {
		all = append(all, kv{k, DbgHits[k], DbgMiss[k]})
		th += DbgHits[k]
		tm += DbgMiss[k]
	}
	sort.Slice(all, func(i, j int) bool { return all[i].h+all[i].m > all[j].h+all[j].m })
	t.Logf("per event: hits %.1f misses %.1f", float64(th)/64, float64(tm)/64)
	for _, x := range all {
		t.Logf("%-40s hits/ev %.2f miss/ev %.2f", x.k, float64(x.h)/64, float64(x.m)/64)
	}
}
