#!/usr/bin/env bash
# build-alertmanager.sh installs a real Alertmanager for the notifier's
# Alertmanager test into $(go env GOPATH)/bin. `go install` cannot build it
# from the module proxy: the module zip lacks the web UI that ui/web.go
# embeds (built by npm in Alertmanager's release). The API does not need the
# UI, so the build gets placeholder pages. Idempotent: an installed binary of
# the same version is kept.
#
#   ALERTMANAGER_VERSION (default v0.35.0)
set -euo pipefail
v=${ALERTMANAGER_VERSION:-v0.35.0}
bin="$(go env GOPATH)/bin/alertmanager"
if [ -x "$bin" ] && "$bin" --version 2>&1 | grep -q "version ${v#v} "; then
	exit 0
fi
echo "build-alertmanager: building Alertmanager $v" >&2
work=$(mktemp -d)
trap 'chmod -R u+w "$work"; rm -rf "$work"' EXIT
dir=$(GOFLAGS=-mod=mod go mod download -json "github.com/prometheus/alertmanager@$v" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
cp -r "$dir" "$work/src"
chmod -R u+w "$work/src"
for d in elm mantine; do
	mkdir -p "$work/src/ui/app/dist/$d"
	echo '<!doctype html><title>Alertmanager</title>' >"$work/src/ui/app/dist/$d/index.html"
done
cd "$work/src"
ld="-X github.com/prometheus/common/version.Version=${v#v}"
GOWORK=off CGO_ENABLED=0 go build -trimpath -ldflags "$ld" -o "$bin.tmp" ./cmd/alertmanager
mv "$bin.tmp" "$bin"
