#!/usr/bin/env bash
# The action's first step: the lambda-gate of this ref of the action, then a running Docker, and
# arm64 emulation on an x86_64 runner unless the function is x86_64.
#
# - Already in the tool cache under the key of these sources: nothing to do.
# - A release (action/releases.txt lists the key of these sources, action/source-key.sh): the
#   release archive for the runner's architecture is downloaded and installed only if its sha256
#   is the one pinned in releases.txt; any other archive is refused and the step fails.
# - Not a release, or no archive where it should be (a release not yet published, a runner that
#   cannot reach it): built from these sources with `cargo install`, which says so and takes
#   minutes.
#
# Environment: ARCH (arm64, x86_64 or empty), LAMBDA_GATE_RELEASES_URL (where releases are
# downloaded from, `<url>/v<version>/<archive>`; action.yml passes the action's own repository's
# releases), LAMBDA_GATE_ROOT (where the binary lives, default:
# $RUNNER_TOOL_CACHE/lambda-gate/<key>), GITHUB_PATH (the runner's).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

key=$("$here/action/source-key.sh")
root=${LAMBDA_GATE_ROOT:-${RUNNER_TOOL_CACHE:-${RUNNER_TEMP:-/tmp}}/lambda-gate/$key}
case "$(uname -m)" in
  x86_64 | amd64) target=x86_64-unknown-linux-musl ;;
  aarch64 | arm64) target=aarch64-unknown-linux-musl ;;
  *) target=unsupported ;;
esac

build() {
  echo "==> building lambda-gate $key from the action's sources (cargo install, several minutes): $1"
  cargo install --locked --path "$here/harness" --bin lambda-gate --root "$root"
}

# Downloads and checks the pinned archive; returns 1 (nothing installed) when there is none to
# download, exits when there is one that is not the pinned one.
install_release() {
  local version=$1 archive=$2 sha256=$3
  local url=${LAMBDA_GATE_RELEASES_URL%/}/v$version/$archive
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  echo "==> downloading lambda-gate $version ($target) from $url"
  if ! curl --fail --silent --show-error --location --retry 2 --connect-timeout 10 --max-time 300 \
    --output "$tmp/$archive" "$url"; then
    echo "::warning::lambda-gate $version: no archive at $url"
    return 1
  fi
  local actual
  actual=$(sha256sum "$tmp/$archive" | cut -d' ' -f1)
  if [ "$actual" != "$sha256" ]; then
    echo "::error::$archive has sha256 $actual, but action/releases.txt pins $sha256: refusing it (nothing installed)"
    exit 1
  fi
  tar -xzf "$tmp/$archive" -C "$tmp"
  local binary=$tmp/${archive%.tar.gz}/lambda-gate
  [ -x "$binary" ] || { echo "::error::$archive holds no ${archive%.tar.gz}/lambda-gate"; exit 1; }
  mkdir -p "$root/bin"
  install -m 755 "$binary" "$root/bin/lambda-gate"
  echo "lambda-gate $version ($target, sha256 $sha256, pinned) is installed in $root"
}

if [ -x "$root/bin/lambda-gate" ]; then
  echo "lambda-gate $key is installed in $root"
else
  # VERSION SOURCE-KEY TARGET ARCHIVE SHA256
  pin=$(awk -v key="$key" -v target="$target" \
    '$1 !~ /^#/ && $2 == key && $3 == target { print $1, $4, $5; exit }' "$here/action/releases.txt")
  if [ -z "$pin" ]; then
    build "these sources are not a release (key $key is not in action/releases.txt)"
  elif [ -z "${LAMBDA_GATE_RELEASES_URL:-}" ]; then
    build "release ${pin%% *}, but LAMBDA_GATE_RELEASES_URL is not set"
  else
    read -r version archive sha256 <<<"$pin"
    install_release "$version" "$archive" "$sha256" \
      || build "release $version has no archive to download"
  fi
fi
"$root/bin/lambda-gate" --version
echo "$root/bin" >> "${GITHUB_PATH:-/dev/null}"

"$here/.ci/install" docker
if [ "$(uname -m)" = x86_64 ] && [ "${ARCH:-}" != x86_64 ]; then
  "$here/.ci/install" qemu
fi
