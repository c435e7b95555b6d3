#!/usr/bin/env bash
# Installs whatever the tests need (Debian 12) and runs every test: format,
# lints, unit tests and the integration tests against private Dovecot
# instances that the tests start and stop themselves.
set -euo pipefail
cd "$(dirname "$0")"
. scripts/lib.sh

ensure_packages build-essential pkg-config ca-certificates openssl dovecot-imapd dovecot-pop3d time
ensure_rust

cargo fmt --all -- --check
cargo clippy --all-targets -- -D warnings
cargo test --all-targets

# Fuzz the parsers (user list, modified UTF-7, POP3 replies, our IMAP
# extensions, UID sets): each target runs random cases for a minute, side by
# side. A failure prints its seed (MAILFERRY_FUZZ_SEED replays it).
MAILFERRY_FUZZ_SECONDS=60 cargo test --lib fuzz_ -- --test-threads 8
