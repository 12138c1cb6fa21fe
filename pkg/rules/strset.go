package rules

import "math/bits"

// strSet is membership in a fixed list of strings, the "in" and
// "intersects" of a long list (shell_binaries, package_mgmt_binaries ...).
// A Go map hashes every byte of the probe; most probes are not in the
// list, so strSet hashes only the length and three bytes and compares at
// most the few items that share them. The items are fixed by the rules,
// so no input can lengthen a probe sequence past the items' own
// collisions.
type strSet struct {
	slots []string // open addressing; a slot is empty when used is false
	used  []bool
	shift uint
}

func newStrSet(items []string) *strSet {
	n := 1 << bits.Len(uint(len(items))*4) // load factor <= 1/4
	s := &strSet{slots: make([]string, n), used: make([]bool, n), shift: uint(64 - bits.TrailingZeros(uint(n)))}
	for _, it := range items {
		if s.has(it) {
			continue
		}
		i := s.home(it)
		for s.used[i] {
			i = (i + 1) & (len(s.slots) - 1)
		}
		s.slots[i], s.used[i] = it, true
	}
	return s
}

// home is the first slot to probe for v.
func (s *strSet) home(v string) int {
	h := uint64(len(v))
	if n := len(v); n > 0 {
		h |= uint64(v[0])<<8 | uint64(v[n/2])<<16 | uint64(v[n-1])<<24
	}
	return int((h * 0x9e3779b97f4a7c15) >> s.shift)
}

func (s *strSet) has(v string) bool {
	mask := len(s.slots) - 1
	for i := s.home(v); s.used[i]; i = (i + 1) & mask {
		if s.slots[i] == v {
			return true
		}
	}
	return false
}
