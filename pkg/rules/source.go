package rules

import (
	"strings"

	"gopkg.in/yaml.v3"
)

// srcFile is one loaded rule file, kept for mapping offsets inside scalars
// back to file lines and columns.
type srcFile struct {
	name  string
	lines []string
}

func newSrcFile(f File) *srcFile {
	return &srcFile{name: f.Name, lines: strings.Split(string(f.Data), "\n")}
}

// scalarSrc locates a YAML scalar (a condition, an output) in its file.
type scalarSrc struct {
	file *srcFile
	node *yaml.Node
	// whole marks text the loader built (exceptions): offsets inside it
	// do not map to the file, so issues point at the node.
	whole bool
}

// issue builds an Issue at the node itself.
func (s scalarSrc) issue(msg, item string) Issue {
	i := Issue{Message: msg, Item: item}
	if s.file != nil {
		i.File = s.file.name
	}
	if s.node != nil {
		i.Line, i.Col = s.node.Line, s.node.Column
	}
	return i
}

// issueAt builds an Issue at byte offset off of the scalar's value.
func (s scalarSrc) issueAt(off int, msg, item string) Issue {
	i := s.issue(msg, item)
	if s.node != nil && s.file != nil && !s.whole {
		i.Line, i.Col = s.locate(off)
	}
	return i
}

// locate maps an offset in the scalar's value to a file position. YAML
// folds a multi-line scalar by turning each line break into one character
// and dropping indentation; walking the source lines the same way finds
// the line, and the column within it, of the offset.
func (s scalarSrc) locate(off int) (line, col int) {
	n := s.node
	first := n.Line - 1 // index into lines
	startCol := n.Column - 1
	block := n.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0
	switch {
	case block:
		first++
		startCol = -1
	case n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) != 0:
		startCol++
	}
	rem := off
	for li := first; li < len(s.file.lines); li++ {
		text := s.file.lines[li]
		var begin int
		if li == first && startCol >= 0 {
			begin = min(startCol, len(text))
		} else {
			begin = len(text) - len(strings.TrimLeft(text, " \t"))
		}
		content := strings.TrimRight(text[begin:], " \t\r")
		if rem <= len(content) {
			return li + 1, begin + rem + 1
		}
		rem -= len(content) + 1
	}
	return n.Line, n.Column
}

// segment is a piece of a condition and where it came from: appends join
// pieces from several files.
type segment struct {
	text string
	src  scalarSrc
}

// segmented is a condition text built from segments joined by single
// spaces, as Falco's loader joins appended conditions.
type segmented []segment

func (s segmented) text() string {
	parts := make([]string, len(s))
	for i, seg := range s {
		parts[i] = seg.text
	}
	return strings.Join(parts, " ")
}

// issueAt maps an offset of the joined text to its segment's source.
func (s segmented) issueAt(off int, msg, item string) Issue {
	base := 0
	for i, seg := range s {
		end := base + len(seg.text)
		if off <= end || i == len(s)-1 {
			return seg.src.issueAt(max(off-base, 0), msg, item)
		}
		base = end + 1
	}
	return Issue{Message: msg, Item: item}
}
