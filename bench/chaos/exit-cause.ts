/**
 * Why a service process ended, from the last lines it printed: the chaos supervisor names it
 * beside an unexpected exit code, so a failed run (in CI, whose log directory is gone) says
 * what the service said before it exited.
 */

/** How many of a process's last output lines are kept for exitCause. */
export const KEPT_LINES = 60;

/** Keeps the last `KEPT_LINES` complete lines of a stream of chunks. */
export class LastLines {
  private readonly lines: string[] = [];
  private partial = '';

  push(chunk: Buffer | string): void {
    const parts = (this.partial + chunk.toString()).split('\n');
    this.partial = (parts.pop() ?? '').slice(-4096);
    for (const line of parts) {
      this.lines.push(line.length > 4096 ? line.slice(0, 4096) : line);
      if (this.lines.length > KEPT_LINES) this.lines.shift();
    }
  }

  all(): string[] {
    return this.partial === '' ? [...this.lines] : [...this.lines, this.partial];
  }
}

/**
 * The cause a process gave for ending: its last fatal log line ("msg: error type: message"),
 * else the error line of an uncaught exception's or unhandled rejection's report (Node prints
 * it after the code excerpt), else null.
 */
export function exitCause(lines: readonly string[]): string | null {
  for (let i = lines.length - 1; i >= 0; i -= 1) {
    const line = lines[i] as string;
    if (!line.startsWith('{')) continue;
    let record: { level?: unknown; msg?: unknown; err?: { type?: unknown; message?: unknown } };
    try {
      record = JSON.parse(line) as typeof record;
    } catch {
      continue;
    }
    if (record.level !== 'fatal' && record.level !== 60) continue;
    const err = record.err;
    const detail = err === undefined ? '' : `: ${[err.type, err.message].filter((part) => typeof part === 'string').join(': ')}`;
    return `${String(record.msg)}${detail}`;
  }
  // "TypeError: ...", "Error [ERR_...]: ...", or Node's "[UnhandledPromiseRejection: ...]" for a rejection with a non-error.
  return lines.find((line) => /^\[?[A-Za-z]*(Error|Exception|Rejection)\b.*:/.test(line)) ?? null;
}
