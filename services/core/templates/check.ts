/**
 * A walk over a parsed template that finds, with their line, what Handlebars would only notice
 * at render time: unknown helpers, wrong helper arity, unknown or dynamic partials.
 */
/// <reference types="handlebars" />

type Node = hbs.AST.Node;
type Expression = hbs.AST.Expression;

/** How many positional arguments our helpers take (built-ins are left to Handlebars). */
export const HELPER_ARITY: Record<string, number> = { money: 2, date: 1, default: 2, percent: 1 };

export interface TemplateProblem {
  message: string;
  line: number | null;
  column: number | null;
}

export interface CheckContext {
  knownHelpers: ReadonlySet<string>;
  knownPartials: ReadonlySet<string>;
}

function where(node: Node): { line: number | null; column: number | null } {
  return node.loc ? { line: node.loc.start.line, column: node.loc.start.column + 1 } : { line: null, column: null };
}

function simpleName(path: Expression): string | null {
  if (path.type !== 'PathExpression') return null;
  const p = path as hbs.AST.PathExpression;
  return !p.data && p.depth === 0 && p.parts.length === 1 ? p.parts[0] : null;
}

function children(node: Node): Node[] {
  const n = node as unknown as Record<string, unknown>;
  const list: Node[] = [];
  for (const key of ['body', 'params', 'program', 'inverse', 'hash', 'pairs', 'value', 'path']) {
    const value = n[key];
    if (Array.isArray(value)) list.push(...(value as Node[]));
    else if (value && typeof value === 'object' && 'type' in value) list.push(value as Node);
  }
  return list;
}

/** The names of inline partials ({{#*inline "name"}}) a program defines. */
function inlinePartials(node: Node, found: Set<string>): Set<string> {
  if (node.type === 'DecoratorBlock') {
    const block = node as unknown as hbs.AST.BlockStatement;
    const name = block.params[0];
    if (simpleName(block.path) === 'inline' && name?.type === 'StringLiteral') found.add((name as hbs.AST.StringLiteral).value);
  }
  for (const child of children(node)) inlinePartials(child, found);
  return found;
}

function checkCall(node: hbs.AST.MustacheStatement | hbs.AST.BlockStatement | hbs.AST.SubExpression, context: CheckContext, problems: TemplateProblem[]): void {
  const callsHelper = node.type === 'SubExpression' || node.params.length > 0 || node.hash !== undefined;
  const name = simpleName(node.path);
  if (!callsHelper) return; // a plain {{path}} or {{#section}} is a data lookup
  if (name === null || !context.knownHelpers.has(name)) {
    const shown = name ?? (node.path as hbs.AST.PathExpression).original ?? node.path.type;
    problems.push({ message: `unknown helper "${shown}"; known helpers: ${[...context.knownHelpers].join(', ')}`, ...where(node) });
    return;
  }
  const arity = HELPER_ARITY[name];
  if (arity !== undefined && node.params.length !== arity) {
    problems.push({ message: `helper "${name}" takes ${arity} argument(s); got ${node.params.length}`, ...where(node) });
  }
}

function checkPartial(node: hbs.AST.PartialStatement | hbs.AST.PartialBlockStatement, known: ReadonlySet<string>, problems: TemplateProblem[]): void {
  const target = node.name as Expression;
  const name = target.type === 'PathExpression' ? (target as hbs.AST.PathExpression).original
    : target.type === 'StringLiteral' ? (target as hbs.AST.StringLiteral).value : null;
  if (name === null) {
    problems.push({ message: 'dynamic partial names cannot be checked at start-up; name the partial', ...where(node) });
  } else if (name !== '@partial-block' && !known.has(name)) {
    problems.push({ message: `unknown partial "${name}"; known partials: ${[...known].join(', ') || '(none)'}`, ...where(node) });
  }
}

function visit(node: Node, context: CheckContext, problems: TemplateProblem[]): void {
  switch (node.type) {
    case 'MustacheStatement':
    case 'BlockStatement':
    case 'SubExpression':
      checkCall(node as hbs.AST.MustacheStatement, context, problems);
      break;
    case 'PartialStatement':
    case 'PartialBlockStatement':
      checkPartial(node as hbs.AST.PartialStatement, context.knownPartials, problems);
      break;
    case 'Decorator':
      problems.push({ message: 'decorators are not supported', ...where(node) });
      return;
    case 'DecoratorBlock':
      if (simpleName((node as unknown as hbs.AST.BlockStatement).path) !== 'inline') {
        problems.push({ message: 'only {{#*inline "name"}} decorators are supported', ...where(node) });
        return;
      }
      break;
  }
  for (const child of children(node)) visit(child, context, problems);
}

/** Problems in one parsed template, in source order. */
export function checkTemplate(ast: hbs.AST.Program, context: CheckContext): TemplateProblem[] {
  const knownPartials = new Set([...context.knownPartials, ...inlinePartials(ast, new Set())]);
  const problems: TemplateProblem[] = [];
  visit(ast, { knownHelpers: context.knownHelpers, knownPartials }, problems);
  return problems;
}
