#!/bin/sh
# Installs what building and testing berth needs on Debian 12, and nothing that is
# already there: a C compiler (bundled SQLite), busybox-static (test and demo images),
# Rust (rustup) when no cargo exists; with "static", musl-tools and the musl target.
set -eu
need=""
have() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
# The tests run a real registry (docker-registry), push test images with skopeo, make
# htpasswd files (apache2-utils) and sign registry tokens (openssl).
for p in gcc libc6-dev busybox-static curl ca-certificates tar docker-registry skopeo apache2-utils openssl; do
    have "$p" || need="$need $p"
done
# The docker CLI drives berth in the compatibility tests; Debian ships it in docker.io.
if ! command -v docker >/dev/null 2>&1; then
    have docker.io || need="$need docker.io"
fi
if [ "${1:-}" = static ]; then
    have musl-tools || need="$need musl-tools"
fi
if [ "${1:-}" = bench ]; then
    for p in docker.io debootstrap iperf3; do
        have "$p" || need="$need $p"
    done
fi
if [ -n "$need" ]; then
    echo "installing:$need"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq $need >/dev/null
fi
if ! command -v cargo >/dev/null 2>&1 && [ ! -x "$HOME/.cargo/bin/cargo" ]; then
    echo "installing Rust (rustup)"
    curl -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal
fi
if [ "${1:-}" = static ]; then
    PATH="$HOME/.cargo/bin:$PATH" rustup target list --installed | grep -q x86_64-unknown-linux-musl \
        || PATH="$HOME/.cargo/bin:$PATH" rustup target add x86_64-unknown-linux-musl
fi
exit 0
