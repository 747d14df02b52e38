/**
 * What else the machine did during a latency row, so a row over its target can be told from a
 * slow Kairos: how much of the row's time some runnable task waited for a CPU (Linux pressure
 * stall information, /proc/pressure/cpu), and the broker's garbage-collection pauses within the
 * row (the GC log infra/stack.sh starts the broker with). The parsers are pure; the readers
 * answer null where the machine or the broker does not tell (no PSI, a broker not started by
 * infra/stack.sh), never a made-up zero.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot } from '../services/kit/files';

/** A file's text, or null when it cannot be read (absent here: no PSI, no broker GC log). */
function readIfPresent(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return null;
  }
}

/** Microseconds some task waited for a CPU since boot: the `some ... total=` of /proc/pressure/cpu; null when absent. */
export function parsePressureTotal(text: string): number | null {
  const match = /^some\b.*\btotal=(\d+)\s*$/m.exec(text);
  return match === null ? null : Number(match[1]);
}

/** A reading of the CPU pressure counter with its time. */
export interface PressureSample {
  totalUs: number;
  atMs: number;
}

/** The CPU pressure counter now; null where the kernel has no PSI (before Linux 4.20, or switched off). */
export function readCpuPressure(path = '/proc/pressure/cpu'): PressureSample | null {
  const text = readIfPresent(path);
  const totalUs = text === null ? null : parsePressureTotal(text);
  return totalUs === null ? null : { totalUs, atMs: Date.now() };
}

/** Percent of the wall time between two readings in which some task waited for a CPU (0-100, one decimal). */
export function pressureShare(from: PressureSample | null, to: PressureSample | null): number | null {
  if (from === null || to === null || to.atMs <= from.atMs || to.totalUs < from.totalUs) return null;
  const share = (to.totalUs - from.totalUs) / 1000 / (to.atMs - from.atMs);
  return Math.round(Math.min(1, share) * 1000) / 10;
}

/** The broker's pauses within a time window. */
export interface GcPauses {
  pauses: number;
  max_ms: number;
  total_ms: number;
}

/** A pause line of `-Xlog:gc` with the timemillis decorator: `[<time>][<epoch ms>ms][gc   ] GC(7) Pause Young ... 12.345ms`. */
const PAUSE_LINE = /^\[[^\]]*\]\[(\d+)ms\]\[gc\s*\] GC\(\d+\) Pause\b.*?(\d+(?:\.\d+)?)ms\s*$/;
const STAMP = /^\[[^\]]*\]\[(\d+)ms\]/;

/**
 * The pauses a JVM GC log shows ending in [fromMs, toMs] (epoch ms). Null when the log has no
 * line at or after `fromMs` at all: then it was not being written during the window (another
 * broker, or none), and "no pauses" would be a guess.
 */
export function gcPausesWithin(log: string, fromMs: number, toMs: number): GcPauses | null {
  let current = false;
  const found: GcPauses = { pauses: 0, max_ms: 0, total_ms: 0 };
  for (const line of log.split('\n')) {
    const stamp = STAMP.exec(line);
    if (stamp === null) continue;
    const at = Number(stamp[1]);
    if (at >= fromMs) current = true;
    if (at < fromMs || at > toMs) continue;
    const pause = PAUSE_LINE.exec(line);
    if (pause === null) continue;
    const ms = Number(pause[2]);
    found.pauses += 1;
    found.total_ms += ms;
    found.max_ms = Math.max(found.max_ms, ms);
  }
  if (!current) return null;
  return { pauses: found.pauses, max_ms: Math.round(found.max_ms * 10) / 10, total_ms: Math.round(found.total_ms * 10) / 10 };
}

/** Where infra/stack.sh has the broker write its GC log. */
export function brokerGcLogPath(): string {
  return join(process.env.KAIROS_STACK_LOGS ?? join(projectRoot(), 'logs', 'stack'), 'kafka-gc.log');
}

/** The broker's pauses in the window, from its GC log; null without a current log. */
export function readBrokerGcPauses(fromMs: number, toMs: number, path = brokerGcLogPath()): GcPauses | null {
  const log = readIfPresent(path);
  return log === null ? null : gcPausesWithin(log, fromMs, toMs);
}

/** The machine during a row, as the bench reports it. */
export interface MachineDuringRow {
  /** Percent of the row's time in which some task waited for a CPU; null without PSI. */
  cpu_pressure_pct: number | null;
  /** The broker's GC pauses in the row; null without its GC log. */
  broker_gc: GcPauses | null;
}

/** "CPU pressure 48.2%, broker GC 9 pauses (longest 21.5 ms)", with "n/a" where the machine does not tell. */
export function describeMachine(machine: MachineDuringRow): string {
  const cpu = machine.cpu_pressure_pct === null ? 'CPU pressure n/a' : `CPU pressure ${machine.cpu_pressure_pct}%`;
  const gc = machine.broker_gc === null ? 'broker GC n/a' : `broker GC ${machine.broker_gc.pauses} pause${machine.broker_gc.pauses === 1 ? '' : 's'} (longest ${machine.broker_gc.max_ms} ms)`;
  return `${cpu}, ${gc}`;
}
