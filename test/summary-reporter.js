// Closes every run with one plain line, "N passed, N failed", that CI reads. The line is also
// written to logs/jest-summary.txt (or JEST_SUMMARY_FILE: infra/jest-all.sh runs two Jest
// processes and adds their lines up) so `make test` can repeat it after stopping the stack.
const fs = require('node:fs');

class SummaryReporter {
  onRunComplete(_contexts, results) {
    const skipped = results.numPendingTests + results.numTodoTests;
    const failed = results.numFailedTests + results.numRuntimeErrorTestSuites;
    const line = `${results.numPassedTests} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`;
    const file = process.env.JEST_SUMMARY_FILE || 'logs/jest-summary.txt';
    fs.mkdirSync(require('node:path').dirname(file), { recursive: true });
    fs.writeFileSync(file, `${line}\n`);
    process.stdout.write(`\n${line}\n`);
  }
}
module.exports = SummaryReporter;
