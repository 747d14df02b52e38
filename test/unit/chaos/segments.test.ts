/**
 * The chaos run's segments (bench/chaos/harness.ts, segmentsWithoutClockWaits): config/'s own,
 * with only each absence condition's `for` lengthened, so no segment waits on the segmenter's
 * clock within a run while the reference, which cannot know that clock, stays exact.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { segmentsWithoutClockWaits } from '../../../bench/chaos/harness';
import { parseSegmentDefinitions } from '../../../services/core/segments';

const shipped = readFileSync(join(__dirname, '../../../config/segments.yaml'), 'utf8');

describe('segmentsWithoutClockWaits', () => {
  it('lengthens the absence waits of config/segments.yaml to 6 hours and keeps every other segment as it is', () => {
    const before = parseSegmentDefinitions('config/segments.yaml', shipped);
    const after = parseSegmentDefinitions('chaos/segments.yaml', segmentsWithoutClockWaits(shipped));
    expect(after.map((d) => d.name)).toEqual(before.map((d) => d.name));
    const reEngagement = after.find((d) => d.name === 're_engagement');
    expect(JSON.stringify(reEngagement)).toContain('"forMs":21600000');
    expect(JSON.stringify(before.find((d) => d.name === 're_engagement'))).toContain('"forMs":900000');
    for (const [i, definition] of after.entries()) {
      if (definition.name !== 're_engagement') expect(definition).toEqual(before[i]);
    }
  });

  it('refuses a file without an absence condition rather than changing nothing silently', () => {
    expect(() => segmentsWithoutClockWaits('segments:\n  - name: a\n    conditions:\n      never: { event: purchase }\n')).toThrow(/no absence condition/);
  });
});
