// Package outputs is the table of every output kind the notifier knows.
// Each kind lives in its own package below this one and contributes one
// line to [Specs]; the core reads the table and never names an output.
package outputs

import (
	"github.com/peregrine-rt/peregrine/services/notifier/internal/output"
	"github.com/peregrine-rt/peregrine/services/notifier/internal/outputs/alertmanager"
	"github.com/peregrine-rt/peregrine/services/notifier/internal/outputs/azureeventhubs"
	"github.com/peregrine-rt/peregrine/services/notifier/internal/outputs/datadog"
	"github.com/peregrine-rt/peregrine/services/notifier/internal/outputs/discord"
	"github.com/peregrine-rt/peregrine/services/notifier/internal/outputs/dogstatsd"
	"github.com/peregrine-rt/peregrine/services/notifier/internal/outputs/elasticsearch"
	"github.com/peregrine-rt/peregrine/services/notifier/internal/outputs/file"
	"github.com/peregrine-rt/peregrine/services/notifier/internal/outputs/influxdb"
	"github.com/peregrine-rt/peregrine/services/notifier/internal/outputs/lambda"
	"github.com/peregrine-rt/peregrine/services/notifier/internal/outputs/loki"
	"github.com/peregrine-rt/peregrine/services/notifier/internal/outputs/mattermost"
	"github.com/peregrine-rt/peregrine/services/notifier/internal/outputs/nats"
	"github.com/peregrine-rt/peregrine/services/notifier/internal/outputs/opsgenie"
	"github.com/peregrine-rt/peregrine/services/notifier/internal/outputs/program"
	"github.com/peregrine-rt/peregrine/services/notifier/internal/outputs/rocketchat"
	"github.com/peregrine-rt/peregrine/services/notifier/internal/outputs/slack"
	"github.com/peregrine-rt/peregrine/services/notifier/internal/outputs/smtp"
	"github.com/peregrine-rt/peregrine/services/notifier/internal/outputs/sqs"
	"github.com/peregrine-rt/peregrine/services/notifier/internal/outputs/statsd"
	"github.com/peregrine-rt/peregrine/services/notifier/internal/outputs/stdout"
	"github.com/peregrine-rt/peregrine/services/notifier/internal/outputs/syslog"
	"github.com/peregrine-rt/peregrine/services/notifier/internal/outputs/teams"
	"github.com/peregrine-rt/peregrine/services/notifier/internal/outputs/webhook"
)

// Specs returns every output kind, sorted by key. Keep this a plain sorted
// list, one line per output, so that adding an output is a one-line edit.
func Specs() []output.Spec {
	return []output.Spec{
		alertmanager.Spec(),
		azureeventhubs.Spec(),
		datadog.Spec(),
		discord.Spec(),
		dogstatsd.Spec(),
		elasticsearch.Spec(),
		file.Spec(),
		influxdb.Spec(),
		lambda.Spec(),
		loki.Spec(),
		mattermost.Spec(),
		nats.Spec(),
		opsgenie.Spec(),
		program.Spec(),
		rocketchat.Spec(),
		slack.Spec(),
		smtp.Spec(),
		sqs.Spec(),
		statsd.Spec(),
		stdout.Spec(),
		syslog.Spec(),
		teams.Spec(),
		webhook.Spec(),
	}
}
