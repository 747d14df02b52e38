// Closes every run with one plain line, "N passed, N failed", that CI reads. The line is also
// written to logs/jest-summary.txt so `make test` can repeat it after stopping the stack.
const fs = require('node:fs');

class SummaryReporter {
  onRunComplete(_contexts, results) {
    const skipped = results.numPendingTests + results.numTodoTests;
    const failed = results.numFailedTests + results.numRuntimeErrorTestSuites;
    const line = `${results.numPassedTests} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`;
    fs.mkdirSync('logs', { recursive: true });
    fs.writeFileSync('logs/jest-summary.txt', `${line}\n`);
    process.stdout.write(`\n${line}\n`);
  }
}
module.exports = SummaryReporter;
