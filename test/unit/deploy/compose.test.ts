/**
 * infra/compose/compose.yaml runs what `make up` and `make start` run, the same way (no Docker
 * engine here to run it): the same components on the same host ports (infra/stack.sh), the
 * broker and registry settings of infra/kafka/server.properties.in and infra/stack.sh, the
 * emulator of package.json, the provision tool and every service with its own command on its
 * default port, infra/local.env's settings, and only variables each service reads.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { defaultOf, envProblems, ROOT, serviceNames, SHAPES, yamlDocuments } from '../../support/deploy';

interface ComposeService {
  image: string;
  build?: { context: string; dockerfile: string };
  command?: string[];
  ports?: string[];
  environment?: Record<string, string>;
  healthcheck?: { test: string[] };
  depends_on?: Record<string, { condition: string }>;
}

const compose = yamlDocuments(join(ROOT, 'infra/compose/compose.yaml'))[0] as { services: Record<string, ComposeService> };
const services = compose.services;
const stackSh = readFileSync(join(ROOT, 'infra/stack.sh'), 'utf8');
const packageJson = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { devDependencies: Record<string, string> };

/** `${NAME:-default}` as Compose interpolates it with NAME unset. */
const interpolated = (value: string) => value.replace(/\$\{[A-Z_]+:-([^}]*)\}/g, '$1');
const envOf = (s: ComposeService) => Object.fromEntries(Object.entries(s.environment ?? {}).map(([k, v]) => [k, interpolated(String(v))]));
/** `127.0.0.1:HOST:CONTAINER` -> [host, container]. */
const published = (s: ComposeService) => (s.ports ?? []).map((p) => {
  const m = /^127\.0\.0\.1:(\d+):(\d+)$/.exec(p);
  if (m === null) throw new Error(`port ${p} is not published on 127.0.0.1 only, as make up listens on loopback`);
  return [Number(m[1]), Number(m[2])];
});
/** The default port infra/stack.sh gives a component (`KAFKA_PORT=${KAFKA_PORT:-9092}`). */
const stackPort = (variable: string) => Number(new RegExp(`^${variable}=\\$\\{${variable}:-(\\d+)\\}`, 'm').exec(stackSh)?.[1]);
/** KEY=VALUE lines of infra/local.env (`${VAR:-value}` read as value). */
const localEnv = Object.fromEntries(
  readFileSync(join(ROOT, 'infra/local.env'), 'utf8').split('\n').filter((l) => /^[A-Z_]+=/.test(l)).map((l) => {
    const [k, ...rest] = l.split('=');
    return [k, interpolated(rest.join('='))];
  }),
);
const kairos = serviceNames();

describe('infra/compose/compose.yaml', () => {
  it('runs the stack of make up, a provision job and every service of make start, and nothing else', () => {
    expect(Object.keys(services).sort()).toEqual(['kafka', 'registry', 'redis', 'ses', 'provision', ...kairos].sort());
  });

  it('publishes the components on the ports of infra/stack.sh', () => {
    expect(published(services.kafka)).toEqual([[stackPort('KAFKA_PORT'), stackPort('KAFKA_PORT')]]);
    expect(published(services.registry)[0][0]).toBe(stackPort('REGISTRY_PORT'));
    expect(published(services.redis)).toEqual([[stackPort('REDIS_PORT'), stackPort('REDIS_PORT')]]);
    expect(published(services.ses)).toEqual([[stackPort('SES_PORT'), stackPort('SES_PORT')]]);
  });

  it('configures the broker as infra/kafka/server.properties.in (the listeners aside: containers need their own)', () => {
    const properties = readFileSync(join(ROOT, 'infra/kafka/server.properties.in'), 'utf8').split('\n').filter((l) => /^[a-z]/.test(l)).map((l) => l.split('='));
    const networking = new Set(['listeners', 'advertised.listeners', 'controller.quorum.voters', 'listener.security.protocol.map', 'log.dirs']);
    const env = envOf(services.kafka);
    const expected = Object.fromEntries(properties.filter(([k]) => !networking.has(k)).map(([k, v]) => [`KAFKA_${k.toUpperCase().replace(/\./g, '_')}`, v]));
    expect(Object.fromEntries(Object.keys(expected).map((k) => [k, env[k]]))).toEqual(expected);
    expect(services.kafka.image).toBe(`apache/kafka:${/<kafka.version>(.*)<\/kafka.version>/.exec(readFileSync(join(ROOT, 'infra/kafka/pom.xml'), 'utf8'))?.[1]}`);
  });

  it('runs the registry, Redis and the emulator as infra/stack.sh does', () => {
    const apicurio = /APICURIO_VERSION=\$\{APICURIO_VERSION:-([^}]+)\}/.exec(stackSh)?.[1];
    expect(services.registry.image).toBe(`apicurio/apicurio-registry:${apicurio}`);
    const dOptions = [...stackSh.matchAll(/-Dapicurio\.([a-z.]+)=([a-z0-9]+)/g)].map(([, k, v]) => [`APICURIO_${k.toUpperCase().replace(/\./g, '_')}`, v]);
    expect(dOptions.length).toBeGreaterThan(0);
    expect(Object.fromEntries(dOptions)).toEqual(envOf(services.registry));
    expect(stackSh).toContain("--save '' --appendonly no");
    expect(services.redis.command).toEqual(['redis-server', '--save', '', '--appendonly', 'no']);
    expect(services.ses.command).toEqual(['npx', '--yes', `aws-ses-v2-local@${packageJson.devDependencies['aws-ses-v2-local']}`, '--host', '0.0.0.0', '--port', String(stackPort('SES_PORT'))]);
  });

  it('provisions as make up does (the provision tool), before any service starts', () => {
    expect(readFileSync(join(ROOT, 'Makefile'), 'utf8')).toContain('node dist/services/tools/provision.js');
    expect(services.provision.command).toEqual(['tool', 'provision']);
    for (const name of kairos) expect({ name, dependsOn: services[name].depends_on?.provision?.condition }).toEqual({ name, dependsOn: 'service_completed_successfully' });
  });

  it.each(kairos)('%s: runs from the Kairos image with its own command, on its default port, probed on /healthz', (name) => {
    const s = services[name];
    expect(s.image).toBe(services.provision.image);
    expect(s.build).toEqual({ context: '../..', dockerfile: 'Dockerfile' });
    expect(s.command).toEqual([name]);
    const port = defaultOf(SHAPES[name], 'HTTP_PORT');
    expect(envOf(s).HTTP_PORT).toBe(String(port));
    expect(published(s)).toEqual([[port, port]]);
    expect(s.healthcheck?.test.join(' ')).toContain("process.env.HTTP_PORT + '/healthz'");
  });

  it.each([...kairos, 'provision'])('%s: sets only variables it reads, with values it accepts', (name) => {
    const shape = SHAPES[name === 'provision' ? 'tool provision' : name];
    expect(envProblems(name, shape, envOf(services[name]))).toEqual([]);
  });

  it.each(kairos)("%s: has infra/local.env's settings that it reads, with the emulator at its container name", (name) => {
    const env = envOf(services[name]);
    for (const [variable, value] of Object.entries(localEnv)) {
      if (!(variable in SHAPES[name])) continue;
      const expected = variable === 'SES_ENDPOINT' ? value.replace('127.0.0.1', 'ses') : value;
      expect({ variable, value: env[variable] }).toEqual({ variable, value: expected });
    }
  });

  it('points the services at the containers of the stack', () => {
    for (const name of [...kairos, 'provision']) {
      const env = envOf(services[name]);
      expect({ name, brokers: env.KAFKA_BROKERS, registry: env.SCHEMA_REGISTRY_URL, redis: env.REDIS_URL }).toEqual({
        name, brokers: 'kafka:19092', registry: `http://registry:${published(services.registry)[0][1]}/apis/ccompat/v7`, redis: 'redis://redis:6379',
      });
    }
    expect(envOf(services.kafka).KAFKA_ADVERTISED_LISTENERS).toContain('PLAINTEXT://kafka:19092');
  });
});
