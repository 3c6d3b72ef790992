#!/usr/bin/env bash
# The action's verify step: `lambda-gate verify` with the action's inputs. lambda-gate appends
# the Markdown report to $GITHUB_STEP_SUMMARY and verdict, image, image-id and arch to
# $GITHUB_OUTPUT itself; the step fails when the gate does (1: a check failed, 2: it could not
# run).
#
# Environment: SPEC, ARCH, IMAGE, REPORT_DIR, JOBS (the inputs; empty ones are left out),
# PATH (with lambda-gate on it, from install.sh).
set -euo pipefail

command=(lambda-gate --config "${SPEC:-lambda-gate.toml}" verify --report-dir "${REPORT_DIR:-lambda-gate-reports}")
[ -z "${ARCH:-}" ] || command+=(--arch "$ARCH")
[ -z "${IMAGE:-}" ] || command+=(--image "$IMAGE")
[ -z "${JOBS:-}" ] || command+=(--jobs "$JOBS")
echo "==> ${command[*]}"
exec "${command[@]}"
