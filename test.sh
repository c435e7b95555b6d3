#!/usr/bin/env bash
# Installs whatever the tests need (Debian 12) and runs every test: format,
# lints, unit tests, the integration tests against private Dovecot
# instances that the tests start and stop themselves, the desktop app's page
# tests (headless Chromium) and its end-to-end test (the real app under
# Xvfb through tauri-driver, with a Secret Service in a private D-Bus
# session).
set -euo pipefail
cd "$(dirname "$0")"
. scripts/lib.sh

ensure_packages build-essential pkg-config ca-certificates openssl dovecot-imapd dovecot-pop3d time \
    $APP_BUILD_PACKAGES $APP_TEST_PACKAGES
ensure_node
ensure_rust
ensure_tauri_driver

# A clean build gains nothing from incremental state; it only costs disk.
export CARGO_INCREMENTAL=0

section() { printf '\n=== %s (%ss)\n' "$1" "$SECONDS"; }

section "npm packages for the app's tests"
ensure_node_modules

section "format and lints"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets -- -D warnings

section "build: CLI, app, demo servers"
cargo build --workspace --bins --examples

section "Rust tests (the app's keyring tests against a real Secret Service)"
in_keyring_session env MAILFERRY_TEST_SECRET_SERVICE=1 cargo test --workspace --all-targets

section "fuzzing the parsers"
# Fuzz the parsers (user list, modified UTF-7, POP3 replies, our IMAP
# extensions, UID sets): each target runs random cases for a minute, side by
# side. A failure prints its seed (MAILFERRY_FUZZ_SEED replays it). With
# --workspace, as above, so that nothing is compiled again.
MAILFERRY_FUZZ_SECONDS=60 cargo test --workspace --lib fuzz_ -- --test-threads 8

section "the page checked against its contract with the app"
# ui/contract.d.ts is generated from the Rust types (the Rust tests fail if
# it is stale); the TypeScript compiler checks the page's JavaScript
# against it, emitting nothing.
npx --no-install tsc -p tsconfig.json
npx --no-install tsc -p tsconfig.app.json

section "page tests in headless Chromium"
node --test tests-ui/pages.test.mjs

section "end-to-end: the app under Xvfb through tauri-driver"
# (A time limit, so that a stuck window cannot hold CI until its own limit.)
in_keyring_session timeout 1200 xvfb-run -a -s "-screen 0 1280x900x24" node --test tests-ui/e2e.test.mjs

section "all tests passed"
