#!/usr/bin/env bash
# The test command of telleverk: `bash tests/run.sh [extra cargo test arguments]`.
#
# 1. Installs what the integration tests need, if missing (idempotent, quick when
#    already done): Debian's snmpd and net-snmp tools, chromium and its driver,
#    npm and the PostgreSQL server (apt; the tests run a throwaway cluster of
#    it in the system temp folder, as user postgres, stopped when they end); snmpsim in a venv under the target dir (PyPI), with
#    schemathesis, aiosmtpd and selenium; axe-core (npm) beside it.
# 2. Runs `cargo fmt --check`, `cargo clippy --all-targets -- -D warnings` and
#    `cargo test`, in that order, stopping at the first failure; then (with
#    no extra arguments) the integration suites whose answers must not depend
#    on the storage backend a second time, on PostgreSQL.
#
# Works unattended (CI=true, no stdin) as root, or as a user with sudo.
set -euo pipefail

cd "$(dirname "$0")/.."

# The Python test tools, in one venv. Pinned: the harness relies on snmpsim
# 1.2.2's options and behaviour, on schemathesis 4's command line and checks
# (the API's conformance test) and on aiosmtpd 1.4's handlers (the SMTP sink
# the scheduled reports are mailed to).
# selenium 4 drives Debian's chromium through Debian's chromedriver (the web
# pages' browser test); no browser is downloaded.
readonly PYTHON_REQUIREMENTS="snmpsim==1.2.2 pysmi cryptography schemathesis==4.32.5 aiosmtpd==1.4.6 selenium==4.51.0"
# The accessibility engine the browser test runs in each page.
readonly AXE_CORE="axe-core@4.14.1"

step() { printf '==> %s\n' "$*" >&2; }

as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo -n "$@"
    else
        echo "tests/run.sh: need root (or sudo) to run: $*" >&2
        return 1
    fi
}

have() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ]; }

# Installs Debian packages without prompts and without starting their services
# (snmpd's service would otherwise start on machines with an init system).
apt_install() {
    step "apt-get install $*"
    local policy=/usr/sbin/policy-rc.d added_policy=false
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\nexit 101\n' | as_root tee "$policy" >/dev/null
        as_root chmod 0755 "$policy"
        added_policy=true
    fi
    local status=0
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q || status=$?
    if [ "$status" -eq 0 ]; then
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
            --no-install-recommends "$@" || status=$?
    fi
    if [ "$added_policy" = true ]; then
        as_root rm -f "$policy"
    fi
    return "$status"
}

install_system_packages() {
    local packages=()
    have snmpd || packages+=(snmpd)
    have snmpget || packages+=(snmp)
    [ -x /usr/bin/python3 ] || packages+=(python3)
    have chromium || packages+=(chromium)
    have chromedriver || packages+=(chromium-driver)
    have npm || packages+=(npm)
    # PostgreSQL 15's server: the tests start a throwaway cluster of their
    # own with its initdb and pg_ctl (tests/support/pg_cluster.rs).
    compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || packages+=(postgresql)
    # Its certificates for the TLS tests are made with the openssl command.
    have openssl || packages+=(openssl)
    # Debian's python3 needs python3-venv (which brings ensurepip) to create venvs.
    if [ ! -x /usr/bin/python3 ] || ! /usr/bin/python3 -c 'import ensurepip, venv' 2>/dev/null; then
        packages+=(python3-venv)
    fi
    if [ "${#packages[@]}" -gt 0 ]; then
        apt_install "${packages[@]}"
    fi
}

# The venv lives under the target dir: not committed, kept between runs. It is
# built from Debian's /usr/bin/python3 (not e.g. pyenv's) and is recreated when
# the requirements change or a previous attempt failed halfway.
install_python_tools() {
    local target_dir="${CARGO_TARGET_DIR:-target}"
    case "$target_dir" in /*) ;; *) target_dir="$PWD/$target_dir" ;; esac
    local venv="$target_dir/test-tools/venv"
    local stamp="$venv/.telleverk-requirements"
    SNMPSIM="$venv/bin/snmpsim-command-responder"
    if [ -x "$SNMPSIM" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$PYTHON_REQUIREMENTS" ]; then
        return 0
    fi
    step "creating $venv with $PYTHON_REQUIREMENTS"
    rm -rf "$venv"
    mkdir -p "$(dirname "$venv")"
    if ! /usr/bin/python3 -m venv "$venv" ||
        ! PIP_NO_INPUT=1 "$venv/bin/pip" install -q --disable-pip-version-check \
            $PYTHON_REQUIREMENTS; then
        rm -rf "$venv"
        echo "tests/run.sh: installing the Python test tools failed" >&2
        return 1
    fi
    printf '%s' "$PYTHON_REQUIREMENTS" >"$stamp"
}

# axe-core from the npm registry, under the target dir like the venv.
install_axe() {
    local target_dir="${CARGO_TARGET_DIR:-target}"
    case "$target_dir" in /*) ;; *) target_dir="$PWD/$target_dir" ;; esac
    local dir="$target_dir/test-tools/axe"
    AXE_JS="$dir/node_modules/axe-core/axe.min.js"
    if [ -f "$AXE_JS" ] && [ "$(cat "$dir/.telleverk-requirements" 2>/dev/null)" = "$AXE_CORE" ]; then
        return 0
    fi
    step "npm install $AXE_CORE into $dir"
    rm -rf "$dir"
    mkdir -p "$dir"
    if ! (cd "$dir" && npm install --silent --no-audit --no-fund --prefix "$dir" "$AXE_CORE" >/dev/null); then
        rm -rf "$dir"
        echo "tests/run.sh: installing axe-core failed" >&2
        return 1
    fi
    printf '%s' "$AXE_CORE" >"$dir/.telleverk-requirements"
}

# CI images with a minimal rustup profile lack rustfmt and clippy.
install_rust_components() {
    if cargo fmt --version >/dev/null 2>&1 && cargo clippy --version >/dev/null 2>&1; then
        return 0
    fi
    step "rustup component add rustfmt clippy"
    rustup component add rustfmt clippy
}

install_system_packages
install_python_tools
install_axe
install_rust_components

export TELLEVERK_SNMPSIM="$SNMPSIM"
export TELLEVERK_SCHEMATHESIS="$(dirname "$SNMPSIM")/schemathesis"
export TELLEVERK_PYTHON="$(dirname "$SNMPSIM")/python"
export TELLEVERK_AXE="$AXE_JS"
export TELLEVERK_CHROMEDRIVER="$(command -v chromedriver)"
export TELLEVERK_CHROMIUM="$(command -v chromium)"
export MIBS=

step "cargo fmt --check"
cargo fmt --check
step "cargo clippy --all-targets -- -D warnings"
cargo clippy --all-targets -- -D warnings
step "cargo test"
cargo test "$@"
# The suites whose answers must not depend on the backend, again on
# PostgreSQL (a throwaway cluster; tests/it/backend.rs). The rest of the
# integration tests look into the SQLite file itself, or test what no store
# touches; tests/it/backends.rs compares the two backends' answers directly.
if [ "$#" -eq 0 ]; then
    step "cargo test --test it on PostgreSQL: billing, API, schemathesis, pages, reports, uptime, alerts"
    TELLEVERK_IT_BACKEND=postgresql cargo test --test it -- \
        billing:: api:: schemathesis:: web:: reports:: uptime:: notify:: sites::
fi
