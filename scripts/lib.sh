# Shared by run.sh and test.sh: install what is missing on Debian 12.
# Sourced, not run.

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# Installs the Debian packages that are not installed yet. The package
# scripts must not start system services (Dovecot's, say): the tests run
# their own private instances.
ensure_packages() {
    local missing=()
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    echo "Installing: ${missing[*]}"
    local policy=/usr/sbin/policy-rc.d made_policy=
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\nexit 101\n' | as_root tee "$policy" >/dev/null
        as_root chmod +x "$policy"
        made_policy=1
    fi
    as_root apt-get update -q
    as_root env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=900 install -y -q --no-install-recommends "${missing[@]}"
    [ -n "$made_policy" ] && as_root rm -f "$policy"
    return 0
}

# Rust from rustup when cargo is missing (Debian's own is too old).
ensure_rust() {
    [ -f "$HOME/.cargo/env" ] && . "$HOME/.cargo/env"
    command -v cargo >/dev/null 2>&1 && return 0
    ensure_packages curl ca-certificates build-essential
    curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal -c clippy,rustfmt
    . "$HOME/.cargo/env"
}

# What building the desktop app (Tauri v2, WebKitGTK) needs.
APP_BUILD_PACKAGES="libwebkit2gtk-4.1-dev libgtk-3-dev libayatana-appindicator3-dev librsvg2-dev libssl-dev libxdo-dev libdbus-1-dev file"
# What its tests need: a display, WebKitWebDriver, Chromium, a keyring.
APP_TEST_PACKAGES="xvfb xauth dbus-x11 webkit2gtk-driver fonts-dejavu-core fonts-droid-fallback at-spi2-core chromium gnome-keyring libsecret-tools"

# Node.js for the app's tests; Debian's when there is none (a Node.js from
# elsewhere is used as it is).
ensure_node() {
    command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 && return 0
    ensure_packages nodejs npm
}

# tauri-driver (WebDriver for Tauri apps), from crates.io, when missing.
ensure_tauri_driver() {
    command -v tauri-driver >/dev/null 2>&1 && return 0
    cargo install tauri-driver --version '^2' --locked
}

# The npm packages of package-lock.json, when node_modules is missing or
# older than the lock. No install scripts run: nothing is downloaded but
# the packages themselves.
ensure_node_modules() {
    if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
        npm ci --ignore-scripts --no-audit --no-fund
    fi
}

# Runs a command inside a private D-Bus session with an unlocked
# gnome-keyring (the Secret Service), keeping the keyring's files in a
# temporary folder.
in_keyring_session() {
    local dir
    dir=$(mktemp -d)
    local rc=0
    dbus-run-session -- sh -c '
        dir=$1; shift
        echo "mailferry-test" | XDG_DATA_HOME="$dir" gnome-keyring-daemon --unlock --components=secrets >/dev/null
        exec "$@"' sh "$dir" "$@" || rc=$?
    rm -rf "$dir"
    return $rc
}
