/**
 * Progress for the demo: a cli-progress bar on a terminal, plain lines (every 10% and at the
 * end) when stdout is a file or a pipe, so logs and CI output stay readable.
 */
import { SingleBar, Presets } from 'cli-progress';

export interface Progress {
  /** Sets the count done so far (and the total, when it grew). */
  update(done: number, total?: number): void;
  /** Ends the bar (cursor back, newline); safe to call twice. */
  stop(): void;
}

export function progress(label: string, total: number, stream: NodeJS.WriteStream = process.stdout): Progress {
  if (stream.isTTY) {
    const bar = new SingleBar(
      { format: `  ${label.padEnd(22)} [{bar}] {percentage}% | {value}/{total} | {duration_formatted}`, hideCursor: true, stream, clearOnComplete: false },
      Presets.shades_classic,
    );
    bar.start(Math.max(total, 1), 0);
    let stopped = false;
    return {
      update(done, newTotal) {
        if (newTotal !== undefined) bar.setTotal(Math.max(newTotal, 1));
        bar.update(done);
      },
      stop() {
        if (stopped) return;
        stopped = true;
        bar.stop();
      },
    };
  }
  let shown = -1;
  let max = total;
  let last = 0;
  const line = (done: number) => stream.write(`  ${label}: ${done}/${max} (${max === 0 ? 100 : Math.floor((100 * done) / max)}%)\n`);
  return {
    update(done, newTotal) {
      if (newTotal !== undefined) max = newTotal;
      last = done;
      const tenth = max === 0 ? 10 : Math.floor((10 * done) / max);
      if (tenth > shown) {
        shown = tenth;
        line(done);
      }
    },
    stop() {
      if (shown < 10) line(last);
      shown = 10;
    },
  };
}
