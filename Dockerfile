# The image that ships to Lambda: one static binary and the model, nothing else.
#
# FROM scratch: a static musl binary needs no libc, shell or package manager, so the image is a
# few megabytes and has no OS packages to patch. Build it with `harness build --arch arm64`, which
# cross-compiles target/<TARGET>/release/bootstrap first; `docker build` from the repository root
# works too once that binary exists (see .dockerignore).
FROM scratch

# Rust target the bootstrap binary was compiled for (aarch64-unknown-linux-musl for arm64).
ARG TARGET=aarch64-unknown-linux-musl

COPY target/${TARGET}/release/bootstrap /var/runtime/bootstrap
COPY models/artifacts/model.json models/artifacts/feature_set.json models/artifacts/metadata.json /var/task/model/

# Where bootstrap finds the model; the gate also reads it to locate model.json in the image.
ENV MODEL_DIR=/var/task/model

# Lambda runs functions as a non-root user whatever the image says; declare one so `docker run`
# behaves the same. Numeric, because scratch has no /etc/passwd.
USER 10001:10001

ENTRYPOINT ["/var/runtime/bootstrap"]
