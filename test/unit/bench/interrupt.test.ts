import { EventEmitter } from 'node:events';
import type { ChildProcess } from 'node:child_process';
import { onInterrupt, once, stopChildren, type InterruptibleProcess } from '../../../bench/interrupt';
import { turns, turnsUntil } from '../../support/turns';

/** A child process stand-in: records its signals; exits on SIGTERM unless `stubborn`. */
function child(stubborn = false): ChildProcess & { signals: string[] } {
  const fake = new EventEmitter() as EventEmitter & { exitCode: number | null; signalCode: string | null; signals: string[]; kill: (signal: string) => boolean };
  fake.exitCode = null;
  fake.signalCode = null;
  fake.signals = [];
  fake.kill = (signal: string) => {
    fake.signals.push(signal);
    if (signal === 'SIGKILL' || !stubborn) {
      fake.signalCode = signal;
      queueMicrotask(() => fake.emit('exit', null, signal));
    }
    return true;
  };
  return fake as unknown as ChildProcess & { signals: string[] };
}

/** A process stand-in: signals are emitted by the test, exit() records its code. */
function fakeProcess(): InterruptibleProcess & EventEmitter & { codes: number[] } {
  const proc = new EventEmitter() as EventEmitter & InterruptibleProcess & { codes: number[] };
  proc.codes = [];
  proc.exit = ((code: number) => {
    proc.codes.push(code);
  }) as InterruptibleProcess['exit'];
  return proc;
}

describe('onInterrupt', () => {
  it('on SIGINT stops the children, then cleans up, then exits with 130', async () => {
    const proc = fakeProcess();
    const events: string[] = [];
    const children = [child(), child()];
    children[0].once('exit', () => events.push('child exited'));
    onInterrupt({ process: proc, children, progress: () => undefined, cleanUp: async () => void events.push('clean-up') });
    proc.emit('SIGINT', 'SIGINT');
    await turnsUntil(() => proc.codes.length > 0);
    expect(events).toEqual(['child exited', 'clean-up']);
    expect(children.map((c) => c.signals)).toEqual([['SIGTERM'], ['SIGTERM']]);
    expect(proc.codes).toEqual([130]);
  });

  it('exits with 143 on SIGTERM, and at once on a second signal while cleaning up', async () => {
    const proc = fakeProcess();
    let finish: (() => void) | undefined;
    let calls = 0;
    const cleanUp = () => new Promise<void>((resolve) => {
      calls += 1;
      finish = resolve;
    });
    onInterrupt({ process: proc, children: [], progress: () => undefined, cleanUp });
    proc.emit('SIGTERM', 'SIGTERM');
    await turnsUntil(() => finish !== undefined);
    proc.emit('SIGINT', 'SIGINT');
    expect(proc.codes).toEqual([130]);
    await turns();
    finish?.();
    await turnsUntil(() => proc.codes.length > 1);
    await turns();
    expect(proc.codes).toEqual([130, 143]);
    expect(calls).toBe(1); // the second signal only exits
  });

  it('exits even when the clean-up fails or hangs, saying so', async () => {
    const proc = fakeProcess();
    const said: string[] = [];
    onInterrupt({ process: proc, children: [], progress: (text) => said.push(text), cleanUp: () => new Promise<void>(() => undefined), cleanUpTimeoutMs: 10 });
    proc.emit('SIGINT', 'SIGINT');
    await turnsUntil(() => proc.codes.length > 0, 5000);
    expect(said.at(-1)).toBe('clean-up incomplete: it took longer than 10 ms');
    expect(proc.codes).toEqual([130]);
  });

  it('leaves the signals alone once removed', () => {
    const proc = fakeProcess();
    const remove = onInterrupt({ process: proc, children: [], progress: () => undefined, cleanUp: async () => undefined });
    expect(proc.listenerCount('SIGINT')).toBe(1);
    remove();
    expect(proc.listenerCount('SIGINT') + proc.listenerCount('SIGTERM')).toBe(0);
  });
});

describe('stopChildren', () => {
  it('kills a child that ignores SIGTERM after the grace time, and skips those already gone', async () => {
    const stubborn = child(true);
    const gone = child();
    gone.kill('SIGTERM');
    gone.signals.length = 0;
    await stopChildren(10, [stubborn, gone]);
    expect(stubborn.signals).toEqual(['SIGTERM', 'SIGKILL']);
    expect(gone.signals).toEqual([]);
  });
});

describe('once', () => {
  it('runs the work once, every call sharing its promise', async () => {
    let runs = 0;
    const cleanUp = once(async () => void (runs += 1));
    await Promise.all([cleanUp(), cleanUp()]);
    await cleanUp();
    expect(runs).toBe(1);
  });
});
