// Starts the compiled renderer with the crash points of its hooks wired to a real SIGKILL of
// this process: CRASH_AT=afterReserve|afterSesSend, for the trigger of CRASH_CUSTOMER only.
// Used by test/integration/renderer/sigkill.test.ts; configuration comes from the environment.
const { join } = require('node:path');
const { loadConfig } = require(join(__dirname, '../../dist/services/kit/config.js'));
const { rendererShape, startRenderer } = require(join(__dirname, '../../dist/services/renderer/main.js'));

const point = process.env.CRASH_AT;
const customer = process.env.CRASH_CUSTOMER;
if (point !== 'afterReserve' && point !== 'afterSesSend') throw new Error(`CRASH_AT=${point}: expected afterReserve or afterSesSend`);
const kill = (trigger) => {
  if (trigger.customer_id !== customer) return;
  process.stdout.write(`crashing at ${point}\n`, () => process.kill(process.pid, 'SIGKILL'));
  return new Promise(() => undefined); // never resumes: the process dies here
};
startRenderer(loadConfig(rendererShape), { hooks: { [point]: kill } }).catch((err) => {
  process.stderr.write(`${err.stack}\n`);
  process.exit(1);
});
