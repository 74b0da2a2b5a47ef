#!/usr/bin/env bash
# Installs everything podprof's build and test suite need on Debian 12 (bookworm), as root.
# Idempotent: when every package and toolchain is present it only checks and returns.
#
# Go toolchains come from Debian: 1.19 (bookworm), 1.21-1.23 (bookworm-backports),
# 1.24 (trixie), 1.25-1.27 (trixie-backports). The extra suites are added with pin
# priority 100 so that nothing already installed is upgraded from them; the toolchains
# (and kubectl, when missing) are installed explicitly with -t <suite>.
set -euo pipefail

# Build and test packages from bookworm itself.
BASE_PKGS=(
  build-essential cmake pkg-config clang libclang-rt-14-dev
  libcurl4-openssl-dev libcjson-dev libyaml-dev libprotobuf-c-dev protobuf-c-compiler
  libelf-dev libmicrohttpd-dev zlib1g-dev
  python3 python3-kubernetes python3-prometheus-client
  golang-github-masterminds-sprig-dev golang-gopkg-yaml.v3-dev
  valgrind procps curl ca-certificates binutils
)
# "version suite" pairs for the Go toolchains.
GO_TOOLCHAINS=(
  "1.19 bookworm" "1.21 bookworm-backports" "1.22 bookworm-backports"
  "1.23 bookworm-backports" "1.24 trixie" "1.25 trixie-backports"
  "1.26 trixie-backports" "1.27 trixie-backports"
)

SOURCES=/etc/apt/sources.list.d/podprof-go.sources
PINS=/etc/apt/preferences.d/podprof-go

missing_pkgs() {
  local p
  for p in "$@"; do
    [ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" = "install ok installed" ] || echo "$p"
  done
}

need_root() {
  if [ "$(id -u)" -ne 0 ]; then
    echo "deps.sh: missing packages ($*); run as root to install them" >&2
    exit 1
  fi
}

updated=0
apt_update() {
  if [ $updated -eq 0 ]; then
    apt-get update -qq
    updated=1
  fi
}

add_suites() {
  [ -f "$SOURCES" ] && [ -f "$PINS" ] && return 0
  cat >"$SOURCES" <<'SRC'
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm-backports trixie trixie-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
  cat >"$PINS" <<'PIN'
Package: *
Pin: release n=bookworm-backports
Pin-Priority: 100

Package: *
Pin: release n=trixie
Pin-Priority: 100

Package: *
Pin: release n=trixie-backports
Pin-Priority: 100
PIN
  updated=0
}

export DEBIAN_FRONTEND=noninteractive

mapfile -t want < <(missing_pkgs "${BASE_PKGS[@]}")
if [ ${#want[@]} -gt 0 ]; then
  need_root "${want[@]}"
  apt_update
  apt-get install -y -qq --no-install-recommends "${want[@]}"
fi

for pair in "${GO_TOOLCHAINS[@]}"; do
  set -- $pair
  ver=$1 suite=$2
  if [ ! -x "/usr/lib/go-$ver/bin/go" ]; then
    need_root "golang-$ver-go"
    add_suites
    apt_update
    apt-get install -y -qq --no-install-recommends -t "$suite" "golang-$ver-go"
  fi
done

if ! command -v kubectl >/dev/null 2>&1; then
  need_root kubectl
  add_suites
  apt_update
  apt-get install -y -qq --no-install-recommends -t trixie kubectl
fi
exit 0
