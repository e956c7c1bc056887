#!/usr/bin/env bash
# `make demo`: a working tunnel on 127.0.0.1. Installs what is missing, builds, starts
# frps and frpc from conf/demo-frps.toml and conf/demo-frpc.toml, serves a small page
# with python3's http.server on 127.0.0.1:18080, exposes it through a tcp proxy on
# 127.0.0.1:16080 and waits until the tunnel answers. Ctrl-C stops everything.
#
#   scripts/demo.sh           interactive: prints the curl line, runs until Ctrl-C
#   scripts/demo.sh --check   non-interactive self-check: one curl through the tunnel,
#                             compares the body, stops everything, exits 0 or 1
# With CFRP_BIN_DIR set (as the e2e suite does) it uses frps/frpc from there and skips
# installing and building.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)
LOCAL_PORT=18080   # must match localPort in conf/demo-frpc.toml
REMOTE_PORT=16080  # remotePort in conf/demo-frpc.toml
BIND_PORT=17000    # bindPort in conf/demo-frps.toml
READY_TIMEOUT=20

check=0
case "${1:-}" in
    --check) check=1 ;;
    "") ;;
    *) echo "usage: $0 [--check]" >&2; exit 2 ;;
esac

say() { echo "demo: $*"; }
fail() { echo "demo: $*" >&2; exit 1; }

if [ -n "${CFRP_BIN_DIR:-}" ]; then
    BIN=$CFRP_BIN_DIR
else
    scripts/install-deps.sh
    make --no-print-directory build >/dev/null
    BIN=$ROOT/build/bin
fi
for b in frps frpc; do
    [ -x "$BIN/$b" ] || fail "$BIN/$b not found (build with: make build)"
done

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for p in $BIND_PORT $REMOTE_PORT $LOCAL_PORT; do
    port_busy "$p" && fail "port $p on 127.0.0.1 is already in use (another demo running?)"
done

TMP=$(mktemp -d "${TMPDIR:-/tmp}/cfrp-demo.XXXXXX")
pids=()
cleanup() {
    local status=$?
    trap - EXIT INT TERM
    for pid in "${pids[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${pids[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    if [ "$status" -ne 0 ] && [ -d "$TMP" ]; then
        say "logs kept in $TMP"
    else
        rm -rf "$TMP"
    fi
    exit "$status"
}
trap cleanup EXIT
trap 'echo; say "stopping"; exit 0' INT TERM

mkdir "$TMP/www"
token="cfrp-demo-$$-$RANDOM"
page="<!doctype html><title>cfrp demo</title><h1>Hello through cfrp</h1><p>$token</p>"
printf '%s\n' "$page" > "$TMP/www/index.html"

/usr/bin/python3 -m http.server "$LOCAL_PORT" --bind 127.0.0.1 --directory "$TMP/www" \
    >"$TMP/http.log" 2>&1 &
pids+=($!)
"$BIN/frps" -c conf/demo-frps.toml >"$TMP/frps.log" 2>&1 &
frps_pid=$!
pids+=($frps_pid)
# frpc gives up if its first login fails, so let frps come up first.
for _ in $(seq 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$BIND_PORT") 2>/dev/null && break
    sleep 0.1
done
"$BIN/frpc" -c conf/demo-frpc.toml >"$TMP/frpc.log" 2>&1 &
frpc_pid=$!
pids+=($frpc_pid)

url="http://127.0.0.1:$REMOTE_PORT/"
fetch() { curl -s -m 2 "$url" 2>/dev/null; }
deadline=$((SECONDS + READY_TIMEOUT))
until [ "$(fetch || true)" = "$page" ]; do
    for pair in "frps:$frps_pid" "frpc:$frpc_pid"; do
        if ! kill -0 "${pair#*:}" 2>/dev/null; then
            echo "demo: ${pair%%:*} exited; its log:" >&2
            tail -n 20 "$TMP/${pair%%:*}.log" >&2
            exit 1
        fi
    done
    if [ "$SECONDS" -ge "$deadline" ]; then
        echo "demo: the tunnel did not answer on $url within ${READY_TIMEOUT} s" >&2
        for n in frps frpc; do
            echo "--- $n log:" >&2
            tail -n 20 "$TMP/$n.log" >&2
        done
        exit 1
    fi
    sleep 0.2
done

if [ "$check" -eq 1 ]; then
    body=$(fetch) || fail "curl through the tunnel failed"
    [ "$body" = "$page" ] || fail "the page through the tunnel differs from the one served"
    say "ok: $url served the page through frps and frpc"
    exit 0
fi

say "frps listens on 127.0.0.1:$BIND_PORT, frpc exposes 127.0.0.1:$LOCAL_PORT as port $REMOTE_PORT"
say "the tunnel is up; try:"
echo
echo "    curl $url"
echo
say "logs: $TMP/frps.log, $TMP/frpc.log. Press Ctrl-C to stop."
while kill -0 "$frps_pid" 2>/dev/null && kill -0 "$frpc_pid" 2>/dev/null; do
    sleep 1 &  # waited for with the builtin, which a signal interrupts at once
    wait $! || true
done
fail "frps or frpc stopped on its own"
