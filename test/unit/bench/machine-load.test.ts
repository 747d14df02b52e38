import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeMachine, gcPausesWithin, parsePressureTotal, pressureShare, readBrokerGcPauses, readCpuPressure } from '../../../bench/machine-load';

// Lines as the broker writes them with -Xlog:gc:...:time,timemillis,tags (infra/stack.sh).
const LOG = [
  '[2026-12-04T17:12:40.000+0000][1796404360000ms][gc] Using G1',
  '[2026-12-04T17:12:45.981+0000][1796404365981ms][gc] GC(10) Pause Young (Concurrent Start) (G1 Humongous Allocation) 52M->28M(256M) 13.402ms',
  '[2026-12-04T17:12:45.981+0000][1796404365981ms][gc] GC(11) Concurrent Undo Cycle',
  '[2026-12-04T17:12:45.982+0000][1796404365982ms][gc] GC(11) Concurrent Undo Cycle 0.323ms',
  '[2026-12-04T17:12:50.100+0000][1796404370100ms][gc] GC(12) Pause Young (Normal) (G1 Evacuation Pause) 130M->30M(256M) 21.5ms',
  '[2026-12-04T17:12:51.000+0000][1796404371000ms][gc] GC(13) Pause Remark 60M->60M(256M) 2.001ms',
  '[2026-12-04T17:13:10.000+0000][1796404390000ms][gc] GC(14) Pause Young (Normal) (G1 Evacuation Pause) 140M->31M(256M) 99.9ms',
].join('\n');

describe('gcPausesWithin', () => {
  it('counts the pauses that end inside the window, not the concurrent phases', () => {
    expect(gcPausesWithin(LOG, 1796404365000, 1796404372000)).toEqual({ pauses: 3, max_ms: 21.5, total_ms: 36.9 });
  });

  it('takes both ends of the window', () => {
    expect(gcPausesWithin(LOG, 1796404365981, 1796404370100)).toEqual({ pauses: 2, max_ms: 21.5, total_ms: 34.9 });
  });

  it('says zero pauses when the log goes on past a quiet window', () => {
    expect(gcPausesWithin(LOG, 1796404372000, 1796404380000)).toEqual({ pauses: 0, max_ms: 0, total_ms: 0 });
  });

  it('says nothing (null) when the log ends before the window: it was not being written then', () => {
    expect(gcPausesWithin(LOG, 1796404400000, 1796404410000)).toBeNull();
    expect(gcPausesWithin('', 0, Number.MAX_SAFE_INTEGER)).toBeNull();
  });

  it('skips lines it does not know (other decorators, garbage)', () => {
    const other = ['[0.512s][info][gc] GC(0) Pause Young (Normal) 10M->2M(256M) 50.0ms', 'not a log line', LOG].join('\n');
    expect(gcPausesWithin(other, 0, 1796404372000)).toEqual({ pauses: 3, max_ms: 21.5, total_ms: 36.9 });
  });
});

describe('CPU pressure', () => {
  it('reads the "some" total of /proc/pressure/cpu', () => {
    expect(parsePressureTotal('some avg10=0.32 avg60=4.20 avg300=14.36 total=144338079\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=0\n')).toBe(144338079);
    expect(parsePressureTotal('full avg10=0.00 avg60=0.00 avg300=0.00 total=5\n')).toBeNull();
    expect(parsePressureTotal('')).toBeNull();
  });

  it('gives the share of the wall time between two readings, in percent', () => {
    expect(pressureShare({ totalUs: 1_000_000, atMs: 10_000 }, { totalUs: 8_500_000, atMs: 25_000 })).toBe(50);
    expect(pressureShare({ totalUs: 0, atMs: 0 }, { totalUs: 1234, atMs: 10 })).toBe(12.3);
  });

  it('is null without two readings in order, and never over 100%', () => {
    expect(pressureShare(null, { totalUs: 1, atMs: 1 })).toBeNull();
    expect(pressureShare({ totalUs: 5, atMs: 10 }, { totalUs: 9, atMs: 10 })).toBeNull();
    expect(pressureShare({ totalUs: 5, atMs: 10 }, { totalUs: 4, atMs: 20 })).toBeNull();
    expect(pressureShare({ totalUs: 0, atMs: 0 }, { totalUs: 5_000_000, atMs: 1000 })).toBe(100);
  });

  it('reads files, and answers null for one that is not there', () => {
    const dir = mkdtempSync(join(tmpdir(), 'kairos-machine-'));
    try {
      writeFileSync(join(dir, 'cpu'), 'some avg10=1.00 avg60=1.00 avg300=1.00 total=42\n');
      writeFileSync(join(dir, 'gc.log'), LOG);
      expect(readCpuPressure(join(dir, 'cpu'))?.totalUs).toBe(42);
      expect(readCpuPressure(join(dir, 'missing'))).toBeNull();
      expect(readBrokerGcPauses(1796404365000, 1796404372000, join(dir, 'gc.log'))?.pauses).toBe(3);
      expect(readBrokerGcPauses(0, 1, join(dir, 'missing.log'))).toBeNull();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('describeMachine', () => {
  it('names each figure, n/a where the machine does not tell', () => {
    expect(describeMachine({ cpu_pressure_pct: 48.2, broker_gc: { pauses: 9, max_ms: 21, total_ms: 80 } })).toBe('CPU pressure 48.2%, broker GC 9 pauses (longest 21 ms)');
    expect(describeMachine({ cpu_pressure_pct: null, broker_gc: { pauses: 1, max_ms: 3.5, total_ms: 3.5 } })).toBe('CPU pressure n/a, broker GC 1 pause (longest 3.5 ms)');
    expect(describeMachine({ cpu_pressure_pct: 0, broker_gc: null })).toBe('CPU pressure 0%, broker GC n/a');
  });
});
