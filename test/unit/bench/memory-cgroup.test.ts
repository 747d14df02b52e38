import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { commandInCgroup, manifestMemoryLimits, manifestsMemoryLimits, memoryCgroupOf, memoryQuantityBytes, oomKillsOf } from '../../../bench/memory-cgroup';

const ROOT = join(__dirname, '..', '..', '..');

describe("make footprint's memory cgroups", () => {
  it("find this process's memory cgroup: v1's memory line, else v2's when it offers memory", () => {
    const v1 = '12:pids:/\n4:memory:/process_api/dd57\n0::/\n';
    expect(memoryCgroupOf(v1, null)).toEqual({ version: 1, dir: '/sys/fs/cgroup/memory/process_api/dd57' });
    expect(memoryCgroupOf('5:cpu,memory:/a\n', null)).toEqual({ version: 1, dir: '/sys/fs/cgroup/memory/a' });
    expect(memoryCgroupOf('0::/user.slice/x.scope\n', 'cpuset cpu io memory pids\n')).toEqual({ version: 2, dir: '/sys/fs/cgroup/user.slice/x.scope' });
    expect(memoryCgroupOf('0::/x\n', 'cpu io pids\n')).toBeNull();
    expect(memoryCgroupOf('0::/x\n', null)).toBeNull();
    expect(memoryCgroupOf('', 'memory')).toBeNull();
  });

  it('read Kubernetes memory quantities, and refuse what is not one', () => {
    expect(memoryQuantityBytes('448Mi')).toBe(448 * 1024 * 1024);
    expect(memoryQuantityBytes('1Gi')).toBe(1024 ** 3);
    expect(memoryQuantityBytes('500M')).toBe(500_000_000);
    expect(memoryQuantityBytes('1048576')).toBe(1048576);
    for (const bad of ['', '1.5Gi', '-1Mi', '448mi', '448 MiB', 'Mi']) expect(() => memoryQuantityBytes(bad)).toThrow(/expected a whole number with an optional unit/);
  });

  it("read each Deployment's limit by the service it runs, and nothing from other kinds", () => {
    const yaml = [
      'kind: ConfigMap\nmetadata: {name: x}\ndata: {a: b}',
      'kind: Deployment\nspec:\n  template:\n    spec:\n      containers:\n        - args: ["segmenter"]\n          resources: {requests: {memory: 160Mi}, limits: {memory: 448Mi}}',
      'kind: Job\nspec:\n  template:\n    spec:\n      containers:\n        - args: ["tool", "provision"]\n          resources: {limits: {memory: 256Mi}}',
    ].join('\n---\n');
    expect([...manifestMemoryLimits(yaml)]).toEqual([['segmenter', 448 * 1024 * 1024]]);
  });

  it("find a limit for every service the manifests deploy (what footprint applies)", () => {
    const limits = manifestsMemoryLimits(join(ROOT, 'infra', 'k8s', 'base'));
    expect([...limits.keys()].sort()).toEqual(['console', 'recommender', 'renderer', 'results', 'segmenter', 'tracker', 'trigger']);
    for (const bytes of limits.values()) expect(bytes).toBeGreaterThanOrEqual(128 * 1024 * 1024);
  });

  it('count OOM kills from memory.oom_control (v1) and memory.events (v2)', () => {
    expect(oomKillsOf('oom_kill_disable 0\nunder_oom 0\noom_kill 3\n')).toBe(3);
    expect(oomKillsOf('low 0\nhigh 0\nmax 12\noom 2\noom_kill 2\noom_group_kill 0\n')).toBe(2);
    expect(oomKillsOf('oom_kill_disable 0\nunder_oom 0\n')).toBe(0);
  });

  it('start the program through a shell that moves itself into the cgroup first', () => {
    expect(commandInCgroup('/cg/x/cgroup.procs', ['/usr/bin/node', '/app/main.js'])).toEqual({
      command: '/bin/sh',
      args: ['-c', 'echo $$ > "$0" && exec "$@"', '/cg/x/cgroup.procs', '/usr/bin/node', '/app/main.js'],
    });
  });

  it('run the program as the very process whose pid the shell wrote (exec keeps it), with its arguments', () => {
    const dir = mkdtempSync(join(tmpdir(), 'kairos-cg-'));
    try {
      const procs = join(dir, 'cgroup.procs');
      writeFileSync(procs, '');
      const { command, args } = commandInCgroup(procs, [process.execPath, '-e', 'console.log(process.pid, process.argv[1])', 'two words']);
      const run = spawnSync(command, args, { encoding: 'utf8' });
      expect(run.status).toBe(0);
      expect(run.stdout.trim()).toBe(`${readFileSync(procs, 'utf8').trim()} two words`);
      const refused = spawnSync(command, commandInCgroup(join(dir, 'missing', 'cgroup.procs'), [process.execPath, '-e', '']).args, { encoding: 'utf8' });
      expect(refused.status).not.toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
