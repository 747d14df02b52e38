/**
 * infra/k8s: every kustomization renders (with the test's kustomize, and with kubectl's where
 * kubectl is installed), every object passes the Kubernetes schema of kubernetes-models (KEDA's
 * and the Prometheus Operator's for their resources), and the manifests hold what the services
 * need: probes on their port, requests and limits, a PodDisruptionBudget, config files that
 * exist where the variables point, secrets from the Secret, only variables the service reads, a
 * grace period above the shutdown bound, autoscaling capped at the partition count.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, parseAllDocuments } from 'yaml';
import { SHUTDOWN_TIMEOUT_MS } from '../../../services/kit/lifecycle';
import {
  containersOf, defaultOf, envProblems, K8S_DIR, kustomizations, kustomize, podSpecOf, ROOT, serviceNames, SHAPES, yamlDocuments,
  type Container, type K8sObject,
} from '../../support/deploy';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const generate = require('../../../infra/k8s/generate.js') as {
  baseFiles(configDir: string): Record<string, unknown>;
  prometheusRule(): unknown;
  HEADER: string;
};

/** The kubernetes-models class of an object's apiVersion and kind, required from its package. */
function modelOf(o: K8sObject): { new (data: unknown): { validate(): void } } {
  const [group, version] = o.apiVersion.includes('/') ? o.apiVersion.split('/') : ['', o.apiVersion];
  const module =
    group === 'keda.sh' ? `@kubernetes-models/keda/keda.sh/${version}/${o.kind}`
    : group === 'monitoring.coreos.com' ? `@kubernetes-models/prometheus-operator/monitoring.coreos.com/${version}/${o.kind}`
    : `kubernetes-models/${group === '' ? '' : `${group}/`}${version}/${o.kind}`;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return (require(module) as Record<string, { new (data: unknown): { validate(): void } }>)[o.kind];
}

function hasKubectl(): boolean {
  try {
    execFileSync('kubectl', ['version', '--client'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const rendered = kustomizations().map(({ name, dir }) => ({ name, dir, objects: kustomize(dir) }));
const base = rendered.find((r) => r.name === 'base')!.objects;
const production = rendered.find((r) => r.name === 'overlays/production')!.objects;
const byKind = (objects: K8sObject[], kind: string) => objects.filter((o) => o.kind === kind);
const secretKeys = new Set(Object.keys((yamlDocuments(join(K8S_DIR, 'overlays/production/secret.example.yaml'))[0] as { stringData: Record<string, string> }).stringData));
/** The service (or tool) a container runs: the image's arguments. */
const runs = (c: Container) => (c.args ?? []).join(' ');

describe.each(rendered)('infra/k8s/$name', ({ objects }) => {
  it('renders objects that each pass their Kubernetes schema', () => {
    expect(objects.length).toBeGreaterThan(10);
    const failures: string[] = [];
    for (const o of objects) {
      try {
        new (modelOf(o))(o).validate();
      } catch (error) {
        failures.push(`${o.kind}/${o.metadata.name}: ${(error as Error).message}`);
      }
    }
    expect(failures).toEqual([]);
  });

  it('has unique names per kind, and refers only to ConfigMaps it defines and to keys of the Secret kairos-secrets', () => {
    const names = objects.map((o) => `${o.kind}/${o.metadata.name}`);
    expect(names.length).toBe(new Set(names).size);
    const configMaps = new Map(byKind(objects, 'ConfigMap').map((o) => [o.metadata.name, o as K8sObject & { data: Record<string, string> }]));
    const problems: string[] = [];
    for (const o of objects) {
      for (const c of containersOf(o)) {
        for (const from of c.envFrom ?? []) if (from.configMapRef && !configMaps.has(from.configMapRef.name)) problems.push(`${o.metadata.name}: no ConfigMap ${from.configMapRef.name}`);
        for (const e of c.env ?? []) {
          const ref = e.valueFrom?.secretKeyRef;
          if (ref && (ref.name !== 'kairos-secrets' || !secretKeys.has(ref.key))) problems.push(`${o.metadata.name}: ${e.name} from secret ${ref.name}/${ref.key}, not a key of secret.example.yaml`);
        }
      }
      for (const v of podSpecOf(o)?.volumes ?? []) {
        const cm = v.configMap as { name: string; items?: Array<{ key: string }> } | undefined;
        if (!cm) continue;
        const data = configMaps.get(cm.name)?.data;
        if (!data) problems.push(`${o.metadata.name}: volume ${String(v.name)} from unknown ConfigMap ${cm.name}`);
        for (const item of cm.items ?? []) if (data && !(item.key in data)) problems.push(`${o.metadata.name}: ${cm.name} has no key ${item.key}`);
      }
    }
    expect(problems).toEqual([]);
  });

  it('sets only variables the service in the container reads, with values its configuration accepts', () => {
    const configMaps = new Map(byKind(objects, 'ConfigMap').map((o) => [o.metadata.name, (o as unknown as { data: Record<string, string> }).data]));
    const problems: string[] = [];
    for (const o of objects) {
      for (const c of containersOf(o)) {
        const shape = SHAPES[runs(c)];
        if (!shape) {
          problems.push(`${o.metadata.name}: runs "${runs(c)}", which is neither a service nor a known tool`);
          continue;
        }
        const env: Record<string, string | undefined> = {};
        for (const from of c.envFrom ?? []) Object.assign(env, configMaps.get(from.configMapRef?.name ?? '') ?? {});
        for (const e of c.env ?? []) env[e.name] = e.value;
        problems.push(...envProblems(`${o.metadata.name} (${runs(c)})`, shape, env));
      }
    }
    expect(problems).toEqual([]);
  });

  it('gives the data-file variables paths that a mounted ConfigMap fills', () => {
    const problems: string[] = [];
    for (const o of byKind(objects, 'Deployment')) {
      const spec = podSpecOf(o)!;
      for (const c of spec.containers) {
        const mounts = (c.volumeMounts as Array<{ name: string; mountPath: string }> | undefined) ?? [];
        for (const e of c.env ?? []) {
          if (!/_(FILE|DIR)$/.test(e.name) || e.value === undefined) continue;
          const mount = mounts.find((m) => e.value === m.mountPath || e.value!.startsWith(`${m.mountPath}/`));
          const volume = spec.volumes?.find((v) => v.name === mount?.name) as { configMap?: { items?: Array<{ path: string }> } } | undefined;
          const inside = mount ? e.value.slice(mount.mountPath.length + 1) : '';
          const paths = volume?.configMap?.items?.map((i) => i.path) ?? [];
          const found = e.name.endsWith('_DIR') ? inside === '' && paths.length > 0 : paths.includes(inside);
          if (!found) problems.push(`${o.metadata.name}: ${e.name}=${e.value} is not a file of a mounted ConfigMap`);
        }
      }
    }
    expect(problems).toEqual([]);
  });
});

describe('the Deployments of infra/k8s/base', () => {
  const deployments = byKind(base, 'Deployment');

  it('run every service of services/ and nothing else', () => {
    expect(deployments.map((d) => containersOf(d)[0].args?.[0]).sort()).toEqual(serviceNames());
  });

  it.each(serviceNames())('%s: probes /healthz and /readyz on its HTTP_PORT, with requests, a memory limit and a PodDisruptionBudget', (service) => {
    const d = deployments.find((o) => containersOf(o)[0].args?.[0] === service)!;
    const c = containersOf(d)[0] as Container & Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
    const port = Number(c.env?.find((e) => e.name === 'HTTP_PORT')?.value);
    expect(port).toBe(defaultOf(SHAPES[service], 'HTTP_PORT'));
    expect(c.ports).toEqual([{ name: 'http', containerPort: port }]);
    expect(c.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'http' });
    expect(c.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'http' });
    expect(c.startupProbe.httpGet).toEqual({ path: '/healthz', port: 'http' });
    // Start-up waits up to KAFKA_CONNECT_TIMEOUT (2 min) for a broker before it listens.
    expect(c.startupProbe.periodSeconds * c.startupProbe.failureThreshold).toBeGreaterThan(120);
    expect(c.resources.requests.cpu).toMatch(/^\d+m$/);
    expect(c.resources.requests.memory).toMatch(/^\d+Mi$/);
    expect(c.resources.limits.memory).toMatch(/^\d+Mi$/);
    expect(parseInt(c.resources.limits.memory, 10)).toBeGreaterThan(parseInt(c.resources.requests.memory, 10));
    const pdb = byKind(base, 'PodDisruptionBudget').find((p) => (p.spec as any).selector.matchLabels['app.kubernetes.io/name'] === d.metadata.name); // eslint-disable-line @typescript-eslint/no-explicit-any
    expect(pdb).toBeDefined();
    expect((d.spec as any).template.metadata.labels['app.kubernetes.io/name']).toBe(d.metadata.name); // eslint-disable-line @typescript-eslint/no-explicit-any
    expect(c.env?.find((e) => e.name === 'HTTP_HOST')?.value).toBe('0.0.0.0');
    expect(c.env?.find((e) => e.name === 'HTTP_AUTH_TOKEN')?.valueFrom?.secretKeyRef?.key).toBe(`${service}-http-token`);
  });

  it('request the resources of docs/sizing.md, "Resources" (the measured figures)', () => {
    const section = readFileSync(join(ROOT, 'docs/sizing.md'), 'utf8').split('## Resources')[1].split('\n## ')[0];
    const rows = section.split('\n').filter((l) => /^\| [a-z]+ \| \d+m \|/.test(l)).map((l) => l.split('|').slice(1, 5).map((c) => c.trim()));
    const documented = Object.fromEntries(rows.map(([service, cpu, memory, limit]) => [service, { cpu, memory, limit }]));
    const manifests = Object.fromEntries(deployments.map((d) => {
      const r = (containersOf(d)[0] as Container & { resources: { requests: { cpu: string; memory: string }; limits: { memory: string } } }).resources;
      return [containersOf(d)[0].args?.[0], { cpu: r.requests.cpu, memory: r.requests.memory, limit: r.limits.memory }];
    }));
    expect(manifests).toEqual(documented);
  });

  it('give pods longer to stop than the services take at most (SHUTDOWN_TIMEOUT_MS) plus a preStop pause', () => {
    for (const d of deployments) {
      const spec = podSpecOf(d)! as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
      const preStop = Number(spec.containers[0].lifecycle?.preStop?.exec?.command?.[1] ?? 0);
      expect({ name: d.metadata.name, enough: spec.terminationGracePeriodSeconds * 1000 >= SHUTDOWN_TIMEOUT_MS + preStop * 1000 + 5000 }).toEqual({ name: d.metadata.name, enough: true });
    }
  });

  it('run as a non-root user without privileges, on a read-only root file system', () => {
    for (const o of [...deployments, ...byKind(base, 'Job')]) {
      const spec = podSpecOf(o)! as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
      expect({ name: o.metadata.name, runAsNonRoot: spec.securityContext.runAsNonRoot, ...spec.containers[0].securityContext }).toEqual({
        name: o.metadata.name, runAsNonRoot: true, allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] },
      });
    }
  });
});

describe('the autoscaling of infra/k8s/overlays/production', () => {
  const scaled = byKind(production, 'ScaledObject') as Array<K8sObject & { spec: any }>; // eslint-disable-line @typescript-eslint/no-explicit-any
  const provision = containersOf(byKind(production, 'Job')[0])[0];
  const partitions = Number(provision.env?.find((e) => e.name === 'KAFKA_PARTITIONS')?.value);
  // The consumer services: those with a consumer group of their own (console reads without committing).
  const consumers = serviceNames().filter((s) => s !== 'console' && 'GROUP_ID' in SHAPES[s]);

  it('scales every consumer service on its own consumer group and input topic, capped at the partition count', () => {
    expect(scaled.map((s) => s.spec.scaleTargetRef.name).sort()).toEqual(consumers.map((s) => `kairos-${s}`).sort());
    for (const s of scaled) {
      const service = s.spec.scaleTargetRef.name.replace(/^kairos-/, '');
      const [trigger] = s.spec.triggers;
      expect(trigger.type).toBe('kafka');
      expect(trigger.metadata.consumerGroup).toBe(defaultOf(SHAPES[service], 'GROUP_ID'));
      const topics = ['TOPIC_BEHAVIOR_EVENTS', 'TOPIC_TRIGGERS'].map((v) => defaultOf(SHAPES[service], v));
      expect(topics).toContain(trigger.metadata.topic);
      expect(trigger.metadata.allowIdleConsumers).toBe('false');
      expect(trigger.metadata.bootstrapServersFromEnv).toBe('KAFKA_BROKERS');
      expect(s.spec.maxReplicaCount).toBe(partitions);
      expect(s.spec.minReplicaCount).toBeGreaterThanOrEqual(2);
    }
  });
});

describe('the files infra/k8s/generate.js writes', () => {
  const written = (file: string) => parse(readFileSync(join(K8S_DIR, file), 'utf8'));

  it('are current: kairos-config holds config/ and the renderer mounts every template at its path', () => {
    const files = generate.baseFiles(join(ROOT, 'config'));
    for (const [name, content] of Object.entries(files)) expect({ name, content: written(join('base', name)) }).toEqual({ name, content });
    expect(readFileSync(join(K8S_DIR, 'base', 'kairos-config.yaml'), 'utf8').startsWith(generate.HEADER)).toBe(true);
  });

  it('are current: the PrometheusRule holds the groups of infra/observability/alerts.yaml', () => {
    expect(written('overlays/production/prometheusrule.yaml')).toEqual(generate.prometheusRule());
  });
});

(hasKubectl() ? describe : describe.skip)('kubectl kustomize (where kubectl is installed)', () => {
  it.each(kustomizations())('renders $name as the test does', ({ dir }) => {
    const out = execFileSync('kubectl', ['kustomize', dir], { encoding: 'utf8' });
    const theirs = parseAllDocuments(out).map((d) => d.toJS() as K8sObject);
    const key = (o: K8sObject) => `${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`;
    const ours = kustomize(dir);
    expect(new Map(theirs.map((o) => [key(o), o]))).toEqual(new Map(ours.map((o) => [key(o), o])));
  });
});
