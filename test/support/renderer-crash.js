// Starts the compiled renderer with the crash points of its hooks wired to a real SIGKILL of
// this process: CRASH_AT=afterReserve|afterSesSend, for the trigger of CRASH_CUSTOMER only, or
// CRASH_AT=afterRelayCommit: the first time the outbox relay has produced records (exactly_once:
// the transaction with its checkpoint committed), before it trims the outbox.
// Used by test/integration/renderer/sigkill.test.ts; configuration comes from the environment.
const { join } = require('node:path');
const { loadConfig } = require(join(__dirname, '../../dist/services/kit/config.js'));
const { rendererShape, startRenderer } = require(join(__dirname, '../../dist/services/renderer/main.js'));

const point = process.env.CRASH_AT;
const customer = process.env.CRASH_CUSTOMER;
if (!['afterReserve', 'afterSesSend', 'afterRelayCommit'].includes(point)) throw new Error(`CRASH_AT=${point}: expected afterReserve, afterSesSend or afterRelayCommit`);
const die = () => {
  process.stdout.write(`crashing at ${point}\n`, () => process.kill(process.pid, 'SIGKILL'));
  return new Promise(() => undefined); // never resumes: the process dies here
};
const kill = (trigger) => (trigger.customer_id === customer ? die() : undefined);
const overrides = point === 'afterRelayCommit' ? { relayHooks: { afterProduce: (_partition, count) => (count > 0 ? die() : undefined) } } : { hooks: { [point]: kill } };
startRenderer(loadConfig(rendererShape), overrides).catch((err) => {
  process.stderr.write(`${err.stack}\n`);
  process.exit(1);
});
