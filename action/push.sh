#!/usr/bin/env bash
# The action's push step: exactly the verified image (checked by id) to PUSH_TO, proven from
# the registry by `lambda-gate push`; the pushed REPOSITORY@sha256:... becomes the `digest`
# output and goes to the step summary. Refuses when the verify step did not pass.
#
# Environment: SPEC, PUSH_TO, VERDICT, IMAGE, IMAGE_ID, ARCH (the verify step's outputs),
# INSECURE_REGISTRY=1 for a plain-HTTP registry on this machine (tests).
set -euo pipefail

if [ "${VERDICT:-}" != passed ]; then
  echo "::error::the image did not pass the gate (verdict: ${VERDICT:-none}); nothing is pushed"
  exit 1
fi
command=(lambda-gate --config "${SPEC:-lambda-gate.toml}" push --image "$IMAGE" --verified-id "$IMAGE_ID" --to "$PUSH_TO" --arch "$ARCH")
[ -z "${INSECURE_REGISTRY:-}" ] || command+=(--insecure-registry)
pushed=$("${command[@]}" | tail -n 1)
echo "digest=$pushed" >> "${GITHUB_OUTPUT:-/dev/null}"
echo "Pushed the verified image \`$pushed\` (image id \`$IMAGE_ID\`)." >> "${GITHUB_STEP_SUMMARY:-/dev/null}"
