import { z } from 'zod';
import { DefinitionProblem, formatPath, parseWith, parseYaml, strictMapping } from '../../../../services/core/definitions';
import { thrownBy } from '../../../support/thrown';

const problemOf = (parse: () => unknown): DefinitionProblem => thrownBy(DefinitionProblem, parse);

describe('parseYaml', () => {
  it('returns plain data, and null for an empty file', () => {
    expect(parseYaml('rules:\n  - { name: a }\n')).toEqual({ rules: [{ name: 'a' }] });
    expect(parseYaml('')).toBeNull();
  });

  it('reports syntax errors and duplicate keys with the line', () => {
    expect(problemOf(() => parseYaml('rules:\n  - name: [unclosed\n')).message).toMatch(/^is not valid YAML: .*line \d+/);
    expect(problemOf(() => parseYaml('a: 1\na: 2\n')).message).toMatch(/^is not valid YAML: Map keys must be unique/);
  });
});

describe('strictMapping and parseWith', () => {
  const schema = strictMapping({ name: z.string(), list: z.array(strictMapping({ within: z.string() })).optional() });

  it('reports an unknown key at its own path, listing the allowed keys, before the fields it makes missing', () => {
    const problem = problemOf(() => parseWith(schema, { nmae: 'x' }, 'rule'));
    expect(problem.field).toBe('rule.nmae');
    expect(problem.problem).toBe('unknown key; expected one of name, list');
    expect(problemOf(() => parseWith(schema, { name: 'x', list: [{ witin: '1m' }] })).field).toBe('list[0].witin');
  });

  it('says what a mapping should hold when given something else', () => {
    expect(problemOf(() => parseWith(schema, [1])).message).toBe('a list is not a mapping; expected key: value pairs (name, list)');
  });
});

describe('formatPath', () => {
  it('writes keys with dots and indexes in brackets', () => {
    expect(formatPath(['any', 0, 'recency', 'within'], undefined, 'conditions')).toBe('conditions.any[0].recency.within');
  });

  it('drops the index of a lone value read as a list of one', () => {
    expect(formatPath(['event', 0], { event: 'product_vue' })).toBe('event');
    expect(formatPath(['event', 1], { event: ['a', 'b'] })).toBe('event[1]');
  });
});
