#!/usr/bin/env bash
# `make test`'s Jest runs, with the stack up: the integration and browser suites two at a time
# (they wait on Kafka more than they compute; each uses its own topics, groups, Redis prefixes
# and ports, creates its topics with the kit's createTopicsReady, which waits until the broker
# knows them, and the suites with private fixed ports take turns through bench/chaos/port-lock.ts),
# and the pure unit tests in a second Jest process beside them, one worker, so they use the CPU
# the integration tests leave. Both print their normal
# output (the unit run's after the other's), then one closing line over both, "N passed, N failed",
# also written to logs/jest-summary.txt. Arguments go to both Jest runs.
set -uo pipefail
cd "$(dirname "$0")/.."
mkdir -p logs
rm -f logs/jest-summary.txt logs/jest-summary-unit.txt logs/jest-summary-stack.txt
JEST_SUMMARY_FILE=logs/jest-summary-unit.txt npx jest --selectProjects unit --maxWorkers=1 --passWithNoTests "$@" >logs/jest-unit.log 2>&1 &
unit=$!
JEST_SUMMARY_FILE=logs/jest-summary-stack.txt npx jest --selectProjects integration browser --maxWorkers=2 --passWithNoTests "$@"
stack_status=$?
wait "$unit"
unit_status=$?
echo
echo "===== unit tests (run beside the integration tests; also in logs/jest-unit.log) ====="
cat logs/jest-unit.log
node - logs/jest-summary-unit.txt logs/jest-summary-stack.txt <<'JS'
const fs = require('node:fs');
const total = { passed: 0, failed: 0, skipped: 0 };
for (const file of process.argv.slice(2)) {
  let line = '';
  try { line = fs.readFileSync(file, 'utf8'); } catch { line = ''; }
  const m = /(\d+) passed, (\d+) failed(?:, (\d+) skipped)?/.exec(line);
  if (m === null) {
    console.error(`no Jest summary in ${file}: that run did not finish (see its output above)`);
    total.failed += 1;
    continue;
  }
  total.passed += Number(m[1]);
  total.failed += Number(m[2]);
  total.skipped += Number(m[3] ?? 0);
}
const line = `${total.passed} passed, ${total.failed} failed${total.skipped ? `, ${total.skipped} skipped` : ''}`;
fs.writeFileSync('logs/jest-summary.txt', `${line}\n`);
JS
[ "$stack_status" -eq 0 ] && [ "$unit_status" -eq 0 ]
