/**
 * The limits producers read in docs/producers.md ("Limits") are the ones the services apply
 * (RECORD_LIMITS, services/core/limits.ts): one table in the code, quoted, not retyped.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { RECORD_LIMITS } from '../../../services/core/limits';

type Documented = Record<string, string>;

/** The rows of the table after `caption` in the Limits section: field name -> limit text. */
function documentedTable(caption: string): Documented {
  const doc = readFileSync(join(__dirname, '..', '..', '..', 'docs', 'producers.md'), 'utf8');
  const section = doc.slice(doc.indexOf('## Limits'), doc.indexOf('\n## ', doc.indexOf('## Limits') + 1));
  const table = section.slice(section.indexOf(caption)).split('\n\n')[1];
  const rows: Documented = {};
  for (const line of table.split('\n').slice(2)) {
    const [fields, limit] = line.split('|').slice(1, 3).map((cell) => cell.trim());
    const names = [...fields.matchAll(/`([a-z_]+)`/g)].map((m) => m[1]);
    for (const name of names.length > 0 ? names : [fields]) rows[name] = limit.replace(/(\d),(\d)/g, '$1$2');
  }
  return rows;
}

function expected(limits: (typeof RECORD_LIMITS)['BehaviorEvent'] | (typeof RECORD_LIMITS)['CustomerProfile']): Documented {
  const rows: Documented = {};
  for (const [field, max] of Object.entries(limits.text)) rows[field] = `${max} characters`;
  for (const [field, range] of Object.entries(limits.integers) as Array<[string, { min: number; max: number }]>) rows[field] = `${range.min} to ${range.max}`;
  for (const [field, map] of Object.entries(limits.maps)) rows[field] = `${map.entries} entries; keys ${map.keyChars} characters, values ${map.valueChars} characters`;
  rows['the whole record'] = `${RECORD_LIMITS.recordBytes} bytes`;
  return rows;
}

describe('docs/producers.md quotes RECORD_LIMITS', () => {
  it('BehaviorEvent', () => {
    expect(documentedTable('BehaviorEvent (`behavior.events`)')).toEqual(expected(RECORD_LIMITS.BehaviorEvent));
  });

  it('CustomerProfile', () => {
    expect(documentedTable('CustomerProfile (`customer.profiles`)')).toEqual(expected(RECORD_LIMITS.CustomerProfile));
  });

  it('the bound beyond which nothing is decoded', () => {
    const doc = readFileSync(join(__dirname, '..', '..', '..', 'docs', 'producers.md'), 'utf8');
    expect(doc).toContain(`A record over 1 MiB (${RECORD_LIMITS.decodeBytes.toLocaleString('en-US')} bytes) is dead-lettered without even being decoded`);
  });
});
