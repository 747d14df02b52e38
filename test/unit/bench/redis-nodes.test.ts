import { checkBusPorts, commandMicros } from '../../../bench/redis-nodes';

describe('checkBusPorts', () => {
  it('refuses cluster ports whose bus port (port + 10000) lies in the ephemeral range, naming them and what to do', () => {
    expect(() => checkBusPorts([27001, 27002, 27003], [32768, 60999])).toThrow(
      'Redis Cluster ports 27001, 27002, 27003: their cluster bus ports (37001, 37002, 37003) lie in the ephemeral port range 32768-60999, where any outgoing connection can take them; choose ports below 22768 (BENCH_CLUSTER_PORTS)',
    );
    expect(() => checkBusPorts([17101, 22768], [32768, 60999])).toThrow('ports 22768:');
  });

  it('accepts ports whose bus ports lie outside it, and anything when the range is unknown', () => {
    expect(() => checkBusPorts([17101, 17102, 17103], [32768, 60999])).not.toThrow();
    expect(() => checkBusPorts([22767, 51000], [32768, 60999])).not.toThrow(); // 32767 below, 61000 above
    expect(() => checkBusPorts([27001], null)).not.toThrow();
  });
});

describe('commandMicros', () => {
  it("reads each command's usec_per_call from INFO commandstats, by name", async () => {
    const info = '# Commandstats\r\ncmdstat_evalsha:calls=200,usec=812,usec_per_call=4.06,rejected_calls=0,failed_calls=0\r\ncmdstat_hget:calls=10,usec=17,usec_per_call=1.70,rejected_calls=0,failed_calls=0\r\n';
    expect(await commandMicros({ info: async () => info })).toEqual({ evalsha: 4.06, hget: 1.7 });
    expect(await commandMicros({ info: async () => '# Commandstats\r\n' })).toEqual({});
  });
});
