#!/usr/bin/env bash
# Installs whatever is missing (Debian 12), builds MailFerry and runs it.
# Arguments go to the `mailferry` command, e.g. ./run.sh run my-job.toml
set -euo pipefail
cd "$(dirname "$0")"
. scripts/lib.sh

ensure_packages build-essential pkg-config ca-certificates
ensure_rust

cargo build --release --quiet --bin mailferry
if [ $# -eq 0 ]; then
    set -- --help
fi
exec ./target/release/mailferry "$@"
