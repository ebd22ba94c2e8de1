#!/bin/sh
# make demo: a daemon on a scratch root, a busybox image imported from Debian's
# busybox-static, one container that prints something, then everything cleaned up.
set -eu
BERTH=$(readlink -f "${1:-target/release/berth}")
ROOT=$(mktemp -d /tmp/berth-demo.XXXXXX)
SOCK="unix://$ROOT/berth.sock"
CG="berth-demo-$$"
cleanup() {
    "$BERTH" -H "$SOCK" ps -aq 2>/dev/null | xargs -r "$BERTH" -H "$SOCK" rm -f >/dev/null 2>&1 || true
    [ -n "${DPID:-}" ] && kill "$DPID" 2>/dev/null && wait "$DPID" 2>/dev/null || true
    for h in /sys/fs/cgroup/*/"$CG" /sys/fs/cgroup/"$CG"; do [ -d "$h" ] && rmdir "$h" 2>/dev/null || true; done
    rm -rf "$ROOT"
}
trap cleanup EXIT INT TERM

echo "== starting berth daemon on $ROOT"
"$BERTH" daemon -H "$SOCK" --data-root "$ROOT/data" --exec-root "$ROOT/exec" \
    --cgroup-parent "$CG" --log-level warn 2>"$ROOT/daemon.log" &
DPID=$!
i=0; until "$BERTH" -H "$SOCK" version >/dev/null 2>&1; do
    i=$((i+1)); [ $i -gt 200 ] && { cat "$ROOT/daemon.log"; exit 1; }; sleep 0.05; done

echo "== importing a busybox image"
mkdir -p "$ROOT/rootfs/bin" "$ROOT/rootfs/etc" "$ROOT/rootfs/tmp"
cp /usr/bin/busybox "$ROOT/rootfs/bin/"
for a in sh echo cat ls uname hostname id; do ln -s busybox "$ROOT/rootfs/bin/$a"; done
echo 'root:x:0:0:root:/root:/bin/sh' > "$ROOT/rootfs/etc/passwd"
tar -C "$ROOT/rootfs" -c . | "$BERTH" -H "$SOCK" import -c 'CMD ["sh"]' - demo/busybox
"$BERTH" -H "$SOCK" images

echo "== running a container"
"$BERTH" -H "$SOCK" run --rm -h demo demo/busybox sh -c 'echo "hello from berth: I am PID $$ on $(hostname), kernel $(uname -r)"'
echo "== done"
