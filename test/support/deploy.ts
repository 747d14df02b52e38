/**
 * What the deployment tests share: the configuration shape of each service and tool the image
 * runs (the source of truth for the variables a container may set), YAML loading, and a
 * renderer for the kustomize features infra/k8s uses (resources, namespace, labels, images,
 * replicas, JSON 6902 patches), so the manifests can be checked where no kubectl is installed.
 */
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import type { z } from 'zod';
import { consoleShape } from '../../services/console/config';
import { recommenderShape } from '../../services/recommender/main';
import { rendererShape } from '../../services/renderer/config';
import { resultsShape } from '../../services/results/main';
import { segmenterShape } from '../../services/segmenter/main';
import { trackerShape } from '../../services/tracker/config';
import { triggerShape } from '../../services/trigger/main';
import { provisionShape } from '../../services/tools/provision';

export const ROOT = join(__dirname, '..', '..');

/** Services: the folders of services/ with a main.ts (what `make start` and the image run). */
export function serviceNames(): string[] {
  return readdirSync(join(ROOT, 'services'))
    .filter((name) => existsSync(join(ROOT, 'services', name, 'main.ts')))
    .sort();
}

/** The variables each service (and the provision tool) reads, by the name the image runs it under. */
export const SHAPES: Record<string, z.ZodRawShape> = {
  segmenter: segmenterShape,
  trigger: triggerShape,
  renderer: rendererShape,
  tracker: trackerShape,
  recommender: recommenderShape,
  results: resultsShape,
  console: consoleShape,
  'tool provision': provisionShape,
};

/** The shape's default of `variable` (what the service uses when it is unset). */
export function defaultOf(shape: z.ZodRawShape, variable: string): unknown {
  const result = (shape[variable] as z.ZodType).safeParse(undefined);
  return result.success ? result.data : undefined;
}

/** Problems with `env` for `shape`: unknown names, or values the shape refuses (value-less entries, e.g. secret references, are checked by name only). */
export function envProblems(where: string, shape: z.ZodRawShape, env: Record<string, string | undefined>): string[] {
  const problems: string[] = [];
  for (const [name, value] of Object.entries(env)) {
    const schema = shape[name] as z.ZodType | undefined;
    if (schema === undefined) {
      problems.push(`${where}: ${name} is not a variable this service reads`);
      continue;
    }
    if (value !== undefined && !schema.safeParse(value).success) problems.push(`${where}: ${name}=${value} is refused by the service's configuration`);
  }
  return problems;
}

export type K8sObject = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> }; [key: string]: unknown };

/** Every document of a YAML file (merge keys `<<` resolved), failing on any parse error. */
export function yamlDocuments(file: string): unknown[] {
  return parseAllDocuments(readFileSync(file, 'utf8'), { merge: true }).map((doc) => {
    if (doc.errors.length > 0) throw new Error(`${file}: ${doc.errors.map((e) => e.message).join('; ')}`);
    return doc.toJS();
  }).filter((doc) => doc !== null && doc !== undefined);
}

type Patch = { op: 'add' | 'replace' | 'remove'; path: string; value?: unknown };

/** Applies RFC 6902 add/replace/remove (the operations the overlays use) to `target` in place. */
export function applyJsonPatch(target: unknown, patch: Patch[], where: string): void {
  for (const { op, path, value } of patch) {
    const parts = path.split('/').slice(1).map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
    const last = parts.pop() as string;
    let node = target as Record<string, unknown> | unknown[];
    for (const part of parts) {
      const next = Array.isArray(node) ? node[Number(part)] : node[part];
      if (next === undefined || next === null || typeof next !== 'object') throw new Error(`${where}: ${op} ${path}: no ${part}`);
      node = next as Record<string, unknown> | unknown[];
    }
    if (Array.isArray(node)) {
      const index = last === '-' ? node.length : Number(last);
      if (!Number.isInteger(index) || index < 0 || index > node.length - (op === 'add' ? 0 : 1)) throw new Error(`${where}: ${op} ${path}: index out of range`);
      if (op === 'add') node.splice(index, 0, structuredClone(value));
      else if (op === 'replace') node[index] = structuredClone(value);
      else node.splice(index, 1);
    } else {
      if (op !== 'add' && !(last in node)) throw new Error(`${where}: ${op} ${path}: no ${last}`);
      if (op === 'remove') delete node[last];
      else node[last] = structuredClone(value);
    }
  }
}

const KNOWN_FIELDS = new Set(['apiVersion', 'kind', 'resources', 'namespace', 'labels', 'images', 'replicas', 'patches']);

/**
 * `kubectl kustomize DIR` for the fields infra/k8s uses; anything else is an error, so a new
 * feature in a kustomization cannot pass here unchecked.
 */
export function kustomize(dir: string): K8sObject[] {
  const file = join(dir, 'kustomization.yaml');
  const k = yamlDocuments(file)[0] as Record<string, unknown>;
  for (const field of Object.keys(k)) if (!KNOWN_FIELDS.has(field)) throw new Error(`${file}: the test's kustomize does not know ${field}`);
  let objects: K8sObject[] = [];
  for (const resource of (k.resources as string[] | undefined) ?? []) {
    const path = join(dir, resource);
    objects.push(...(statSync(path).isDirectory() ? kustomize(path) : (yamlDocuments(path) as K8sObject[])));
  }
  for (const entry of (k.patches as Array<{ path?: string; patch?: string; target: { kind: string; name: string } }> | undefined) ?? []) {
    const ops = (entry.path ? yamlDocuments(join(dir, entry.path))[0] : parseAllDocuments(entry.patch as string)[0]?.toJS()) as Patch[];
    const targets = objects.filter((o) => o.kind === entry.target.kind && o.metadata.name === entry.target.name);
    if (targets.length !== 1) throw new Error(`${file}: patch target ${entry.target.kind}/${entry.target.name} matches ${targets.length} objects`);
    applyJsonPatch(targets[0], ops, `${file} ${entry.target.kind}/${entry.target.name}`);
  }
  for (const { name, count } of (k.replicas as Array<{ name: string; count: number }> | undefined) ?? []) {
    const target = objects.find((o) => o.kind === 'Deployment' && o.metadata.name === name);
    if (!target) throw new Error(`${file}: replicas for unknown Deployment ${name}`);
    (target.spec as { replicas: number }).replicas = count;
  }
  for (const image of (k.images as Array<{ name: string; newName?: string; newTag?: string }> | undefined) ?? []) {
    for (const container of objects.flatMap(containersOf)) {
      if (container.image === image.name) container.image = `${image.newName ?? image.name}${image.newTag ? `:${image.newTag}` : ''}`;
    }
  }
  for (const { pairs } of (k.labels as Array<{ pairs: Record<string, string> }> | undefined) ?? []) {
    for (const o of objects) o.metadata.labels = { ...o.metadata.labels, ...pairs };
  }
  if (typeof k.namespace === 'string') {
    objects = objects.map((o) => (o.kind === 'Namespace' ? o : { ...o, metadata: { ...o.metadata, namespace: k.namespace as string } }));
  }
  return objects;
}

export interface Container {
  name: string;
  image: string;
  args?: string[];
  env?: Array<{ name: string; value?: string; valueFrom?: { secretKeyRef?: { name: string; key: string }; configMapKeyRef?: { name: string; key: string } } }>;
  envFrom?: Array<{ configMapRef?: { name: string }; secretRef?: { name: string } }>;
  [key: string]: unknown;
}

/** The pod spec of a Deployment or Job (undefined for other kinds). */
export function podSpecOf(o: K8sObject): { containers: Container[]; volumes?: Array<Record<string, unknown>>; [key: string]: unknown } | undefined {
  if (o.kind !== 'Deployment' && o.kind !== 'Job') return undefined;
  return (o.spec as { template: { spec: ReturnType<typeof podSpecOf> } }).template.spec;
}

export function containersOf(o: K8sObject): Container[] {
  return podSpecOf(o)?.containers ?? [];
}

export const K8S_DIR = join(ROOT, 'infra', 'k8s');
export const OVERLAYS = readdirSync(join(K8S_DIR, 'overlays')).sort();
export const kustomizations = (): Array<{ name: string; dir: string }> => [
  { name: 'base', dir: join(K8S_DIR, 'base') },
  ...OVERLAYS.map((name) => ({ name: `overlays/${name}`, dir: join(K8S_DIR, 'overlays', name) })),
];

/** The metric names an expression selects (the Prometheus project's PromQL grammar). */
export function promqlMetricNames(expr: string): string[] {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { parser } = require('@prometheus-io/lezer-promql') as typeof import('@prometheus-io/lezer-promql');
  const names: string[] = [];
  parser.parse(expr).iterate({
    enter: (node) => {
      if (node.name !== 'VectorSelector') return;
      const identifier = node.node.getChild('Identifier');
      if (identifier) names.push(expr.slice(identifier.from, identifier.to));
    },
  });
  return names;
}

/** Every metric the alert rules and the Grafana dashboard (queries and variables) name, with where. */
export function observedMetrics(): Map<string, string[]> {
  const found = new Map<string, string[]>();
  const add = (expr: string, where: string) => {
    for (const name of promqlMetricNames(expr.replace(/\$__rate_interval/g, '5m').replace(/\$service/g, '.*'))) found.set(name, [...(found.get(name) ?? []), where]);
  };
  const alerts = yamlDocuments(join(ROOT, 'infra/observability/alerts.yaml'))[0] as { groups: Array<{ rules: Array<{ alert: string; expr: string }> }> };
  for (const rule of alerts.groups.flatMap((g) => g.rules)) add(rule.expr, `alert ${rule.alert}`);
  const dashboard = JSON.parse(readFileSync(join(ROOT, 'infra/observability/grafana-dashboard.json'), 'utf8')) as {
    panels: Array<{ title: string; targets?: Array<{ expr: string }> }>;
    templating: { list: Array<{ name: string; definition?: string }> };
  };
  for (const panel of dashboard.panels) for (const t of panel.targets ?? []) add(t.expr, `panel "${panel.title}"`);
  for (const variable of dashboard.templating.list) {
    const metric = /^label_values\(([a-zA-Z_:][a-zA-Z0-9_:]*),/.exec(variable.definition ?? '')?.[1];
    if (metric) found.set(metric, [...(found.get(metric) ?? []), `variable ${variable.name}`]);
  }
  return found;
}

/**
 * The series names a /metrics page (Prometheus text format) declares with `# TYPE`, with the
 * names a histogram or summary is queried by (_bucket, _sum, _count).
 */
export function exportedMetricNames(page: string): Set<string> {
  const names = new Set<string>();
  for (const [, name, type] of page.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    names.add(name);
    if (type === 'histogram') for (const suffix of ['_bucket', '_sum', '_count']) names.add(name + suffix);
    if (type === 'summary') for (const suffix of ['_sum', '_count']) names.add(name + suffix);
  }
  return names;
}
