#!/usr/bin/env bash
# The slow, full check of the Dockerfile without a Docker engine: runs its instructions
# (FROM, WORKDIR, COPY, RUN, USER, ENTRYPOINT) in Debian 12 root file systems made with
# debootstrap, then runs the resulting image's entrypoint as its user:
#   - each stage starts from a debootstrapped bookworm (variant minbase, close to the
#     debian:bookworm and debian:bookworm-slim images; made once and kept as a tarball
#     in CACHE_DIR, with the downloaded .debs);
#   - RUN executes with /bin/sh -c in the WORKDIR inside a chroot, as docker does;
#     COPY takes the source tree (the build context) or, with --from, the build stage;
#   - the runtime root must resolve every library of /usr/bin/podprof (ldd in the
#     chroot), and `podprof version`, the CMD (--help) and `podprof ps` must work as the
#     image's USER, with the entrypoint.
# Needs root, debootstrap (apt-get install debootstrap) and deb.debian.org; several
# minutes the first time. Not part of scripts/test.sh: run it with
#   ctest --test-dir build/plain -L image --output-on-failure
# or tests/integration/image_build.sh . build/plain/image-rootfs
# Exit status 77 (skipped) when a precondition is missing.
#
#   image_build.sh SOURCE_DIR CACHE_DIR
set -euo pipefail
src=$(cd "${1:?usage: image_build.sh SOURCE_DIR CACHE_DIR}" && pwd)
cache=${2:?usage: image_build.sh SOURCE_DIR CACHE_DIR}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}

skip() { echo "skipped: $*"; exit 77; }
[ "$(id -u)" -eq 0 ] || skip "needs root (debootstrap, chroot)"
command -v debootstrap >/dev/null || skip "debootstrap is not installed (apt-get install debootstrap)"
command -v /usr/bin/python3 >/dev/null || skip "needs /usr/bin/python3"
mkdir -p "$cache/debs"
cache=$(cd "$cache" && pwd)
work=$cache/work
# Unmounts whatever is mounted below $1 (deepest first), so that nothing is removed
# through a bind mount.
unmount_below() {
  local m
  awk -v p="$1/" 'index($2, p) == 1 {print $2}' /proc/mounts | sort -r |
    while read -r m; do umount -l "$m" || { echo "cannot unmount $m" >&2; exit 1; }; done
}
safe_rm() {
  unmount_below "$1"
  if [ -n "$(awk -v p="$1/" 'index($2, p) == 1' /proc/mounts)" ]; then
    echo "FAIL: mounts left below $1; not removing it" >&2; exit 1
  fi
  rm -rf --one-file-system "$1"
}
trap 'unmount_below "$work"' EXIT

base=$cache/bookworm-minbase.tar
if [ ! -s "$base" ]; then
  echo "=== debootstrap bookworm (minbase), once"
  safe_rm "$cache/base"
  debootstrap --variant=minbase --cache-dir="$cache/debs" bookworm "$cache/base" "$mirror" \
    >"$cache/debootstrap.log" 2>&1 || { tail -n 20 "$cache/debootstrap.log"; exit 1; }
  tar -C "$cache/base" -cf "$base.tmp" . && mv "$base.tmp" "$base"
  safe_rm "$cache/base"
fi

# The Dockerfile as "STAGE<TAB>INSTRUCTION<TAB>ARGUMENTS" lines.
parsed=$(/usr/bin/python3 - "$src/Dockerfile" <<'PY'
import sys
lines, cur = [], ""
for raw in open(sys.argv[1]):
    line = raw.rstrip("\n")
    if not cur and (not line.strip() or line.lstrip().startswith("#")):
        continue
    if line.rstrip().endswith("\\"):
        cur += line.rstrip()[:-1]  # docker drops the backslash-newline
        continue
    lines.append(cur + line)
    cur = ""
stage = -1
for l in lines:
    ins, _, args = l.strip().partition(" ")
    if ins.upper() == "FROM":
        stage += 1
    print("%d\t%s\t%s" % (stage, ins.upper(), args.strip()))
PY
)

new_root() { # name -> $root, a fresh root from the base tarball
  root=$work/$1
  safe_rm "$root"
  mkdir -p "$root"
  tar -C "$root" -xf "$base"
  cp /etc/resolv.conf "$root/etc/resolv.conf"
  mount -t proc proc "$root/proc"
  mount --bind /dev "$root/dev"
  mkdir -p "$root/var/cache/apt/archives"
  mount --bind "$cache/debs" "$root/var/cache/apt/archives"
}

declare -A stage_root stage_name
workdir=/ user=root entrypoint="" cmd=""
while IFS=$'\t' read -r stage ins args; do
  root=${stage_root[$stage]:-}
  case "$ins" in
    FROM)
      name=${args##* AS }
      [ "$name" = "$args" ] && name=stage$stage
      echo "=== stage $stage: FROM $args"
      new_root "$name"
      stage_root[$stage]=$root
      stage_name[$name]=$root
      workdir=/ user=root ;;
    WORKDIR) workdir=$args; mkdir -p "$root$workdir" ;;
    ARG|LABEL|ENV) echo "    $ins $args" ;;
    COPY)
      from=""; set -- $args
      if [[ "$1" == --from=* ]]; then from=${stage_name[${1#--from=}]}; shift; fi
      dest=${!#}
      while [ $# -gt 1 ]; do
        if [ -n "$from" ]; then s=$from$1; else s=$src/$1; fi
        if [[ "$dest" == */ ]]; then
          mkdir -p "$root$dest"
          if [ -d "$s" ]; then cp -a "$s/." "$root$dest"; else cp -a "$s" "$root$dest"; fi
        else
          mkdir -p "$(dirname "$root$dest")"; cp -a "$s" "$root$dest"
        fi
        shift
      done
      echo "    COPY $args" ;;
    RUN)
      echo "    RUN $(printf '%s' "$args" | head -c 200)"
      chroot "$root" /bin/sh -c "cd '$workdir' && $args" >"$work/run.log" 2>&1 ||
        { tail -n 40 "$work/run.log"; echo "FAIL: RUN failed in stage $stage"; exit 1; } ;;
    USER) user=$args ;;
    ENTRYPOINT) entrypoint=$args ;;
    CMD) cmd=$args ;;
    *) echo "FAIL: instruction $ins is not handled by this check"; exit 1 ;;
  esac
done <<<"$parsed"

final=$root
json_argv() { /usr/bin/python3 -c 'import json,sys; print("\n".join(json.loads(sys.argv[1])))' "$1"; }
mapfile -t ep < <(json_argv "$entrypoint")
mapfile -t cm < <(json_argv "$cmd")
echo "=== the image: ENTRYPOINT ${ep[*]} CMD ${cm[*]} USER $user"
if grep -q "not found" <<<"$(chroot "$final" ldd "${ep[0]}")"; then
  chroot "$final" ldd "${ep[0]}" | grep "not found"; echo "FAIL: missing libraries"; exit 1
fi
echo "ok   every library of ${ep[0]} resolves in the runtime root"
as_user() { chroot --userspec="$user" "$final" "$@"; }
out=$(as_user "${ep[@]}" version) && echo "ok   version: $out" || { echo "FAIL: version"; exit 1; }
as_user "${ep[@]}" "${cm[@]}" >/dev/null && echo "ok   CMD ${cm[*]}" || { echo "FAIL: CMD"; exit 1; }
as_user "${ep[@]}" ps >/dev/null && echo "ok   ps as $user" || { echo "FAIL: ps"; exit 1; }
safe_rm "$work"
echo "image check passed"
