import { loadConfig } from '../../../services/kit/config';
import { attributionOptions, resultsShape } from '../../../services/results/main';

describe('results configuration', () => {
  it('defaults to a 72 h window and a 30 d horizon', () => {
    const options = attributionOptions(loadConfig(resultsShape, {}));
    expect(options).toMatchObject({ windowMs: 72 * 3600_000, horizonMs: 30 * 86_400_000 });
    expect(loadConfig(resultsShape, {}).HTTP_PORT).toBe(8096);
    expect(loadConfig(resultsShape, {}).GROUP_ID).toBe('kairos-results');
  });

  it('refuses a horizon shorter than the window, and a state TTL too short for them', () => {
    expect(() => attributionOptions(loadConfig(resultsShape, { ATTRIBUTION_WINDOW: '7d', ATTRIBUTION_HORIZON: '3d' }))).toThrow(/ATTRIBUTION_HORIZON.*shorter than ATTRIBUTION_WINDOW/s);
    expect(() => attributionOptions(loadConfig(resultsShape, { STATE_TTL: '30d' }))).toThrow(/STATE_TTL.*shorter than 2 x ATTRIBUTION_HORIZON \+ ATTRIBUTION_WINDOW/s);
  });
});
