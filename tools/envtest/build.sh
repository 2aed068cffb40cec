#!/usr/bin/env bash
# Builds etcd and kube-apiserver from their Go modules (no prebuilt binary is downloaded) into a
# cache directory keyed by their versions, once per machine; later runs reuse it at once.
#
#   tools/envtest/build.sh     build (or reuse) both servers; prints the directory that holds them
#
# The versions live in tools/envtest/{kube-apiserver,etcd}/go.mod (and their go.sum). The cache
# root is $STARFORM_ENVTEST_CACHE, else ${XDG_CACHE_HOME:-$HOME/.cache}/starform/envtest; the
# Go module and build caches of these builds live under it too, so a rebuild after a version
# bump downloads and compiles only what changed. Needs Go (the version in the go.mod files, or
# GOTOOLCHAIN set to fetch one) and the Go module proxy. Progress goes to stderr.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cache="${STARFORM_ENVTEST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/starform/envtest}"

# the version of module $2 required in tools/envtest/$1/go.mod
required_version() {
  awk -v m="$2" '{ for (i = 1; i < NF; i++) if ($i == m && $(i + 1) ~ /^v/) { print $(i + 1); exit } }' \
    "$here/$1/go.mod"
}

kube_version="$(required_version kube-apiserver k8s.io/kubernetes)"
etcd_version="$(required_version etcd go.etcd.io/etcd/server/v3)"
if [ -z "$kube_version" ] || [ -z "$etcd_version" ]; then
  echo "envtest: cannot read the kube-apiserver and etcd versions from $here/*/go.mod" >&2
  exit 1
fi
# the inputs of the build: what is required (go.mod, go.sum) and how it is built (this line)
build_flags="-trimpath -buildvcs=false -mod=readonly CGO_ENABLED=0 -ldflags=-s -w version-stamped"
inputs="$(cat "$here"/kube-apiserver/go.{mod,sum} "$here"/etcd/go.{mod,sum}; echo "$build_flags")"
key="$(printf '%s' "$inputs" | sha256sum | cut -c1-12)"
out="$cache/kube-$kube_version-etcd-$etcd_version-$key"

if [ -x "$out/kube-apiserver" ] && [ -x "$out/etcd" ] && [ -f "$out/.complete" ]; then
  echo "$out"
  exit 0
fi

if ! command -v go >/dev/null 2>&1; then
  echo "envtest: Go is not installed (needed to build kube-apiserver $kube_version and etcd $etcd_version)" >&2
  exit 1
fi

mkdir -p "$cache"
exec 9>"$cache/.lock"
flock 9  # another process (a parallel test run, another checkout) may be building the same
if [ -f "$out/.complete" ]; then
  echo "$out"
  exit 0
fi

export GOMODCACHE="$cache/go/mod" GOCACHE="$cache/go/build" GOWORK=off CGO_ENABLED=0
export GOFLAGS="-trimpath -buildvcs=false -mod=readonly -modcacherw"
export GOTOOLCHAIN="${GOTOOLCHAIN:-local}"
unset GOOS GOARCH GOBIN

tmp="$(mktemp -d "$cache/.build.XXXXXX")"
chmod 755 "$tmp"
trap 'rm -rf "$tmp"' EXIT
started=$SECONDS

# kube-apiserver reports its version from these variables (as a release build stamps them)
kube_minor="${kube_version#v1.}"
kube_minor="${kube_minor%%.*}"
kube_date="$(cd "$here/kube-apiserver" && go list -m -f '{{.Time.UTC.Format "2006-01-02T15:04:05Z"}}' k8s.io/kubernetes)"
pkg=k8s.io/component-base/version
kube_ldflags="-s -w -X $pkg.gitVersion=$kube_version -X $pkg.gitMajor=1 -X $pkg.gitMinor=$kube_minor"
kube_ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=$kube_date"

echo "envtest: building kube-apiserver $kube_version (first build on this machine takes minutes)" >&2
(cd "$here/kube-apiserver" && go build -ldflags "$kube_ldflags" -o "$tmp/kube-apiserver" k8s.io/kubernetes/cmd/kube-apiserver)
echo "envtest: building etcd $etcd_version" >&2
(cd "$here/etcd" && go build -ldflags "-s -w" -o "$tmp/etcd" go.etcd.io/etcd/server/v3)

"$tmp/kube-apiserver" --version >&2
# sed reads to the end: head would close the pipe early, and the SIGPIPE it gives etcd fails a
# first build under pipefail
"$tmp/etcd" --version | sed -n 1p >&2
printf 'kube-apiserver %s\netcd %s\nbuilt in %ss with %s\n' \
  "$kube_version" "$etcd_version" "$((SECONDS - started))" "$(go env GOVERSION)" >"$tmp/.complete"
rm -rf "$out"
mv "$tmp" "$out"
trap - EXIT
echo "envtest: built in $((SECONDS - started))s into $out" >&2
echo "$out"
