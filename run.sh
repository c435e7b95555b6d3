#!/usr/bin/env bash
# Installs whatever is missing (Debian 12), builds MailFerry and runs it.
#   ./run.sh                       starts the desktop app
#   ./run.sh run my-job.toml       runs the command-line tool with these arguments
set -euo pipefail
cd "$(dirname "$0")"
. scripts/lib.sh

ensure_packages build-essential pkg-config ca-certificates
ensure_rust

if [ $# -gt 0 ]; then
    cargo build --release --quiet --bin mailferry
    exec ./target/release/mailferry "$@"
fi

# The desktop app: WebKitGTK to build it, and a keyring for the passwords
# (GNOME Keyring's Secret Service; without one the app offers to keep them
# in memory for the session).
ensure_packages $APP_BUILD_PACKAGES gnome-keyring
echo "Building the MailFerry app (the first build takes a few minutes)..."
cargo build --release --quiet -p mailferry-app
if [ -z "${DISPLAY:-}" ] && [ -z "${WAYLAND_DISPLAY:-}" ]; then
    echo "MailFerry's window needs a desktop session, and none was found (DISPLAY and WAYLAND_DISPLAY are not set)." >&2
    echo "Run ./run.sh from a terminal on your desktop, or use the command line: ./run.sh --help" >&2
    exit 1
fi
exec ./target/release/mailferry-app
