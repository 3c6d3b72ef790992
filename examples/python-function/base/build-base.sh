#!/usr/bin/env bash
# Builds the Python function's base image without pulling anything: a Debian bookworm minbase
# root filesystem with python3 + venv (debootstrap, from the Debian mirror apt is configured
# with), the function's locked runtime dependencies in the venv /opt/venv, and Poetry in its own
# venv /opt/poetry (the function's Dockerfile runs `poetry install`), as a `FROM scratch` image for
# one architecture.
#
#   examples/python-function/base/build-base.sh [--print-tag] [ARCH]
#
# ARCH is arm64 or x86_64 (aarch64 and amd64 are accepted too). Without it: $LAMBDA_GATE_ARCH,
# else $LAMBDA_GATE_PLATFORM (linux/arm64, linux/amd64), else the host's architecture; so the
# script runs as is as the gate's pre-build command.
#
# Tags (the last line on stdout is the first one):
#   lambda-python-base:3.11-<arch>-<hash16>  by content: sha256 of this script,
#                                            lock-requirements.py, the function's poetry.lock,
#                                            poetry/requirements.txt and the architecture. When it
#                                            exists nothing is built, so a machine builds each
#                                            architecture once.
#   lambda-python-base:3.11-<arch>           the same image, by architecture
#   lambda-python-base:3.11                  the same image: the architecture asked for last.
#                                            The function's Dockerfile builds FROM it by default
#                                            (ARG BASE_IMAGE), so run this script for the
#                                            architecture right before `docker build`.
# --print-tag prints the content tag and exits without building or tagging.
#
# Everything happens in a temporary directory ($TMPDIR/lambda-python-base-<arch>.*) that is
# removed on exit, interrupt included (and by the next build when the script was killed
# outright); the image is tagged only after it was built and its Python environment was imported
# once. Interrupting the `docker build` step may leave untagged intermediate images, as any
# interrupted build does (`docker image prune`).
# debootstrap and chroot need root: as another user the script uses sudo for them. Other arm64
# steps run under qemu (`.ci/install qemu`); `.ci/install pybase` installs debootstrap.
# DEBIAN_MIRROR overrides the mirror read from apt.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
function_dir=$(dirname "$here")
suite=bookworm
python=3.11
repo=lambda-python-base
# What debootstrap installs on top of minbase.
debian_packages=python3,python3-venv,ca-certificates

t0=$(date +%s)
log() { printf '[build-base %4ss] %s\n' "$(( $(date +%s) - t0 ))" "$*" >&2; }
die() { printf 'build-base: %s\n' "$*" >&2; exit 1; }

print_tag=""
arch_arg=""
for a in "$@"; do
  case "$a" in
    --print-tag) print_tag=1 ;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    -*) die "unknown option $a (see --help)" ;;
    *) [ -z "$arch_arg" ] || die "one architecture at a time"; arch_arg=$a ;;
  esac
done
arch=${arch_arg:-${LAMBDA_GATE_ARCH:-}}
if [ -z "$arch" ]; then
  case "${LAMBDA_GATE_PLATFORM:-}" in
    "") arch=$(uname -m) ;;
    linux/arm64|linux/arm64/v8) arch=arm64 ;;
    linux/amd64) arch=x86_64 ;;
    *) die "LAMBDA_GATE_PLATFORM=$LAMBDA_GATE_PLATFORM: expected linux/arm64 or linux/amd64" ;;
  esac
fi
case "$arch" in
  arm64|aarch64) arch=arm64 deb_arch=arm64 platform=linux/arm64 machine=aarch64 docker_arch=arm64 ;;
  x86_64|amd64) arch=x86_64 deb_arch=amd64 platform=linux/amd64 machine=x86_64 docker_arch=amd64 ;;
  *) die "architecture $arch: expected arm64 or x86_64" ;;
esac

function_lock="$function_dir/poetry.lock"
poetry_requirements="$here/poetry/requirements.txt"
hash=$( {
  for f in "$here/build-base.sh" "$here/lock-requirements.py" "$function_lock" "$poetry_requirements"; do
    printf '%s %s\n' "$(basename "$(dirname "$f")")/$(basename "$f")" "$(sha256sum < "$f" | cut -d' ' -f1)"
  done
  printf 'arch %s\n' "$arch"
} | sha256sum | cut -c1-16)
tag="$repo:$python-$arch-$hash"
if [ -n "$print_tag" ]; then echo "$tag"; exit 0; fi

command -v docker >/dev/null || die "docker is not installed"
docker info >/dev/null 2>&1 || die "Docker is not running (.ci/install docker)"

point_aliases() {
  docker tag "$tag" "$repo:$python-$arch"
  docker tag "$tag" "$repo:$python"
  log "$repo:$python-$arch and $repo:$python -> $tag"
  echo "$tag"
}

# One build per architecture at a time on this machine; a second caller waits, then finds the tag.
lock_file="${TMPDIR:-/tmp}/$repo-$arch.lock"
exec 9>>"$lock_file"
if ! flock -n 9; then
  log "another build of the $arch base is running; waiting for it ($lock_file)"
  flock 9
fi

if docker image inspect "$tag" >/dev/null 2>&1; then
  log "$tag exists; nothing to build"
  point_aliases
  exit 0
fi

as_root=""
[ "$(id -u)" = 0 ] || as_root="sudo"
debootstrap=$(command -v debootstrap || echo /usr/sbin/debootstrap)
[ -x "$debootstrap" ] || die "debootstrap is not installed (.ci/install pybase)"
if [ "$machine" != "$(uname -m)" ]; then
  binfmt=/proc/sys/fs/binfmt_misc/qemu-$machine
  grep -qs '^enabled' "$binfmt" || die "$arch needs emulation: $binfmt is not enabled (.ci/install qemu)"
fi

mirror=${DEBIAN_MIRROR:-}
if [ -z "$mirror" ]; then
  # apt's own view of its sources (one-line and deb822 formats alike).
  mirror=$(apt-get indextargets --format '$(TARGET_OF) $(RELEASE) $(REPO_URI)' 2>/dev/null \
             | awk -v s="$suite" '$1 == "deb" && $2 == s { print $3; exit }')
fi
[ -n "$mirror" ] || die "no Debian $suite mirror in apt's sources (run apt-get update, or set DEBIAN_MIRROR)"

# Removes a work directory: first the mounts a second stage may have left in it, deepest first,
# then the tree, never crossing into a mount.
remove_tree() {
  local m
  for m in $(awk -v w="$1/" 'index($2, w) == 1 { print $2 }' /proc/mounts | sort -r); do
    $as_root umount -l "$m" 2>/dev/null || true
  done
  $as_root rm -rf --one-file-system "$1"
}

# What a build killed without a chance to clean up (SIGKILL, a reboot) left. No other build of
# this architecture runs while we hold the lock.
for stale in "${TMPDIR:-/tmp}/$repo-$arch".*; do
  [ -d "$stale" ] || continue
  log "removing $stale, left by an interrupted build"
  remove_tree "$stale"
done

work=$(mktemp -d "${TMPDIR:-/tmp}/$repo-$arch.XXXXXX")
rootfs="$work/rootfs"
iid=""
tagged=""
child=""
smoke="$repo-smoke-$$"
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if [ -n "$child" ]; then
    kill -TERM -- "-$child" 2>/dev/null || true
    wait "$child" 2>/dev/null || true
  fi
  docker rm -f "$smoke" >/dev/null 2>&1 || true
  if [ -n "$iid" ] && [ -z "$tagged" ]; then docker rmi "$iid" >/dev/null 2>&1 || true; fi
  remove_tree "$work"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Runs a long step in its own process group and waits for it, so that an interrupt is handled at
# once (bash defers traps while a foreground command runs) and cleanup can stop the whole step.
long() {
  setsid "$@" &
  child=$!
  local rc=0
  wait "$child" || rc=$?
  child=""
  return "$rc"
}

# A command in the new root filesystem, with a clean environment.
chroot_cmd=($as_root env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
            HOME=/root LANG=C.UTF-8 chroot "$rootfs")
in_root() { "${chroot_cmd[@]}" "$@"; }

log "building $tag ($platform) in $work"

# 1. The wheels, on the host: every file pinned by its sha256 in the lock, for CPython 3.11 on this
#    architecture. pip matches --platform tags exactly, so list every manylinux level bookworm's
#    glibc (2.36) runs.
mkdir -p "$work/wheels"
python3 "$here/lock-requirements.py" "$function_lock" > "$work/wheels/requirements-function.txt"
cp "$poetry_requirements" "$work/wheels/requirements-poetry.txt"
platforms=()
for v in $(seq 36 -1 5); do platforms+=(--platform "manylinux_2_${v}_$machine"); done
platforms+=(--platform "manylinux2014_$machine" --platform "manylinux2010_$machine" --platform "manylinux1_$machine")
log "downloading wheels"
long python3 -m pip download -q --disable-pip-version-check --only-binary=:all: --no-deps \
  --python-version "$python" --implementation cp --abi "cp${python/./}" "${platforms[@]}" \
  -d "$work/wheels" -r "$work/wheels/requirements-function.txt" -r "$work/wheels/requirements-poetry.txt"

# 2. The root filesystem. A foreign architecture takes debootstrap's two stages, the second one
#    under qemu in the chroot.
log "debootstrap $suite ($deb_arch, minbase + $debian_packages)"
foreign=()
[ "$machine" = "$(uname -m)" ] || foreign=(--foreign)
long $as_root "$debootstrap" --variant=minbase --arch="$deb_arch" --include="$debian_packages" \
  "${foreign[@]}" "$suite" "$rootfs" "$mirror" > "$work/debootstrap.log" 2>&1 \
  || { tail -20 "$work/debootstrap.log" >&2; die "debootstrap failed"; }
if [ ${#foreign[@]} -gt 0 ]; then
  log "debootstrap second stage (emulated)"
  long "${chroot_cmd[@]}" /debootstrap/debootstrap --second-stage > "$work/debootstrap2.log" 2>&1 \
    || { tail -20 "$work/debootstrap2.log" >&2; die "debootstrap --second-stage failed"; }
fi
in_root python3 -c 'import sys; assert sys.version_info[:2] == (3, 11), sys.version'

# 3. The environments, offline from the wheels, hashes checked again.
$as_root cp -r "$work/wheels" "$rootfs/tmp/wheels"
pip_offline=(install -q --disable-pip-version-check --no-index --find-links /tmp/wheels --no-deps --no-cache-dir --require-hashes)
log "installing the function's dependencies into /opt/venv"
in_root python3 -m venv /opt/venv
long "${chroot_cmd[@]}" /opt/venv/bin/pip "${pip_offline[@]}" -r /tmp/wheels/requirements-function.txt
in_root /opt/venv/bin/pip check >&2
log "installing Poetry into /opt/poetry"
# Poetry only runs while an image is built: no bytecode, written now or when it runs (a third of
# its size).
in_root python3 -m venv /opt/poetry
long "${chroot_cmd[@]}" /opt/poetry/bin/pip "${pip_offline[@]}" --no-compile -r /tmp/wheels/requirements-poetry.txt
in_root /opt/poetry/bin/pip check >&2
printf '#!/bin/sh\nPYTHONDONTWRITEBYTECODE=1 exec /opt/poetry/bin/poetry "$@"\n' > "$work/poetry"
$as_root install -m 755 "$work/poetry" "$rootfs/usr/local/bin/poetry"
$as_root rm -rf "$rootfs/tmp/wheels" "$rootfs/root/.cache" "$rootfs/var/cache/apt/archives/"*.deb \
  "$rootfs/var/lib/apt/lists/"* "$rootfs/usr/share/doc/"* "$rootfs/usr/share/man/"* "$rootfs/usr/share/info/"*

# 4. The image: the tree as one layer. ADD comes first: with the classic builder a metadata step
#    directly on scratch is committed without a platform and breaks a foreign-platform build.
mkdir -p "$work/context"
long $as_root tar --numeric-owner -C "$rootfs" -cf - . > "$work/context/rootfs.tar"
cat > "$work/context/Dockerfile" <<EOF
FROM scratch
ADD rootfs.tar /
ENV PATH=/opt/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \\
    VIRTUAL_ENV=/opt/venv \\
    LANG=C.UTF-8 \\
    POETRY_VIRTUALENVS_CREATE=false \\
    POETRY_NO_INTERACTION=1
LABEL org.opencontainers.image.title="$repo" \\
      org.opencontainers.image.description="Debian $suite minbase, python3 $python, the function's locked dependencies in /opt/venv, Poetry in /opt/poetry" \\
      lambda-python-base.content="$hash"
CMD ["python3"]
EOF
log "docker build --platform $platform"
long docker build -q --platform "$platform" --iidfile "$work/iid" "$work/context" >/dev/null
iid=$(cat "$work/iid")
actual=$(docker image inspect -f '{{.Os}}/{{.Architecture}}' "$iid")
[ "$actual" = "linux/$docker_arch" ] || die "built image is $actual, expected linux/$docker_arch"
log "smoke test: import the function's dependencies, run Poetry"
long docker run --rm --name "$smoke" --network none --platform "$platform" "$iid" sh -c \
  'python -c "import awslambdaric, catboost, numpy, pandas; print(\"catboost\", catboost.__version__, \"pandas\", pandas.__version__)" && poetry --version' >&2

docker tag "$iid" "$tag"
tagged=1
size=$(docker image inspect -f '{{.Size}}' "$tag")
log "built $tag, $(( size / 1048576 )) MiB"
point_aliases
