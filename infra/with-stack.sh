#!/usr/bin/env bash
# Runs a command with the local stack up. What this script had to start is stopped again
# afterwards (and only that); a stack that was already running is left running.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
# Node.js 24 for the provisioning, the command and the SES emulator (infra/node.sh).
NODE_BIN=$("$ROOT/infra/node.sh") || exit 1
export PATH=$NODE_BIN:$PATH
started_here=true
compgen -G "$ROOT/.stack/*.pid" >/dev/null && started_here=false

"$ROOT/infra/stack.sh" up || { $started_here && "$ROOT/infra/stack.sh" down; exit 1; }
KAFKAJS_NO_PARTITIONER_WARNING=1 node "$ROOT/dist/services/tools/provision.js" >>"$ROOT/logs/stack/provision.log" 2>&1 \
  || { echo "[stack] provisioning topics and schemas failed; see logs/stack/provision.log" >&2; $started_here && "$ROOT/infra/stack.sh" down; exit 1; }

"$@"
status=$?
$started_here && "$ROOT/infra/stack.sh" down
exit $status
