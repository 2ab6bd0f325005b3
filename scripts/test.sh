#!/usr/bin/env bash
# Runs every test of the workspace, installing what the tests need first:
#   - Debian packages (tshark/capinfos, tcpdump, clang) via apt-get, when missing;
#   - Python tools in a venv at .venv (scripts/requirements-test.txt).
# The public captures are read from ../shared/datasets/public (override with
# WORKBENCH_PUBLIC_DATA). With CI=true, a test whose tool or data is missing fails
# instead of skipping.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(tshark tcpdump clang chromium prometheus-alertmanager nmap iproute2 hping3 nats-server prometheus
    # the attack lab (scripts/lab): attack tools, the services they attack, client tools
    masscan hydra ncrack slowhttptest apache2-utils openssh-server openssh-client dnsmasq-base
    iperf3 curl ethtool iputils-ping netcat-openbsd)
missing=()
for pkg in "${APT_PACKAGES[@]}"; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "== installing Debian packages: ${missing[*]}"
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    # Answer wireshark-common's "non-root capture?" question without a prompt.
    echo "wireshark-common wireshark-common/install-setuid boolean false" | $SUDO debconf-set-selections || true
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ -s scripts/requirements-test.txt ] && grep -qv '^\s*#' scripts/requirements-test.txt; then
    if [ ! -x .venv/bin/python ]; then
        echo "== creating Python venv .venv"
        python3 -m venv .venv
    fi
    if ! cmp -s scripts/requirements-test.txt .venv/.requirements-installed 2>/dev/null; then
        echo "== installing Python test tools"
        .venv/bin/pip install -q --disable-pip-version-check -r scripts/requirements-test.txt
        cp scripts/requirements-test.txt .venv/.requirements-installed
    fi
    export WORKBENCH_PYTHON="$PWD/.venv/bin/python"
fi

echo "== cargo test (dev profile: optimised dependencies, one build for everything)"
cargo test --workspace --no-fail-fast "$@"
