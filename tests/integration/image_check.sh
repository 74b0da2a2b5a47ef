#!/usr/bin/env bash
# The fast, honest check of the Dockerfile (no Docker engine here), in the test suite:
#   1. its build commands are scripts/run.sh's (the README's build), with the source
#      tree at /src;
#   2. it copies every directory CMake reads;
#   3. the build stage installs the package of every pkg-config module and program
#      CMakeLists.txt requires (asked of this machine's dpkg), and only packages
#      scripts/deps.sh installs too;
#   4. the runtime stage's packages provide, with their dependencies, every shared
#      library the podprof binary links (ldd, dpkg -S, apt-cache depends), and each of
#      them is needed (a library or ca-certificates for https);
#   5. bases are Debian 12 (this machine's release), the runtime runs podprof as its
#      entrypoint at /usr/bin/podprof (the chart's command), as a non-root user, with
#      the OCI labels source and version, the version the project's.
# The slow check that runs the Dockerfile's steps in Debian root file systems is
# tests/integration/image_build.sh.
#
#   image_check.sh SOURCE_DIR PODPROF_BINARY
set -uo pipefail
# Never `producer | grep -q`: grep -q exits at the first match, the producer then dies of
# SIGPIPE, and pipefail makes a match look like a failure (at random, as the producer
# happens to be done writing or not). Here-strings have no producer.
src=${1:?usage: image_check.sh SOURCE_DIR PODPROF_BINARY}
bin=${2:?usage: image_check.sh SOURCE_DIR PODPROF_BINARY}
dockerfile=$src/Dockerfile
fail=0
bad() { echo "FAIL: $*"; fail=1; }
ok() { echo "ok   $*"; }

for tool in dpkg dpkg-query apt-cache ldd pkg-config /usr/bin/python3; do
  command -v "$tool" >/dev/null || { echo "skipped: $tool is missing"; exit 0; }
done
[ -r "$dockerfile" ] || { bad "no $dockerfile"; exit 1; }

# The Dockerfile as instructions: "STAGE<TAB>INSTRUCTION<TAB>ARGUMENTS", continuation
# lines joined, comments dropped.
parsed=$(/usr/bin/python3 - "$dockerfile" <<'PY'
import re, sys
lines, cur = [], ""
for raw in open(sys.argv[1]):
    line = raw.rstrip("\n")
    if not cur and (not line.strip() or line.lstrip().startswith("#")):
        continue
    if line.rstrip().endswith("\\"):
        cur += line.rstrip()[:-1] + " "
        continue
    lines.append(cur + line)
    cur = ""
stage = -1
for l in lines:
    ins, _, args = l.strip().partition(" ")
    ins = ins.upper()
    if ins == "FROM":
        stage += 1
    print("%d\t%s\t%s" % (stage, ins, re.sub(r"\s+", " ", args.strip())))
PY
)
stages=$(printf '%s\n' "$parsed" | awk -F'\t' '$2=="FROM"' | wc -l)
[ "$stages" -eq 2 ] && ok "two stages" || bad "expected a build and a runtime stage, got $stages"
last=$((stages - 1))
from() { printf '%s\n' "$parsed" | awk -F'\t' -v s="$1" '$1==s && $2=="FROM" {print $3}'; }
instr() { printf '%s\n' "$parsed" | awk -F'\t' -v s="$1" -v i="$2" '$1==s && $2==i {print $3}'; }

# ---- 5. bases, entrypoint, user, labels ---------------------------------------------
release=$(cut -d. -f1 /etc/debian_version 2>/dev/null)
[ "$release" = 12 ] || echo "note: this machine runs Debian ${release:-?}, the image Debian 12"
[ "$(from 0)" = "debian:bookworm AS build" ] && ok "build stage: debian:bookworm" ||
  bad "build stage FROM '$(from 0)', expected 'debian:bookworm AS build'"
[ "$(from $last)" = "debian:bookworm-slim" ] && ok "runtime stage: debian:bookworm-slim" ||
  bad "runtime stage FROM '$(from $last)', expected debian:bookworm-slim"
[ "$(instr $last ENTRYPOINT)" = '["/usr/bin/podprof"]' ] && ok "entrypoint /usr/bin/podprof" ||
  bad "ENTRYPOINT '$(instr $last ENTRYPOINT)'"
grep -q -- '--from=build .* /usr/bin/podprof$' <<<"$(instr $last COPY)" && ok "podprof installed at /usr/bin/podprof" ||
  bad "the runtime stage does not copy podprof to /usr/bin/podprof"
grep -rq '"/usr/bin/podprof"' "$src/charts/podprof/templates" && ok "the chart runs /usr/bin/podprof" ||
  bad "the chart's command is not /usr/bin/podprof"
user=$(instr $last USER)
uid=${user%%:*}
if [[ "$uid" =~ ^[0-9]+$ ]] && [ "$uid" -ne 0 ]; then ok "default user $user"; else bad "USER '$user' is not a non-root uid"; fi
labels=$(instr $last LABEL)
for l in org.opencontainers.image.source org.opencontainers.image.version; do
  grep -q "$l=" <<<"$labels" && ok "label $l" || bad "label $l missing"
done
project=$(sed -nE 's/^project\(podprof VERSION ([0-9.]+).*/\1/p' "$src/CMakeLists.txt")
grep -qx "VERSION=$project" <<<"$(instr $last ARG)" && ok "VERSION defaults to $project" ||
  bad "ARG VERSION is not the project's $project"
grep -q "^appVersion: \"$project\"" "$src/charts/podprof/Chart.yaml" && ok "the chart's appVersion is $project" ||
  bad "charts/podprof/Chart.yaml appVersion is not $project"

# ---- 1. the build commands are scripts/run.sh's ------------------------------------------
norm() { sed -E 's/"//g; s/[[:space:]]*>[[:space:]]*\/dev\/null//g; s/[[:space:]]+/ /g; s/^ //; s/ $//'; }
want=$(grep -E '^[[:space:]]*cmake ' "$src/scripts/run.sh" | sed 's/\$top/\/src/g' | norm)
got=$(instr 0 RUN | grep 'cmake ' | sed 's/ && /\n/g' | grep -E '^cmake ' | norm)
if [ -n "$want" ] && [ "$want" = "$got" ]; then
  ok "build commands equal scripts/run.sh's:"; printf '       %s\n' "$want"
else
  bad "the build commands differ from scripts/run.sh's"
  printf '  run.sh:     %s\n' "$want"; printf '  Dockerfile: %s\n' "$got"
fi

# ---- 2. every directory CMake reads is copied ----------------------------------------
copied=$(instr 0 COPY)
for d in CMakeLists.txt $(sed -nE 's/^[[:space:]]*add_subdirectory\(([a-z0-9_]+)\).*/\1/p' "$src/CMakeLists.txt"); do
  grep -qE "(^| )$d/? /src/($d/?)?$" <<<"$copied" && ok "copies $d" || bad "does not copy $d (CMake reads it)"
done

# ---- 3. the build stage's packages ------------------------------------------------------
apt_list() { # stage -> packages of its apt-get install
  instr "$1" RUN | grep -o 'apt-get install [^&]*' | sed 's/apt-get install//' |
    tr ' ' '\n' | grep -vE '^(-|$)' | sort -u
}
# file -> package, from one dpkg -S over every name a file may be recorded under
# (usr-merged /lib and /usr/lib, symlink targets)
owners=""
learn_owners() {
  local f cands=()
  for f in "$@"; do
    cands+=("$f" "/usr$f" "$(readlink -f "$f")" "/usr$(readlink -f "$f")" "${f#/usr}")
  done
  owners="$owners
$(dpkg -S "${cands[@]}" 2>/dev/null)"
}
owner() {
  local f p
  for f in "$1" "/usr$1" "$(readlink -f "$1")" "/usr$(readlink -f "$1")" "${1#/usr}"; do
    p=$(printf '%s\n' "$owners" | awk -v f="$f" -F': ' '$2==f {print $1; exit}' | cut -d: -f1)
    [ -n "$p" ] && { echo "$p"; return; }
  done
}
closure_of() {
  apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts \
    --no-breaks --no-replaces --no-enhances "$@" 2>/dev/null | grep -vE '^ |^<' | sort -u
}
build_pkgs=$(apt_list 0)
build_closure=$(closure_of $build_pkgs)
mods=$(sed -nE 's/.*pkg_check_modules\([A-Z_]+ REQUIRED IMPORTED_TARGET ([^)]+)\).*/\1/p' "$src/CMakeLists.txt")
progs="$(sed -nE 's/.*find_program\([A-Z_]+ ([a-z0-9_-]+) REQUIRED\).*/\1/p' "$src/CMakeLists.txt") cmake pkg-config cc"
pcs=""
for mod in $mods; do pcs="$pcs $(pkg-config --variable=pcfiledir "$mod" 2>/dev/null)/$mod.pc"; done
libs=$(ldd "$bin" | awk '/=> \// {print $1, $3}')
learn_owners $pcs $(for prog in $progs; do command -v "$prog"; done) $(printf '%s\n' "$libs" | awk '{print $2}')
deps_pkgs=$(sed -n '/^BASE_PKGS=(/,/^)/p' "$src/scripts/deps.sh" | tr ' ' '\n' | grep -vE '^(BASE_PKGS=\(|\)|)$')
for p in $build_pkgs; do
  grep -qx "$p" <<<"$deps_pkgs" || bad "build package $p is not in scripts/deps.sh"
done
for mod in $mods; do
  pc="$(pkg-config --variable=pcfiledir "$mod" 2>/dev/null)/$mod.pc"
  p=$(owner "$pc")
  if [ -z "$p" ]; then bad "pkg-config module $mod: no package owns $pc here"
  elif grep -qx "$p" <<<"$build_closure"; then ok "pkg-config $mod <- $p"
  else bad "pkg-config $mod needs $p, which the build stage does not install"; fi
done
for prog in $progs; do
  p=$(owner "$(command -v "$prog")")
  if grep -qx "$p" <<<"$build_closure"; then ok "program $prog <- $p"
  else bad "program $prog needs ${p:-?}, which the build stage does not install"; fi
done

# ---- 4. the runtime stage's packages against the libraries podprof links ------------
run_pkgs=$(apt_list $last)
closure=$(closure_of $run_pkgs)
[ -n "$closure" ] || { echo "skipped: apt-cache knows none of $run_pkgs (apt-get update?)"; exit "$fail"; }
needed=""
# A sanitizer build links the sanitizer runtimes and what they link (libstdc++,
# libgcc_s): not the image's.
san=$(printf '%s\n' "$libs" | awk '$1 ~ /^lib(a|ub|l|t)san\.so/ {print $2}')
san_deps=$(for f in $san; do ldd "$f" | awk '/=> \// {print $1}'; done | sort -u)
while read -r soname path; do
  case "$soname" in
    libasan.so*|libubsan.so*|liblsan.so*|libtsan.so*)
      echo "note: $soname is the sanitizer build's runtime, not the image's"; continue ;;
  esac
  if grep -qx "$soname" <<<"$san_deps" && [ "$soname" != libc.so.6 ] &&
     [ "$soname" != libm.so.6 ]; then
    echo "note: $soname is linked by the sanitizer runtime"; continue
  fi
  p=$(owner "$path")
  [ -n "$p" ] || { bad "$soname ($path): no package owns it here"; continue; }
  needed="$needed $p"
  if grep -qx "$p" <<<"$run_pkgs"; then :
  elif grep -qx "$p" <<<"$closure"; then :
  else bad "$soname comes from $p, which the runtime stage does not install"; fi
done < <(printf '%s\n' "$libs")
ok "every linked library comes with the runtime packages: $(echo $needed | tr ' ' '\n' | sort -u | tr '\n' ' ')"
for p in $run_pkgs; do
  [ "$p" = ca-certificates ] && continue # https to Coroot and to targets
  grep -qx "$p" <<<"$(printf '%s\n' $needed)" && continue
  bad "runtime package $p provides no library podprof links"
done

exit "$fail"
