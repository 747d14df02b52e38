/**
 * OffsetCommits: one OffsetCommit request in flight; the commits asked for meanwhile go out
 * together in the next, one entry per partition (the one asked for last), and every caller
 * learns the outcome of the request that carried its commit.
 */
import { OffsetCommits, type OffsetToCommit } from '../../../services/kit/offset-commits';

/** A send whose requests the test lands or fails one by one. */
function controlledSend() {
  const requests: Array<{ offsets: OffsetToCommit[]; land: () => void; fail: (error: Error) => void }> = [];
  const send = (offsets: OffsetToCommit[]) => new Promise<void>((land, fail) => void requests.push({ offsets, land, fail }));
  return { requests, send };
}

const at = (partition: number, offset: string, topic = 't'): OffsetToCommit => ({ topic, partition, offset, metadata: `m${offset}` });

/** Lets promise callbacks run. */
const settle = () => new Promise((resolve) => setImmediate(resolve));

describe('OffsetCommits', () => {
  it('sends a commit at once when no request is in flight, and resolves it when its request lands', async () => {
    const { requests, send } = controlledSend();
    const commits = new OffsetCommits(send);
    let done = false;
    const first = commits.commit(at(0, '5')).then(() => (done = true));
    expect(requests.map((r) => r.offsets)).toEqual([[at(0, '5')]]);
    await settle();
    expect(done).toBe(false);
    requests[0].land();
    await first;
    expect(done).toBe(true);
  });

  it('carries the commits asked for while a request is in flight in one next request, the last one per partition', async () => {
    const { requests, send } = controlledSend();
    const commits = new OffsetCommits(send);
    const landed: string[] = [];
    const ask = (entry: OffsetToCommit) => commits.commit(entry).then(() => void landed.push(`${entry.topic}:${entry.partition}@${entry.offset}`));
    const waits = [ask(at(0, '5')), ask(at(1, '7')), ask(at(2, '3')), ask(at(1, '9')), ask(at(1, '4', 'other'))];
    expect(requests).toHaveLength(1);
    expect(commits.queued).toBe(3);
    requests[0].land();
    await settle();
    expect(landed).toEqual(['t:0@5']);
    expect(requests).toHaveLength(2);
    expect(requests[1].offsets).toEqual([at(1, '9'), at(2, '3'), at(1, '4', 'other')]);
    requests[1].land();
    await Promise.all(waits);
    expect(landed.sort()).toEqual(['other:1@4', 't:0@5', 't:1@7', 't:1@9', 't:2@3']);
    expect(requests).toHaveLength(2);
  });

  it('fails every commit a failed request carried, and still sends the ones asked for meanwhile', async () => {
    const { requests, send } = controlledSend();
    const commits = new OffsetCommits(send);
    const a = commits.commit(at(0, '1'));
    const b = commits.commit(at(1, '1'));
    const c = commits.commit(at(2, '1'));
    requests[0].land();
    await a;
    await settle();
    const refused = new Error('The coordinator is not aware of this member');
    requests[1].fail(refused);
    await expect(b).rejects.toBe(refused);
    await expect(c).rejects.toBe(refused);
    await settle();
    const d = commits.commit(at(1, '2'));
    expect(requests[2].offsets).toEqual([at(1, '2')]);
    requests[2].land();
    await d;
  });

  it('rejects, and goes on, when the send throws before it returns a promise', async () => {
    let calls = 0;
    const commits = new OffsetCommits(async () => {
      calls += 1;
      if (calls === 1) throw new Error('not connected');
    });
    await expect(commits.commit(at(0, '1'))).rejects.toThrow('not connected');
    await expect(commits.commit(at(0, '2'))).resolves.toBeUndefined();
    const syncThrow = new OffsetCommits(() => {
      throw new Error('thrown at once');
    });
    await expect(syncThrow.commit(at(0, '1'))).rejects.toThrow('thrown at once');
  });
});
