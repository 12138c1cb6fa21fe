package rules

import (
	"fmt"
	"sort"
	"strings"
)

// Issue is one problem found while loading rule files.
type Issue struct {
	File    string
	Line    int // 1-based; 0 when unknown
	Col     int // 1-based; 0 when unknown
	Message string
	// Item is the offending text: a field, a macro name, a token.
	Item string
}

// String is "file:line:col: message".
func (i Issue) String() string {
	var b strings.Builder
	b.WriteString(i.File)
	if i.Line > 0 {
		fmt.Fprintf(&b, ":%d:%d", i.Line, i.Col)
	}
	b.WriteString(": ")
	b.WriteString(i.Message)
	return b.String()
}

// Issues lists every problem of a [Compile] call; it is the error type
// [Compile] returns.
type Issues []Issue

// Error is one "file:line:col: message" per line.
func (is Issues) Error() string {
	lines := make([]string, len(is))
	for k, i := range is {
		lines[k] = i.String()
	}
	return strings.Join(lines, "\n")
}

// sorted orders issues by file position so reports are stable whatever
// order the compiler found them in. Files keep their load order.
func (is Issues) sorted(fileOrder map[string]int) Issues {
	out := append(Issues(nil), is...)
	sort.SliceStable(out, func(a, b int) bool {
		x, y := out[a], out[b]
		if x.File != y.File {
			return fileOrder[x.File] < fileOrder[y.File]
		}
		if x.Line != y.Line {
			return x.Line < y.Line
		}
		return x.Col < y.Col
	})
	return out
}
