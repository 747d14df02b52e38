/**
 * Issue 11, recipients: a profile's email can only ever be one mailbox. The parser refuses
 * lists, groups, display names, header injection and the like (each with a value-free problem
 * code); the MIME builder and the SES call take only a parsed Mailbox and check the built
 * message holds exactly that one recipient.
 */
import type { SESv2Client } from '@aws-sdk/client-sesv2';
import { Mailbox, MAILBOX_PROBLEMS, parseMailbox, parseSender, requireMailbox, type MailboxProblem } from '../../../services/core/recipients';
import { ConfigError } from '../../../services/kit/errors';
import { senderOf } from '../../../services/renderer/config';
import { assertOnlyRecipient, buildMime, RecipientRefusedError } from '../../../services/renderer/mime';
import { SesEmailSender, SesSendError } from '../../../services/renderer/ses';

const rendered = { subject: 'Hello', preheader: 'Hi', html: '<p>Hi</p>', text: 'Hi\n' };
const from = { name: 'Kairos Shop', mailbox: requireMailbox('shop@example.com') };

function mime(to: Mailbox) {
  return buildMime({
    from, to, rendered, triggerId: 'tid-1', campaign: 'c', unsubscribeUrl: 'https://t.example/u/x', unsubscribeMailto: null,
    messageIdDomain: 'example.com', date: new Date(Date.UTC(2026, 0, 1)),
  });
}

function headerBlock(raw: Buffer): string {
  const text = raw.toString('utf8');
  return text.slice(0, text.indexOf('\r\n\r\n')).replace(/\r\n[ \t]+/g, ' ');
}

describe('parseMailbox: exactly one mailbox', () => {
  it.each<[string, string, MailboxProblem]>([
    ['a list with ","', 'm6@example.com, evil@attacker.example', 'list'],
    ['a list with ";"', 'm6@example.com; evil@attacker.example', 'list'],
    ['a list without spaces', 'm6@example.com,evil@attacker.example', 'list'],
    ['group syntax', 'undisclosed:evil@attacker.example;', 'group'],
    ['a display name hiding another address', '"admin@bank.example" <evil@attacker.example>', 'display_name'],
    ['a bare display name', 'Admin <evil@attacker.example>', 'display_name'],
    ['angle brackets', '<evil@attacker.example>', 'angle_brackets'],
    ['a CRLF and a Bcc header', 'm5@example.com\r\nBcc: evil@attacker.example', 'control_character'],
    ['a bare LF', 'm5@example.com\nBcc: evil@attacker.example', 'control_character'],
    ['a NUL', 'm5@example.com\u0000evil@attacker.example', 'control_character'],
    ['a NUL in the local part', 'm\u0000@example.com', 'control_character'],
    ['a zero-width space', 'm@exa\u200bmple.com', 'control_character'],
    ['a right-to-left override', 'm@exa\u202emple.com', 'control_character'],
    ['a comment', 'm@example.com (evil@attacker.example)', 'comment'],
    ['a comment in the local part', 'm(x)@example.com', 'comment'],
    ['a quoted local part', '"m6@example.com evil"@attacker.example', 'quoted_local_part'],
    ['a backslash', 'm\\@example.com', 'quoted_local_part'],
    ['a space', 'm6 @example.com', 'whitespace'],
    ['a tab', 'm6@example.com\t', 'control_character'],
    ['a no-break space', 'm6@example.com\u00a0', 'whitespace'],
    ['no @', 'm6.example.com', 'missing_at'],
    ['two @', 'm6@evil.example@example.com', 'several_at'],
    ['a non-ASCII local part (SES has no SMTPUTF8)', 'müller@example.com', 'non_ascii_local_part'],
    ['an encoded-word local part', '=?utf-8?q?evil=40attacker.example?=@example.com', 'encoded_word'],
    ['a leading dot', '.m6@example.com', 'local_part'],
    ['two dots in a row', 'm..6@example.com', 'local_part'],
    ['an empty local part', '@example.com', 'local_part'],
    ['a 65-octet local part', `${'a'.repeat(65)}@example.com`, 'too_long'],
    ['a domain literal', 'm6@[127.0.0.1]', 'domain_literal'],
    ['an IPv6 domain literal', 'm6@[IPv6:::1]', 'domain_literal'],
    ['a dotless domain', 'm6@localhost', 'domain'],
    ['an IPv4 address', 'm6@127.0.0.1', 'domain'],
    ['a percent-encoded domain', 'm6@ex%61mple.com', 'domain'],
    ['a trailing dot', 'm6@example.com.', 'domain'],
    ['a label starting with a hyphen', 'm6@-example.com', 'domain'],
    ['an underscore in the domain', 'm6@ex_ample.com', 'domain'],
    ['a broken punycode label', 'm6@xn--zz.com', 'domain'],
    ['a punycode label that does not decode', 'm6@xn--99999999.com', 'domain'],
    ['a punycode label of plain ASCII', 'm6@xn--abc-.com', 'domain'],
    ['a broken punycode label below the top', 'm6@xn--a.example.com', 'domain'],
    ['a fullwidth @ in the domain', 'm6@evil.example\uff20example.com', 'domain'],
    ['an over-long label', `m6@${'a'.repeat(64)}.com`, 'domain'],
    ['an over-long address', `m6@${Array.from({ length: 5 }, () => 'a'.repeat(60)).join('.')}.com`, 'domain'],
    ['an empty string', '', 'empty'],
    ['a megabyte', `${'a'.repeat(1_000_000)}@example.com`, 'too_long'],
  ])('refuses %s', (_label, input, problem) => {
    expect(parseMailbox(input)).toEqual({ ok: false, problem });
  });

  it('refuses what is not a string', () => {
    for (const value of [null, undefined, 42, { address: 'm6@example.com' }, ['m6@example.com']]) expect(parseMailbox(value)).toEqual({ ok: false, problem: 'not_a_string' });
  });

  it.each([
    ['m6@example.com', 'm6@example.com'],
    ["Dana.O'Neil+tag@Example.COM", "Dana.O'Neil+tag@example.com"],
    ['a!#$%&*/?=^_`{|}~-b@example.co.uk', 'a!#$%&*/?=^_`{|}~-b@example.co.uk'],
    ['m@exämple.com', 'm@xn--exmple-cua.com'],
    ['m@bücher.de', 'm@xn--bcher-kva.de'],
    ['m@xn--bcher-kva.de', 'm@xn--bcher-kva.de'],
    ['m@例え.テスト', 'm@xn--r8jz45g.xn--zckzah'],
    [`${'a'.repeat(64)}@example.com`, `${'a'.repeat(64)}@example.com`],
  ])('accepts %s as %s (IDN domains in punycode, the domain lower-cased)', (input, address) => {
    const parsed = parseMailbox(input);
    expect(parsed.ok && parsed.mailbox.address).toBe(address);
  });

  it('keeps the local part and gives the ASCII domain', () => {
    const mailbox = requireMailbox('Dana@Bücher.DE');
    expect(mailbox.localPart).toBe('Dana');
    expect(mailbox.domain).toBe('xn--bcher-kva.de');
    expect(mailbox.equals(requireMailbox('Dana@xn--bcher-kva.de'))).toBe(true);
  });

  it('prints as [mailbox], never as the address, in logs and strings', () => {
    const mailbox = requireMailbox('dana@example.com');
    expect(JSON.stringify({ to: mailbox })).toBe('{"to":"[mailbox]"}');
    expect(`${mailbox}`).toBe('[mailbox]');
  });

  it('every problem code is in the published list (metric labels, docs)', () => {
    const seen = new Set<string>();
    for (const input of ['', 'a,b@c.de', 'a:b@c.de;', 'A <a@b.de>', '<a@b.de>', 'a@b.de (c)', '"a"@b.de', 'a b@c.de', 'a\r@b.de', 'ab.de', 'a@b@c.de', 'ü@b.de', '=?x?=@b.de', '.a@b.de', 'a@[1.2.3.4]', 'a@b', 5]) {
      const parsed = parseMailbox(input);
      if (!parsed.ok) seen.add(parsed.problem);
    }
    for (const problem of seen) expect(MAILBOX_PROBLEMS).toContain(problem);
  });

  it('refusal messages carry the problem, never the value', () => {
    expect(() => requireMailbox('m6@example.com, evil@attacker.example')).toThrow('not exactly one mailbox (list)');
    expect(() => requireMailbox('m6@example.com, evil@attacker.example')).not.toThrow(/attacker|m6/);
  });
});

describe('the configured sender (FROM_ADDRESS)', () => {
  it.each([
    ['Kairos Shop <shop@example.com>', 'Kairos Shop', 'shop@example.com'],
    ['"Kairos Shop" <shop@example.com>', 'Kairos Shop', 'shop@example.com'],
    ['shop@example.com', '', 'shop@example.com'],
    ['Bücher <shop@bücher.de>', 'Bücher', 'shop@xn--bcher-kva.de'],
  ])('accepts %s', (input, name, address) => {
    const parsed = parseSender(input);
    expect(parsed.ok && { name: parsed.sender.name, address: parsed.sender.mailbox.address }).toEqual({ name, address });
  });

  it.each([
    'Shop <shop@example.com>, evil@attacker.example',
    'shop@example.com, evil@attacker.example',
    'Shop <shop@example.com\r\nBcc: evil@attacker.example>',
    'Shop\r\nBcc: evil@attacker.example <shop@example.com>',
    '"Sh"op" <shop@example.com>',
    'Shop <>',
  ])('refuses %j at start-up with a ConfigError', (input) => {
    expect(parseSender(input).ok).toBe(false);
    expect(() => senderOf({ FROM_ADDRESS: input })).toThrow(ConfigError);
  });
});

describe('the MIME builder takes one validated Mailbox and nothing else', () => {
  it('writes exactly that address in one To header, with no Cc or Bcc', async () => {
    const head = headerBlock(await mime(requireMailbox('m6@exämple.com')));
    expect(head).toMatch(/^To: m6@xn--exmple-cua\.com$/m);
    expect(head).toMatch(/^From: Kairos Shop <shop@example\.com>$/m);
    expect(head).not.toMatch(/^(cc|bcc|resent-\w+):/im);
  });

  it('refuses a look-alike object or a cast string at run time', async () => {
    const fake = { address: 'm6@example.com, evil@attacker.example', localPart: 'm6', domain: 'example.com' } as unknown as Mailbox;
    await expect(mime(fake)).rejects.toThrow(RecipientRefusedError);
    await expect(mime('evil@attacker.example' as unknown as Mailbox)).rejects.toThrow(RecipientRefusedError);
  });

  it.each([
    ['two To headers', 'To: m6@example.com\r\nTo: evil@attacker.example'],
    ['a Cc header', 'To: m6@example.com\r\nCc: evil@attacker.example'],
    ['a Bcc header', 'To: m6@example.com\r\nBcc: evil@attacker.example'],
    ['a folded Bcc header', 'To: m6@example.com\r\nbcc:\r\n evil@attacker.example'],
    ['a second address in To', 'To: m6@example.com, evil@attacker.example'],
    ['a group in To', 'To: undisclosed:evil@attacker.example;'],
    ['a folded second address', 'To: m6@example.com,\r\n evil@attacker.example'],
    ['no To at all', 'Subject: x'],
    ['a different To', 'To: evil@attacker.example'],
  ])('assertOnlyRecipient refuses a message with %s, naming no address', (_label, headers) => {
    const raw = `From: shop@example.com\r\n${headers}\r\nSubject: hi\r\n\r\nTo: body@lines.example are not headers\r\n`;
    let error: unknown;
    try {
      assertOnlyRecipient(Buffer.from(raw), requireMailbox('m6@example.com'));
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(RecipientRefusedError);
    expect((error as Error).message).not.toMatch(/attacker|m6@/);
  });

  it('assertOnlyRecipient accepts the address bare or in angle brackets', () => {
    const to = requireMailbox('m6@example.com');
    expect(() => assertOnlyRecipient('From: a@b.de\r\nTo: m6@example.com\r\n\r\nbody', to)).not.toThrow();
    expect(() => assertOnlyRecipient('From: a@b.de\r\nTo: <m6@example.com>\r\n\r\nbody', to)).not.toThrow();
  });
});

describe('the SES call names its one recipient explicitly', () => {
  function stubClient() {
    const inputs: Array<Record<string, unknown>> = [];
    const client = { send: async (command: { input: Record<string, unknown> }) => (inputs.push(command.input), { MessageId: 'm-1' }) } as unknown as Pick<SESv2Client, 'send'>;
    return { client, inputs };
  }

  it('sets Destination to exactly the Mailbox, so SES never derives recipients from headers', async () => {
    const { client, inputs } = stubClient();
    const to = requireMailbox('m6@bücher.de');
    await new SesEmailSender(client, null).send({ raw: await mime(to), to, triggerId: 't', campaign: 'c', variant: null });
    expect(inputs[0]?.Destination).toEqual({ ToAddresses: ['m6@xn--bcher-kva.de'] });
  });

  it('refuses to call SES without a Mailbox', async () => {
    const { client, inputs } = stubClient();
    const fake = { address: 'evil@attacker.example' } as unknown as Mailbox;
    await expect(new SesEmailSender(client, null).send({ raw: Buffer.from('x'), to: fake, triggerId: 't', campaign: 'c', variant: null })).rejects.toThrow(SesSendError);
    expect(inputs).toEqual([]);
  });
});
