package rules

import (
	"fmt"
	"testing"
)

// TestStrSet checks strSet against a map on lists whose items share
// lengths and end bytes, so probes run through collision chains.
func TestStrSet(t *testing.T) {
	tests := []struct {
		name  string
		items []string
	}{
		{"shell binaries", []string{"ash", "bash", "csh", "ksh", "sh", "tcsh", "zsh", "dash", "fish"}},
		{"with empty and duplicates", []string{"", "a", "a", "ab", "ba", "aa", "bb", "abc", "acc"}},
		{"same length and ends", func() []string {
			var out []string
			for c := 'a'; c <= 'z'; c++ {
				out = append(out, fmt.Sprintf("x%cy%cz", c, c))
			}
			return out
		}()},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			set := newStrSet(tc.items)
			want := map[string]bool{}
			for _, it := range tc.items {
				want[it] = true
			}
			probes := append([]string{"", "x", "bash ", "xqyqz", "xqyrz", "abd"}, tc.items...)
			for _, it := range tc.items {
				probes = append(probes, it+"x", "x"+it)
			}
			for _, p := range probes {
				if got := set.has(p); got != want[p] {
					t.Errorf("has(%q) = %v, want %v", p, got, want[p])
				}
			}
		})
	}
}
