// Package outputs is the table of every output kind the notifier knows.
// Each kind lives in its own package below this one and contributes one
// line to [Specs]; the core reads the table and never names an output.
package outputs

import (
	"github.com/peregrine-rt/peregrine/services/notifier/internal/output"
	"github.com/peregrine-rt/peregrine/services/notifier/internal/outputs/mattermost"
	"github.com/peregrine-rt/peregrine/services/notifier/internal/outputs/rocketchat"
	"github.com/peregrine-rt/peregrine/services/notifier/internal/outputs/slack"
)

// Specs returns every output kind, sorted by key. Keep this a plain sorted
// list, one line per output, so that adding an output is a one-line edit.
func Specs() []output.Spec {
	return []output.Spec{
		mattermost.Spec(),
		rocketchat.Spec(),
		slack.Spec(),
	}
}
