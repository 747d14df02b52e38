import { loadConfig } from '../../../services/kit/config';
import { ConfigError } from '../../../services/kit/errors';
import { rendererShape } from '../../../services/renderer/config';
import { thrownBy } from '../../support/thrown';

const problemOf = (value: string): string => thrownBy(ConfigError, () => loadConfig({ UNSUBSCRIBE_MAILTO: rendererShape.UNSUBSCRIBE_MAILTO }, { UNSUBSCRIBE_MAILTO: value })).message;

describe('UNSUBSCRIBE_MAILTO', () => {
  it('defaults to unsubscribe@example.com and takes one plain address, its IDN domain in punycode', () => {
    expect(rendererShape.UNSUBSCRIBE_MAILTO.parse(undefined)).toBe('unsubscribe@example.com');
    expect(loadConfig({ UNSUBSCRIBE_MAILTO: rendererShape.UNSUBSCRIBE_MAILTO }, { UNSUBSCRIBE_MAILTO: 'abmelden@Bücher.example' })).toEqual({ UNSUBSCRIBE_MAILTO: 'abmelden@xn--bcher-kva.example' });
  });

  // It is written into `List-Unsubscribe: <mailto:ADDRESS?subject=...>`: each of these would break that header.
  it.each([
    ['a query of its own', 'unsubscribe@example.com?subject=stop', 'domain'],
    ['a second address in its query', 'unsubscribe@example.com?cc=boss@example.com', 'several_at'],
    ['a control character', 'unsubscribe\x01@example.com', 'control_character'],
    ['a display name', 'Shop <unsubscribe@example.com>', 'display_name'],
    ['a list', 'a@example.com, b@example.com', 'list'],
    ['no domain', 'unsubscribe', 'missing_at'],
  ])('refuses %s at start-up, naming the problem and the expected form', (_label, value, problem) => {
    const message = problemOf(value);
    expect(message).toContain(`is not one plain mailbox (${problem}); expected one plain address like unsubscribe@example.com`);
    expect(message).toContain('UNSUBSCRIBE_MAILTO');
  });
});
