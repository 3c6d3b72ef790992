#!/usr/bin/env bash
# The action's first step: lambda-gate built from the action's own sources (so the ref the
# workflow pins is the gate that runs), kept in the runner's tool cache under a key of those
# sources, so a runner that has it does not build it again; then a running Docker, and arm64
# emulation on an x86_64 runner unless the function is x86_64.
#
# Environment: ARCH (arm64, x86_64 or empty), LAMBDA_GATE_ROOT (where the binary lives,
# default: $RUNNER_TOOL_CACHE/lambda-gate/<key>), GITHUB_PATH (the runner's).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

key=$(cd "$here" && find Cargo.toml Cargo.lock harness/Cargo.toml harness/src -type f -print0 \
  | sort -z | xargs -0 sha256sum | sha256sum | cut -c1-16)
root=${LAMBDA_GATE_ROOT:-${RUNNER_TOOL_CACHE:-${RUNNER_TEMP:-/tmp}}/lambda-gate/$key}
if [ -x "$root/bin/lambda-gate" ]; then
  echo "lambda-gate $key is installed in $root"
else
  echo "==> building lambda-gate $key (cargo install from the action's sources)"
  cargo install --locked --path "$here/harness" --bin lambda-gate --root "$root"
fi
echo "$root/bin" >> "${GITHUB_PATH:-/dev/null}"

"$here/.ci/install" docker
if [ "$(uname -m)" = x86_64 ] && [ "${ARCH:-}" != x86_64 ]; then
  "$here/.ci/install" qemu
fi
