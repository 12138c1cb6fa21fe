// Package ruleset loads the evaluator's rule files into a compiled rule
// set and replaces it while the service runs.
//
// A [Reloader] holds the current [Set] behind an atomic pointer. A reload
// (on a file change seen by polling, or on request, which the service ties
// to SIGHUP) compiles the files aside; only a set that compiles replaces
// the current one, so a broken edit is rejected with its errors and the
// old rules keep evaluating. Readers take the pointer once per batch, so
// every event is evaluated by exactly one rule set.
package ruleset

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"

	"github.com/peregrine-rt/peregrine/pkg/rules"

	"github.com/peregrine-rt/peregrine/services/evaluator/internal/defaultrules"
)

// Source says which files make a rule set.
type Source struct {
	// Paths are rule files on disk, in load order. When empty the
	// embedded stable rules are loaded, then [defaultrules.LocalPath] if
	// it exists, as Falco loads falco_rules.yaml then falco_rules.local.yaml.
	Paths []string
	// LocalPath overrides [defaultrules.LocalPath] (tests).
	LocalPath string
	Options   rules.Options
}

// Set is one compiled rule set.
type Set struct {
	Engine *rules.Engine
	// Gen counts sets: 1 for the first, one more per accepted reload.
	Gen    uint64
	Files  []string // names in load order, as errors print them
	Loaded time.Time
}

// watched is one file whose change triggers a reload.
type watched struct {
	path     string
	optional bool // a missing file is skipped, not an error
}

func (s Source) files() []watched {
	if len(s.Paths) == 0 {
		local := s.LocalPath
		if local == "" {
			local = defaultrules.LocalPath
		}
		return []watched{{path: local, optional: true}}
	}
	out := make([]watched, len(s.Paths))
	for i, p := range s.Paths {
		out[i] = watched{path: p}
	}
	return out
}

// stamp is what a poll compares: a file replaced, resized, touched,
// created or removed changes it.
type stamp struct {
	exists bool
	size   int64
	mtime  time.Time
	mode   fs.FileMode
}

func stat(files []watched) []stamp {
	out := make([]stamp, len(files))
	for i, f := range files {
		// Stat follows symlinks, so a Kubernetes ConfigMap update (an
		// atomic swap of the ..data link) shows as a new mtime.
		if fi, err := os.Stat(f.path); err == nil {
			out[i] = stamp{exists: true, size: fi.Size(), mtime: fi.ModTime(), mode: fi.Mode()}
		}
	}
	return out
}

func sameStamps(a, b []stamp) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].exists != b[i].exists || a[i].size != b[i].size || !a[i].mtime.Equal(b[i].mtime) || a[i].mode != b[i].mode {
			return false
		}
	}
	return true
}

// Load reads and compiles src once. The error is a [rules.Issues] listing
// every problem, unreadable files included, as "file:line:col: message".
func Load(src Source) (*Set, error) {
	set, _, err := load(src)
	return set, err
}

// load stats the files before reading them, so an edit made during the
// read changes the stamps again and is picked up by the next poll.
func load(src Source) (*Set, []stamp, error) {
	files := src.files()
	stamps := stat(files)
	var in []rules.File
	var names []string
	if len(src.Paths) == 0 {
		in = append(in, rules.File{Name: defaultrules.Name, Data: defaultrules.Stable()})
		names = append(names, defaultrules.Name)
	}
	var issues rules.Issues
	for _, f := range files {
		data, err := os.ReadFile(f.path)
		switch {
		case err == nil:
			in = append(in, rules.File{Name: f.path, Data: data})
			names = append(names, f.path)
		case f.optional && errors.Is(err, fs.ErrNotExist):
		default:
			issues = append(issues, rules.Issue{File: f.path, Message: readError(err)})
		}
	}
	if len(issues) > 0 {
		return nil, stamps, issues
	}
	eng, err := rules.Compile(in, src.Options)
	if err != nil {
		var is rules.Issues
		if errors.As(err, &is) {
			return nil, stamps, is
		}
		return nil, stamps, rules.Issues{{File: names[len(names)-1], Message: err.Error()}}
	}
	return &Set{Engine: eng, Gen: 1, Files: names, Loaded: time.Now()}, stamps, nil
}

// readError drops the path os puts in its errors: the issue names it.
func readError(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return fmt.Sprintf("cannot read rule file: %v", pe.Err)
	}
	return "cannot read rule file: " + err.Error()
}
