// Package defaultrules embeds the upstream Falco stable rules, which the
// evaluator loads when no rule file is named on its command line, as Falco
// loads falco_rules.yaml before falco_rules.local.yaml.
//
// falco_rules.yaml is the upstream file unmodified, Apache-2.0 header kept
// (LICENSE beside it); refresh it by copying a newer release over it.
package defaultrules

import _ "embed"

//go:embed falco_rules.yaml
var stable []byte

// Name is the location that rule errors in the embedded file carry. It is
// not a path on disk; the prefix says where the file really is.
const Name = "embedded/falco_rules.yaml"

// LocalPath is the override file loaded after the embedded rules when it
// exists, like Falco's falco_rules.local.yaml.
const LocalPath = "/etc/peregrine/rules.local.yaml"

// Stable returns the embedded upstream stable rules. The slice is shared:
// callers must not modify it.
func Stable() []byte { return stable }
