#!/usr/bin/env bash
# Starts or stops every built Kairos service in the background against the running stack.
# A service is any services/<name>/main.ts (compiled to dist/); logs go to logs/<name>.log,
# pid files to .stack/services/.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PIDS=$ROOT/.stack/services
mkdir -p "$PIDS" "$ROOT/logs"
set -a
# shellcheck source=local.env
. "$ROOT/infra/local.env"
set +a

services() {
  for main in "$ROOT"/dist/services/*/main.js; do
    [[ -f $main ]] && basename "$(dirname "$main")"
  done
}

case "${1:-}" in
  start)
    # Node.js 24 (infra/node.sh): the machine's when recent enough, else the pinned build.
    NODE_BIN=$("$ROOT/infra/node.sh")
    PATH=$NODE_BIN:$PATH
    names=$(services)
    if [[ -z $names ]]; then echo "no services built yet (services/<name>/main.ts)"; exit 0; fi
    for name in $names; do
      pidfile=$PIDS/$name.pid
      if [[ -f $pidfile ]] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
        echo "$name already running (pid $(cat "$pidfile"))"; continue
      fi
      setsid node "$ROOT/dist/services/$name/main.js" >>"$ROOT/logs/$name.log" 2>&1 </dev/null &
      echo $! >"$pidfile"
      echo "started $name (pid $!, log logs/$name.log)"
    done ;;
  stop)
    for pidfile in "$PIDS"/*.pid; do
      [[ -f $pidfile ]] || continue
      name=$(basename "$pidfile" .pid); pid=$(cat "$pidfile")
      if kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid"
        for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
        kill -KILL "$pid" 2>/dev/null || true
        echo "stopped $name"
      fi
      rm -f "$pidfile"
    done ;;
  *) echo "usage: infra/services.sh start|stop" >&2; exit 2 ;;
esac
