/** YAML text -> plain data, for definition files. Pure: the caller reads the file. */
import { parseDocument } from 'yaml';
import { DefinitionProblem } from './problems';

/**
 * The document's plain value (null for an empty file). Duplicate keys are errors. Throws a
 * DefinitionProblem `is not valid YAML: <first line of the parser's message, with the line>`.
 */
export function parseYaml(text: string): unknown {
  const document = parseDocument(text, { uniqueKeys: true, prettyErrors: true });
  const error = document.errors[0];
  if (error !== undefined) throw new DefinitionProblem('', `is not valid YAML: ${error.message.split('\n')[0]}`);
  return document.toJS() as unknown;
}
