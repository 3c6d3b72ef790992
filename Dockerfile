# The image that ships to Lambda: one static binary and the model, nothing else.
#
# FROM scratch: a static musl binary needs no libc, shell or package manager, so the image is a
# few megabytes and has no OS packages to patch. `harness build --arch arm64` cross-compiles
# bootstrap and builds this file for the right platform. A plain `docker build --platform
# linux/arm64 .` works too once the binary is at target/lambda/bootstrap/bootstrap (where
# `cargo lambda build --release --arm64` puts it).
#
# COPY comes first on purpose: with the classic builder, a metadata step (ARG, ENV) directly on
# scratch is committed without a platform, and the next step for a foreign platform fails.
FROM scratch

COPY target/lambda/bootstrap/bootstrap /var/runtime/bootstrap
COPY models/artifacts/model.json models/artifacts/feature_set.json models/artifacts/metadata.json /var/task/model/

# Where bootstrap finds the model; the gate also reads it to locate model.json in the image.
ENV MODEL_DIR=/var/task/model

# Lambda runs functions as a non-root user whatever the image says; declare one so `docker run`
# behaves the same. Numeric, because scratch has no /etc/passwd.
USER 10001:10001

ENTRYPOINT ["/var/runtime/bootstrap"]
