import { memoryLimitMb } from '../../../bench/chaos/harness';

describe('chaos: the RSS bound of each service', () => {
  it('is the memory limit of its container in the Kubernetes base, in MiB', () => {
    expect(memoryLimitMb('segmenter')).toBe(448);
    expect(memoryLimitMb('renderer')).toBe(1024);
    for (const service of ['trigger', 'recommender', 'tracker']) expect(memoryLimitMb(service)).toBeGreaterThan(0);
  });

  it('names the file when a service has none', () => {
    expect(() => memoryLimitMb('nosuch')).toThrow(/nosuch\.yaml/);
  });
});
