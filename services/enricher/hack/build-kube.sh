#!/usr/bin/env bash
# build-kube.sh builds kube-apiserver and etcd from the Go module proxy into a
# cache directory keyed by version, for the enricher's real-API-server tests.
# It is idempotent: binaries already built are kept. It prints the directory
# holding the binaries on its last line of stdout.
#
#   KUBE_VERSION  (default v1.37.2)  k8s.io/kubernetes version
#   ETCD_VERSION  (default v3.7.3)   go.etcd.io/etcd/server/v3 version
#   PEREGRINE_KUBE_CACHE (default $HOME/.cache/peregrine/k8s-$KUBE_VERSION)
set -euo pipefail

KUBE_VERSION=${KUBE_VERSION:-v1.37.2}
ETCD_VERSION=${ETCD_VERSION:-v3.7.3}
# Staging modules are published as v0.<minor>.<patch> for kubernetes v1.<minor>.<patch>.
STAGING_VERSION=v0.${KUBE_VERSION#v1.}
OUT=${PEREGRINE_KUBE_CACHE:-$HOME/.cache/peregrine/k8s-$KUBE_VERSION}
mkdir -p "$OUT/bin"

export GOWORK=off GOFLAGS=-mod=mod CGO_ENABLED=0

log() { echo "build-kube: $*" >&2; }

build_apiserver() {
	local dir="$OUT/src-kube"
	rm -rf "$dir"
	mkdir -p "$dir"
	cd "$dir"
	go mod init peregrine.local/kubebuild >/dev/null 2>&1
	# kubernetes' own go.mod replaces every staging module with a local path;
	# mirror each such replace with the published staging version instead.
	local gomod
	gomod=$(go mod download -json "k8s.io/kubernetes@$KUBE_VERSION" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
	{
		echo "require k8s.io/kubernetes $KUBE_VERSION"
		awk '$2 == "=>" && $3 ~ /^\.\/staging\// { print $1 }' "$gomod" |
			grep -v -e sample-cli-plugin -e sample-controller |
			while read -r m; do echo "replace $m => $m $STAGING_VERSION"; done
	} >>go.mod
	cat >tools.go <<'GO'
//go:build tools

package kubebuild

import _ "k8s.io/kubernetes/cmd/kube-apiserver"
GO
	go mod tidy >&2
	local ld="-s -w -X k8s.io/component-base/version.gitVersion=$KUBE_VERSION -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$(echo "$KUBE_VERSION" | cut -d. -f2) -X k8s.io/client-go/pkg/version.gitVersion=$KUBE_VERSION"
	go build -trimpath -ldflags "$ld" -o "$OUT/bin/kube-apiserver.tmp" k8s.io/kubernetes/cmd/kube-apiserver
	mv "$OUT/bin/kube-apiserver.tmp" "$OUT/bin/kube-apiserver"
}

build_etcd() {
	local dir="$OUT/src-etcd"
	rm -rf "$dir"
	mkdir -p "$dir"
	cd "$dir"
	go mod init peregrine.local/etcdbuild >/dev/null 2>&1
	echo "require go.etcd.io/etcd/server/v3 $ETCD_VERSION" >>go.mod
	cat >tools.go <<'GO'
//go:build tools

package etcdbuild

import _ "go.etcd.io/etcd/server/v3"
GO
	go mod tidy >&2
	go build -trimpath -ldflags "-s -w" -o "$OUT/bin/etcd.tmp" go.etcd.io/etcd/server/v3
	mv "$OUT/bin/etcd.tmp" "$OUT/bin/etcd"
}

start=$(date +%s)
if [ ! -x "$OUT/bin/etcd" ]; then
	log "building etcd $ETCD_VERSION"
	(build_etcd)
fi
if [ ! -x "$OUT/bin/kube-apiserver" ]; then
	log "building kube-apiserver $KUBE_VERSION (cold: ~9 min on 2 cores)"
	(build_apiserver)
fi
log "done in $(($(date +%s) - start))s"
echo "$OUT/bin"
