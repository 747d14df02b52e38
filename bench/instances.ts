/**
 * Service instances forked as Node processes of their own (bench/service-instance.ts): their
 * latest status each, a check that none exited, and a graceful stop (SIGKILL after 30 s).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { tracked } from './interrupt';
import type { InstanceSpec, InstanceStatus } from './service-instance';

export class ForkedInstances {
  /** The latest status of each instance, in the order forked. */
  readonly statuses: InstanceStatus[] = [];
  private readonly children: ChildProcess[] = [];
  private readonly exited: string[] = [];

  constructor(private readonly label: string) {}

  fork(spec: InstanceSpec): void {
    const i = this.children.length;
    this.statuses.push({ type: 'status', ready: false, owned: 0, processed: 0, batches: 0, transactions: 0, phases: {} });
    const child = tracked(
      fork(join(__dirname, 'service-instance.js'), [], {
        env: { ...process.env, BENCH_INSTANCE: JSON.stringify(spec) },
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      }),
    );
    child.on('message', (message: InstanceStatus) => {
      if (message?.type === 'status') this.statuses[i] = message;
    });
    child.on('exit', (code, signal) => this.exited.push(`${spec.service} instance ${i + 1} exited (${signal ?? code})`));
    this.children.push(child);
  }

  /** Throws when an instance has exited (for the conditions waited on while they run). */
  alive(): void {
    if (this.exited.length > 0) throw new Error(`bench: ${this.label}: ${this.exited.join(', ')}`);
  }

  send(message: { type: 'go' }): void {
    for (const child of this.children) child.send(message);
  }

  /** Stops every instance gracefully (SIGKILL after 30 s) and waits for their exits. */
  async stop(): Promise<void> {
    await Promise.all(
      this.children.map(
        (child) =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null || child.signalCode !== null) return resolve();
            const timer = setTimeout(() => {
              child.kill('SIGKILL');
              resolve();
            }, 30_000);
            child.once('exit', () => {
              clearTimeout(timer);
              resolve();
            });
            if (child.connected) child.send({ type: 'stop' });
            else child.kill('SIGTERM');
          }),
      ),
    );
  }
}
