import { intEnv } from '../../../bench/env';

describe('intEnv (the bench tools\' whole-number settings)', () => {
  const name = 'KAIROS_TEST_INT_ENV';
  afterEach(() => {
    delete process.env[name];
  });

  it('gives the fallback when the variable is unset or empty', () => {
    expect(intEnv(name, 500)).toBe(500);
    process.env[name] = '';
    expect(intEnv(name, 500)).toBe(500);
  });

  it('reads a whole number of 1 or more', () => {
    process.env[name] = '7000';
    expect(intEnv(name, 500)).toBe(7000);
  });

  it.each(['0', '-3', '2.5', 'x', '1e400'])('refuses %s, naming the variable, the value and the fallback', (raw) => {
    process.env[name] = raw;
    expect(() => intEnv(name, 500)).toThrow(`bench: ${name}=${raw} is not a positive integer; unset it for 500`);
  });

  it('takes a lower bound: FOOTPRINT_IDLE_S may be 0, not -1', () => {
    process.env[name] = '0';
    expect(intEnv(name, 20, 0)).toBe(0);
    process.env[name] = '-1';
    expect(() => intEnv(name, 20, 0)).toThrow(`bench: ${name}=-1 is not a whole number of 0 or more; unset it for 20`);
  });
});
