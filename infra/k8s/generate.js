#!/usr/bin/env node
/**
 * The files of infra/k8s derived from others, so they never drift (a unit test checks they are
 * current): the PrometheusRule of the production overlay from infra/observability/alerts.yaml,
 * and the ConfigMap kairos-config from a config folder (rules, segments, campaigns, templates; the
 * checkout's config/ by default), plus the renderer's templates volume: a ConfigMap key cannot
 * hold a "/", so each template file gets a flat key and the volume's `items` put it back at its
 * path under TEMPLATES_DIR.
 *
 *   node infra/k8s/generate.js                       rewrites base/kairos-config.yaml and
 *                                                    base/renderer-templates.patch.yaml from config/,
 *                                                    overlays/production/prometheusrule.yaml
 *   node infra/k8s/generate.js --config DIR --out OVERLAY
 *                                                    writes OVERLAY/kairos-config.patch.yaml and
 *                                                    OVERLAY/renderer-templates.patch.yaml (JSON
 *                                                    patches: list both under the overlay's
 *                                                    `patches`, docs/deployment.md)
 *
 */
const { readdirSync, readFileSync, writeFileSync } = require('node:fs');
const { join, relative, resolve } = require('node:path');
const YAML = require('yaml');

const ROOT = resolve(__dirname, '..', '..');
const BASE = join(__dirname, 'base');
const HEADER = '# Written by infra/k8s/generate.js; do not edit by hand.\n';

function walk(dir) {
  return readdirSync(dir, { withFileTypes: true })
    .flatMap((entry) => (entry.isDirectory() ? walk(join(dir, entry.name)) : [join(dir, entry.name)]))
    .sort();
}

/** The ConfigMap's data (file name -> text) and the templates volume's items (key -> path under templates/). */
function configData(configDir) {
  const data = {};
  const items = [];
  for (const file of walk(configDir)) {
    const path = relative(configDir, file).split('\\').join('/');
    const key = path.split('/').join('.');
    if (!/^[-._a-zA-Z0-9]+$/.test(key)) throw new Error(`${file}: a ConfigMap key allows letters, digits, "-", "_" and "." only; rename the file`);
    if (key in data) throw new Error(`${file}: two files map to the ConfigMap key ${key}; rename one`);
    data[key] = readFileSync(file, 'utf8');
    if (path.startsWith('templates/')) items.push({ key, path: path.slice('templates/'.length) });
  }
  return { data, items };
}

const TEMPLATES_DIR = '/etc/kairos/templates';

function baseFiles(configDir) {
  const { data, items } = configData(configDir);
  const configMap = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'kairos-config' }, data };
  const patch = [
    { op: 'add', path: '/spec/template/spec/volumes/-', value: { name: 'templates', configMap: { name: 'kairos-config', items } } },
    { op: 'add', path: '/spec/template/spec/containers/0/volumeMounts/-', value: { name: 'templates', mountPath: TEMPLATES_DIR, readOnly: true } },
    { op: 'add', path: '/spec/template/spec/containers/0/env/-', value: { name: 'TEMPLATES_DIR', value: TEMPLATES_DIR } },
  ];
  return { 'kairos-config.yaml': configMap, 'renderer-templates.patch.yaml': patch };
}

/** The alert rules as a Prometheus Operator PrometheusRule (the rule file's groups as its spec). */
function prometheusRule(alertsFile = join(ROOT, 'infra', 'observability', 'alerts.yaml')) {
  const { groups } = YAML.parse(readFileSync(alertsFile, 'utf8'));
  return { apiVersion: 'monitoring.coreos.com/v1', kind: 'PrometheusRule', metadata: { name: 'kairos' }, spec: { groups } };
}

function overlayFiles(configDir) {
  const { data, items } = configData(configDir);
  // The base patch appends the templates volume after the renderer's own volumes.
  const renderer = YAML.parseAllDocuments(readFileSync(join(BASE, 'renderer.yaml'), 'utf8')).map((d) => d.toJS()).find((d) => d.kind === 'Deployment');
  const index = renderer.spec.template.spec.volumes.length;
  return {
    'kairos-config.patch.yaml': [{ op: 'replace', path: '/data', value: data }],
    'renderer-templates.patch.yaml': [{ op: 'replace', path: `/spec/template/spec/volumes/${index}/configMap/items`, value: items }],
  };
}

function write(dir, files) {
  for (const [name, value] of Object.entries(files)) {
    writeFileSync(join(dir, name), HEADER + YAML.stringify(value, { lineWidth: 0, blockQuote: 'literal' }));
  }
  return Object.keys(files).map((name) => join(dir, name));
}

module.exports = { baseFiles, overlayFiles, prometheusRule, configData, HEADER, BASE };

if (require.main === module) {
  const args = process.argv.slice(2);
  const option = (name) => {
    const i = args.indexOf(name);
    return i >= 0 ? args[i + 1] : undefined;
  };
  try {
    const configDir = resolve(option('--config') ?? join(ROOT, 'config'));
    const out = option('--out');
    const written =
      out === undefined
        ? [...write(BASE, baseFiles(configDir)), ...write(join(__dirname, 'overlays', 'production'), { 'prometheusrule.yaml': prometheusRule() })]
        : write(resolve(out), overlayFiles(configDir));
    process.stdout.write(`generate: wrote ${written.map((f) => relative(process.cwd(), f)).join(', ')} from ${configDir}\n`);
  } catch (error) {
    process.stderr.write(`generate: ${error.message}\n`);
    process.exit(1);
  }
}
