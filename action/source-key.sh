#!/usr/bin/env bash
# Prints the key of the gate's sources in this checkout: 16 hex digits of a sha256 over the files
# that decide what `lambda-gate` is (the workspace manifest and lock, the cargo configuration, the
# harness package). install.sh looks the key up in action/releases.txt, and the release workflow
# records it there next to the archives' sha256: a ref whose gate sources are exactly a
# release's installs that release's binary, any other builds from source.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
find Cargo.toml Cargo.lock .cargo/config.toml harness/Cargo.toml harness/build.rs harness/src \
  -type f -print0 \
  | LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum | cut -c1-16
