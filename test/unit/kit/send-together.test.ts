/**
 * SendTogether: one request in flight; what is asked for meanwhile goes out together in the
 * next (keyed: one entry per key, the one asked for last, as the consumer's offset commits use
 * it; sized: within a bound, as the at_least_once relay's sends use it), and every caller
 * learns the outcome of the request that carried its entry.
 */
import type { TopicPartitionOffsetAndMetadata as OffsetToCommit } from 'kafkajs';
import { SendTogether } from '../../../services/kit/send-together';
import { turn, turnsUntil } from '../../support/turns';

/** A send whose requests the test lands or fails one by one. */
function controlledSend<E = OffsetToCommit>() {
  const requests: Array<{ offsets: E[]; land: () => void; fail: (error: Error) => void }> = [];
  const send = (offsets: E[]) => new Promise<void>((land, fail) => void requests.push({ offsets, land, fail }));
  return { requests, send };
}

/** As the consumer runner commits: one entry per partition. */
const offsetCommits = (send: (offsets: OffsetToCommit[]) => Promise<void>) => new SendTogether<OffsetToCommit>({ send, keyOf: (c) => `${c.topic}:${c.partition}` });

const at = (partition: number, offset: string, topic = 't'): OffsetToCommit => ({ topic, partition, offset, metadata: `m${offset}` });

describe('SendTogether', () => {
  it('sends a commit at once when no request is in flight, and resolves it when its request lands', async () => {
    const { requests, send } = controlledSend();
    const commits = offsetCommits(send);
    let done = false;
    const first = commits.add(at(0, '5')).then(() => (done = true));
    expect(requests.map((r) => r.offsets)).toEqual([[at(0, '5')]]);
    await turn();
    expect(done).toBe(false);
    requests[0].land();
    await first;
    expect(done).toBe(true);
  });

  it('carries the commits asked for while a request is in flight in one next request, the last one per partition', async () => {
    const { requests, send } = controlledSend();
    const commits = offsetCommits(send);
    const landed: string[] = [];
    const ask = (entry: OffsetToCommit) => commits.add(entry).then(() => void landed.push(`${entry.topic}:${entry.partition}@${entry.offset}`));
    const waits = [ask(at(0, '5')), ask(at(1, '7')), ask(at(2, '3')), ask(at(1, '9')), ask(at(1, '4', 'other'))];
    expect(requests).toHaveLength(1);
    expect(commits.queued).toBe(3);
    requests[0].land();
    await turn();
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
    const commits = offsetCommits(send);
    const a = commits.add(at(0, '1'));
    const b = commits.add(at(1, '1'));
    const c = commits.add(at(2, '1'));
    requests[0].land();
    await a;
    await turn();
    const refused = new Error('The coordinator is not aware of this member');
    requests[1].fail(refused);
    await expect(b).rejects.toBe(refused);
    await expect(c).rejects.toBe(refused);
    await turn();
    const d = commits.add(at(1, '2'));
    expect(requests[2].offsets).toEqual([at(1, '2')]);
    requests[2].land();
    await d;
  });

  it('rejects, and goes on, when the send throws before it returns a promise', async () => {
    let calls = 0;
    const commits = offsetCommits(async () => {
      calls += 1;
      if (calls === 1) throw new Error('not connected');
    });
    await expect(commits.add(at(0, '1'))).rejects.toThrow('not connected');
    await expect(commits.add(at(0, '2'))).resolves.toBeUndefined();
    const syncThrow = offsetCommits(() => {
      throw new Error('thrown at once');
    });
    await expect(syncThrow.add(at(0, '1'))).rejects.toThrow('thrown at once');
  });

  it('unkeyed, sends every entry; sized, carries entries in order while they fit, and one too large alone', async () => {
    const { requests, send } = controlledSend<number>();
    const sends = new SendTogether<number>({ send, sizeOf: (n) => n, maxSize: 10 });
    const waits = [1, 4, 4, 3, 12, 2, 2].map((n) => sends.add(n));
    for (let i = 0; i < 4; i += 1) {
      requests[i].land();
      await turnsUntil(() => requests.length === i + 2);
    }
    requests[4].land();
    await Promise.all(waits);
    expect(requests.map((r) => r.offsets)).toEqual([[1], [4, 4], [3], [12], [2, 2]]);
  });

  it('with gatherMs, waits that long before a first request so that what is asked for meanwhile joins it; not after a request in flight', async () => {
    jest.useFakeTimers();
    try {
      const { requests, send } = controlledSend<string>();
      const together = new SendTogether<string>({ send, gatherMs: 3 });
      const first = [together.add('a'), together.add('b')];
      await jest.advanceTimersByTimeAsync(2);
      together.add('c').catch(() => undefined);
      expect(requests).toHaveLength(0);
      await jest.advanceTimersByTimeAsync(1);
      expect(requests.map((r) => r.offsets)).toEqual([['a', 'b', 'c']]);
      // Asked for while that one is in flight: sent the moment it lands, without a new wait.
      const later = together.add('d');
      requests[0].land();
      await Promise.all(first);
      await jest.advanceTimersByTimeAsync(0);
      expect(requests.map((r) => r.offsets)).toEqual([['a', 'b', 'c'], ['d']]);
      requests[1].land();
      await later;
      await jest.advanceTimersByTimeAsync(0);
      // Idle again (nothing in flight): the next first entry waits once more.
      together.add('e').catch(() => undefined);
      await jest.advanceTimersByTimeAsync(2);
      expect(requests).toHaveLength(2);
      await jest.advanceTimersByTimeAsync(1);
      expect(requests.map((r) => r.offsets)).toEqual([['a', 'b', 'c'], ['d'], ['e']]);
    } finally {
      jest.useRealTimers();
    }
  });

  it('with onTheirWay, a gather ends as soon as none is on its way (by the last add, or a poke), and never waits past gatherMs', async () => {
    jest.useFakeTimers();
    try {
      const { requests, send } = controlledSend<string>();
      let onTheirWay = 2;
      const together = new SendTogether<string>({ send, gatherMs: 1000, onTheirWay: () => onTheirWay });
      // Two more on their way: the first waits for them.
      onTheirWay -= 1;
      together.add('a').catch(() => undefined);
      await jest.advanceTimersByTimeAsync(0);
      expect(requests).toHaveLength(0);
      // The last one: sent with it, long before the gather's 1,000 ms.
      onTheirWay -= 1;
      together.add('b').catch(() => undefined);
      expect(requests.map((r) => r.offsets)).toEqual([['a', 'b']]);
      requests[0].land();
      await jest.advanceTimersByTimeAsync(0);
      // Nothing on its way: at once.
      together.add('c').catch(() => undefined);
      expect(requests.map((r) => r.offsets)).toEqual([['a', 'b'], ['c']]);
      requests[1].land();
      await jest.advanceTimersByTimeAsync(0);
      // One on its way that ends without adding: its poke sends what waited for it.
      onTheirWay = 2;
      onTheirWay -= 1;
      together.add('d').catch(() => undefined);
      together.poke();
      expect(requests).toHaveLength(2);
      onTheirWay -= 1;
      together.poke();
      expect(requests.map((r) => r.offsets)).toEqual([['a', 'b'], ['c'], ['d']]);
      requests[2].land();
      await jest.advanceTimersByTimeAsync(0);
      // One that never comes: the gather still ends after gatherMs.
      onTheirWay = 1;
      together.add('e').catch(() => undefined);
      await jest.advanceTimersByTimeAsync(999);
      expect(requests).toHaveLength(3);
      await jest.advanceTimersByTimeAsync(1);
      expect(requests.map((r) => r.offsets)).toEqual([['a', 'b'], ['c'], ['d'], ['e']]);
    } finally {
      jest.useRealTimers();
    }
  });
});
