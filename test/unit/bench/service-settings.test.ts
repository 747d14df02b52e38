import { SERVICE_SETTING_NAMES, serviceEnv, serviceSettings } from '../../../bench/throughput';

describe("the services' settings the bench passes on (serviceSettings, serviceEnv)", () => {
  const saved = new Map(SERVICE_SETTING_NAMES.map((name) => [name, process.env[name]]));
  afterEach(() => {
    for (const [name, value] of saved) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  });
  const clear = () => {
    for (const name of SERVICE_SETTING_NAMES) delete process.env[name];
  };
  const outputs = { triggers: 't', segmentChanges: 's', outcomes: 'o' };

  it('passes nothing when none is set: the services keep their defaults', () => {
    clear();
    expect(serviceSettings()).toEqual([]);
    const env = serviceEnv({ events: 'e', profiles: 'p' }, outputs, 'px', 'g');
    for (const name of SERVICE_SETTING_NAMES) expect(env).not.toHaveProperty(name);
  });

  it('passes the batch size, the fetch gathering and the relay wait on, as set', () => {
    clear();
    process.env.FETCH_MAX_BYTES_PER_PARTITION = '4194304';
    process.env.FETCH_MIN_BYTES = '65536';
    process.env.RELAY_GATHER = '0ms';
    expect(serviceSettings()).toEqual([
      ['FETCH_MAX_BYTES_PER_PARTITION', '4194304'],
      ['FETCH_MIN_BYTES', '65536'],
      ['RELAY_GATHER', '0ms'],
    ]);
    expect(serviceEnv({ events: 'e', profiles: 'p' }, outputs, 'px', 'g')).toMatchObject({ FETCH_MAX_BYTES_PER_PARTITION: '4194304', FETCH_MIN_BYTES: '65536', RELAY_GATHER: '0ms' });
  });
});
