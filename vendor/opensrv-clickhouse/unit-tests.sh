#!/bin/sh
# Runs this crate's tests (src/limits/tests.rs and upstream's tests/it).
# Cargo resolves dev-dependencies only for workspace members, and this crate
# is not one: the tests run from a copy that is its own workspace, pinned
# to kafkahouse's Cargo.lock (so --offline finds every crate), without the
# optional tokio-native-tls that lock does not have. Arguments go to
# `cargo test` (e.g. --lib for the unit tests only).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
copy=$(mktemp -d)
trap 'rm -rf "$copy"' EXIT
cp -r "$here/." "$copy/"
cp "$here/../../Cargo.lock" "$copy/Cargo.lock"
python3 - "$copy/Cargo.toml" <<'PY'
import sys
path = sys.argv[1]
text = open(path).read()
text = text.replace('[dependencies.tokio-native-tls]\nversion = "0.3.0"\noptional = true\n', '')
text = text.replace('tls = ["tokio-native-tls"]', 'tls = []')
open(path, 'w').write(text + '\n[workspace]\n')
PY
cd "$copy"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/kafkahouse/target}"
cargo test --offline "$@"
