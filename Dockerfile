# The image that ships to Lambda: one static binary and the model, nothing else.
#
# FROM scratch: a static musl binary needs no libc, shell or package manager, so the image is a
# few megabytes and has no OS packages to patch. `lambda-gate build --arch arm64` runs the
# spec's `before` (lambda-gate.toml), which cross-compiles bootstrap to
# target/lambda/bootstrap/bootstrap and compiles models/artifacts/model.json into
# target/lambda/model/model.compiled (the binary form bootstrap loads at init without parsing
# JSON), then builds this file for the right platform. A plain `docker build --platform
# linux/arm64 .` works too once those two files are there.
#
# COPY comes first on purpose: with the classic builder, a metadata step (ARG, ENV) directly on
# scratch is committed without a platform, and the next step for a foreign platform fails.
FROM scratch

COPY target/lambda/bootstrap/bootstrap /var/runtime/bootstrap
COPY target/lambda/model/model.compiled models/artifacts/feature_set.json models/artifacts/metadata.json /var/task/model/

# Where bootstrap finds the model; the gate's provenance check reads it there too.
ENV MODEL_DIR=/var/task/model

# Lambda runs functions as a non-root user whatever the image says; declare one so `docker run`
# behaves the same. Numeric, because scratch has no /etc/passwd.
USER 10001:10001

ENTRYPOINT ["/var/runtime/bootstrap"]
