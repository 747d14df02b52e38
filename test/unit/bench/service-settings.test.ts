import { SERVICE_SETTING_NAMES, serviceEnv, serviceSetting, serviceSettings } from '../../../bench/throughput';
import { DEFAULT_RELAY_GATHER_MS } from '../../../services/kit/consumer-service';

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

describe("a setting as the services read it, here the relay figure's wait for other partitions (serviceSetting)", () => {
  it("is the services' default when RELAY_GATHER is unset, and the setting when set", () => {
    expect(serviceSetting('RELAY_GATHER', {})).toBe(DEFAULT_RELAY_GATHER_MS);
    expect(DEFAULT_RELAY_GATHER_MS).toBeGreaterThan(0);
    expect(serviceSetting('RELAY_GATHER', { RELAY_GATHER: '0ms' })).toBe(0);
    expect(serviceSetting('RELAY_GATHER', { RELAY_GATHER: '7' })).toBe(7);
  });

  it("refuses what the services refuse, naming the variable", () => {
    expect(() => serviceSetting('RELAY_GATHER', { RELAY_GATHER: '2s' })).toThrow(/RELAY_GATHER/);
    expect(() => serviceSetting('RELAY_GATHER', { RELAY_GATHER: 'soon' })).toThrow(/RELAY_GATHER/);
  });
});
