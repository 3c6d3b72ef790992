# Sourced by the .ci scripts.
#
# cargo-husky (a harness dev-dependency) installs the git hooks when a clone has a hooks
# directory; some checkouts (CI's among them) have none, and its build script would stop there
# with "No such file or directory". Such a checkout gets no hooks; every other keeps them.
hooks=$(git rev-parse --git-path hooks 2>/dev/null || true)
if [ -z "$hooks" ] || [ ! -d "$hooks" ]; then
  export CARGO_HUSKY_DONT_INSTALL_HOOKS=1
fi
