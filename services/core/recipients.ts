/**
 * Recipient addresses. A profile's `email` becomes a {@link Mailbox} only when it is exactly one
 * mailbox in the strict form SES can deliver to: an RFC 5321/5322 addr-spec `local@domain`
 * with a dot-atom local part and a DNS domain, and nothing around it. Everything else is refused
 * with a value-free {@link MailboxProblem}, so callers can count and report it without echoing
 * the address.
 *
 * Refused on purpose (each has been used to add recipients or to confuse a parser):
 * - lists (`a@x, b@y`, `a@x; b@y`), group syntax (`name: a@x;`), display names and angle
 *   brackets (`"admin@bank" <evil@x>`), comments (`a@x (c)`), whitespace, control and
 *   invisible format characters (CR, LF, NUL, U+200B, U+202E, ...);
 * - quoted local parts (`"a b"@x`): legal in RFC 5322 but almost never real, and the easiest
 *   way to smuggle `@`, `,` or `<` into one address; refusing them costs next to nothing;
 * - RFC 2047 encoded-word look-alikes in the local part (`=?utf-8?q?...?=@x`), which some mail
 *   software decodes into a different address;
 * - non-ASCII local parts: they need SMTPUTF8 (RFC 6531), which Amazon SES does not offer;
 * - domain literals (`a@[1.2.3.4]`), dotless domains (`a@localhost`) and numeric top-level
 *   labels (`a@1.2.3.4`).
 *
 * Accepted and normalized: a Unicode (IDN) domain is converted to its ASCII (punycode) form
 * with WHATWG's domainToASCII and the result is checked again; the domain is lower-cased. The
 * local part keeps its case. Lengths: local part at most 64 octets, the whole address at most
 * 254 (RFC 5321 4.5.3.1 and the forward-path limit).
 */
import { domainToASCII, domainToUnicode } from 'node:url';

/** Why a value is not exactly one mailbox; a fixed vocabulary, safe for logs, reasons and metric labels. */
export type MailboxProblem =
  | 'not_a_string'
  | 'empty'
  | 'too_long'
  | 'control_character'
  | 'group'
  | 'list'
  | 'display_name'
  | 'angle_brackets'
  | 'comment'
  | 'quoted_local_part'
  | 'whitespace'
  | 'missing_at'
  | 'several_at'
  | 'non_ascii_local_part'
  | 'encoded_word'
  | 'local_part'
  | 'domain_literal'
  | 'domain';

export const MAILBOX_PROBLEMS: readonly MailboxProblem[] = [
  'not_a_string', 'empty', 'too_long', 'control_character', 'group', 'list', 'display_name', 'angle_brackets', 'comment',
  'quoted_local_part', 'whitespace', 'missing_at', 'several_at', 'non_ascii_local_part', 'encoded_word', 'local_part',
  'domain_literal', 'domain',
];

export const MAX_LOCAL_PART_OCTETS = 64;
export const MAX_ADDRESS_OCTETS = 254;
/** Inputs longer than this are refused before any other work (no regex over a megabyte). */
const MAX_INPUT_CHARS = 1024;

/**
 * One validated, normalized mailbox. Only {@link parseMailbox} makes one (the constructor is
 * private and the address a private field, so neither a cast string nor a look-alike object
 * passes `instanceof Mailbox`). It prints as `[mailbox]` in logs and template strings: read
 * `.address` where the address is really needed.
 */
export class Mailbox {
  readonly #address: string;
  readonly #at: number;

  private constructor(address: string) {
    this.#address = address;
    this.#at = address.lastIndexOf('@');
  }

  /** `local@ascii-domain`, the form for headers, the SES Destination and suppression keys. */
  get address(): string {
    return this.#address;
  }

  get localPart(): string {
    return this.#address.slice(0, this.#at);
  }

  /** The ASCII (punycode), lower-case domain. */
  get domain(): string {
    return this.#address.slice(this.#at + 1);
  }

  equals(other: Mailbox): boolean {
    return this.#address === other.#address;
  }

  toString(): string {
    return '[mailbox]';
  }

  toJSON(): string {
    return '[mailbox]';
  }

  /** See parseMailbox. */
  static parse(input: unknown): MailboxResult {
    const checked = check(input);
    return typeof checked === 'string' ? { ok: false, problem: checked } : { ok: true, mailbox: new Mailbox(checked.address) };
  }
}

export type MailboxResult = { ok: true; mailbox: Mailbox } | { ok: false; problem: MailboxProblem };

// C0 and C1 controls, DEL, format characters (zero-width, bidi overrides, soft hyphen, BOM),
// line and paragraph separators.
const CONTROL = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/u;
const WHITESPACE = /[\s\p{Z}]/u;
// RFC 5322 atext; a dot-atom is atext runs joined by single dots.
const DOT_ATOM = /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$/;
// Letters, digits and hyphens; IDN input may add non-ASCII characters, which domainToASCII maps.
const DOMAIN_INPUT = /^[A-Za-z0-9.\-\u0080-\u{10FFFF}]+$/u;
const LDH_LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

/** The ASCII form of a domain, or null when it is not a DNS host name we deliver to. */
function asciiDomain(domain: string): string | null {
  if (domain === '' || !DOMAIN_INPUT.test(domain)) return null;
  const ascii = domainToASCII(domain);
  if (ascii === '' || ascii.length > 253) return null;
  // An ASCII input must come back as itself (lower-cased): no percent-decoding, no IPv4 rewriting.
  if (/^[\x20-\x7e]*$/.test(domain) && ascii !== domain.toLowerCase()) return null;
  const labels = ascii.split('.');
  if (labels.length < 2 || !labels.every((label) => LDH_LABEL.test(label))) return null;
  if (/^[0-9]+$/.test(labels[labels.length - 1] as string)) return null;
  if (labels.some((label) => label.startsWith('xn--') && !isALabel(label))) return null;
  return ascii;
}

/**
 * A punycode label (`xn--...`) must be a real A-label: it decodes to a label with a non-ASCII
 * character that encodes back to itself. domainToASCII alone is not enough: Node 20 refused an
 * undecodable label (`xn--zz`) but Node 24 passes it through unchanged (and domainToUnicode
 * returns it unchanged); `xn--abc-` decodes to plain `abc`, which is no IDN.
 */
function isALabel(label: string): boolean {
  const unicode = domainToUnicode(label);
  return /[^\p{ASCII}]/u.test(unicode) && domainToASCII(unicode) === label;
}

/** The normalized address of `input`, or why it is not exactly one mailbox. */
function check(input: unknown): { address: string } | MailboxProblem {
  if (typeof input !== 'string') return 'not_a_string';
  if (input === '') return 'empty';
  if (input.length > MAX_INPUT_CHARS) return 'too_long';
  if (CONTROL.test(input)) return 'control_character';
  if (input.includes('<') || input.includes('>')) {
    return /^\s*</.test(input) ? 'angle_brackets' : 'display_name';
  }
  if (input.includes(':')) return input.includes('[') ? 'domain_literal' : 'group';
  if (input.includes(',') || input.includes(';')) return 'list';
  if (input.includes('(') || input.includes(')')) return 'comment';
  if (input.includes('"') || input.includes('\\')) return 'quoted_local_part';
  if (WHITESPACE.test(input)) return 'whitespace';
  const at = input.indexOf('@');
  if (at < 0) return 'missing_at';
  if (input.indexOf('@', at + 1) >= 0) return 'several_at';
  const local = input.slice(0, at);
  const domain = input.slice(at + 1);
  if (/[^\x20-\x7e]/.test(local)) return 'non_ascii_local_part'; // controls were refused above
  if (local.includes('=?')) return 'encoded_word';
  if (local === '' || !DOT_ATOM.test(local)) return 'local_part';
  if (local.length > MAX_LOCAL_PART_OCTETS) return 'too_long'; // ASCII by now: one octet per character
  if (domain.startsWith('[')) return 'domain_literal';
  const ascii = asciiDomain(domain);
  if (ascii === null) return 'domain';
  const address = `${local}@${ascii}`;
  if (address.length > MAX_ADDRESS_OCTETS) return 'too_long';
  return { address };
}

/**
 * Accepts `input` only when it is exactly one addr-spec mailbox (see the module comment);
 * returns the normalized Mailbox or the problem. Never throws, never echoes the value.
 */
export function parseMailbox(input: unknown): MailboxResult {
  return Mailbox.parse(input);
}

/** A sender: an optional display name and one validated mailbox (the From of every email). */
export interface Sender {
  name: string;
  mailbox: Mailbox;
}

const MAX_DISPLAY_NAME_CHARS = 100;

/**
 * Parses a configured sender, `Display Name <local@domain>`, `"Display Name" <local@domain>` or
 * a bare `local@domain`. The name may not contain quotes, angle brackets, control characters or
 * line breaks (nodemailer encodes what is left); the address must pass parseMailbox.
 */
export function parseSender(input: string): { ok: true; sender: Sender } | { ok: false; problem: string } {
  const text = input.trim();
  const angled = /^(.*?)\s*<([^<>]*)>$/s.exec(text);
  const rawName = angled === null ? '' : (angled[1] as string).trim();
  const rawAddress = angled === null ? text : (angled[2] as string);
  const name = /^"[^"]*"$/.test(rawName) ? rawName.slice(1, -1).trim() : rawName;
  if (CONTROL.test(name) || /["<>\\]/.test(name)) return { ok: false, problem: 'the display name holds quotes, angle brackets or control characters' };
  if (name.length > MAX_DISPLAY_NAME_CHARS) return { ok: false, problem: `the display name is longer than ${MAX_DISPLAY_NAME_CHARS} characters` };
  const parsed = parseMailbox(rawAddress);
  if (!parsed.ok) return { ok: false, problem: `the address is not one plain mailbox (${parsed.problem})` };
  return { ok: true, sender: { name, mailbox: parsed.mailbox } };
}

/** parseMailbox for values that must be valid (fixtures, configuration); throws naming the problem, not the value. */
export function requireMailbox(input: string): Mailbox {
  const parsed = parseMailbox(input);
  if (!parsed.ok) throw new Error(`not exactly one mailbox (${parsed.problem})`);
  return parsed.mailbox;
}
