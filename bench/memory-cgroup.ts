/**
 * Runs a measured service under the memory limit its Kubernetes manifest gives it, as a pod
 * would: in a memory cgroup of its own (Linux, cgroup v1 or v2, where this process may create
 * one, e.g. as root). Node sizes its heap from the cgroup's limit at start-up (`process.
 * constrainedMemory()`: a 448 MiB limit gives a heap limit of about 259 MB, against about
 * 4,300 MB on a 24 GB machine without one), so RSS measured without the limit shows a lazier
 * garbage collector than a pod runs, and says nothing about whether the service fits its limit.
 *
 * Pure parts (what /proc/self/cgroup and a manifest say) are exported for the unit tests; the
 * rest is a thin layer over the cgroup file system.
 */
import { mkdirSync, readFileSync, readdirSync, rmdirSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';

/** Where this process's memory cgroup lives, and which interface it has. */
export interface MemoryCgroupRoot {
  version: 1 | 2;
  /** The directory of this process's own memory cgroup; limited children are made inside it. */
  dir: string;
}

/**
 * This process's memory cgroup from /proc/self/cgroup's text: cgroup v1's `memory` line under
 * `<mount>/memory`, else the v2 line (`0::/path`) under `<mount>` when `v2Controllers` (the
 * text of its cgroup.controllers) offers `memory`. Null when neither applies.
 */
export function memoryCgroupOf(procSelfCgroup: string, v2Controllers: string | null, mount = '/sys/fs/cgroup'): MemoryCgroupRoot | null {
  for (const line of procSelfCgroup.split('\n')) {
    const [, controllers, path] = /^\d+:([^:]*):(.*)$/.exec(line.trim()) ?? [];
    if (controllers?.split(',').includes('memory')) return { version: 1, dir: join(mount, 'memory', path) };
  }
  const unified = /^0::(.*)$/m.exec(procSelfCgroup)?.[1];
  if (unified !== undefined && v2Controllers?.split(/\s+/).includes('memory')) return { version: 2, dir: join(mount, unified) };
  return null;
}

const UNITS: Record<string, number> = { '': 1, Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3, K: 1000, M: 1000 ** 2, G: 1000 ** 3 };

/** A Kubernetes memory quantity ("448Mi", "1Gi", "500M", "1048576") in bytes; throws on anything else. */
export function memoryQuantityBytes(quantity: string): number {
  const match = /^(\d+)(Ki|Mi|Gi|K|M|G)?$/.exec(quantity.trim());
  if (match === null) throw new Error(`memory quantity "${quantity}": expected a whole number with an optional unit Ki, Mi, Gi, K, M or G`);
  return Number(match[1]) * UNITS[match[2] ?? ''];
}

/**
 * The memory limit of each Deployment's container in a manifest's YAML text, by the service the
 * container runs (its first argument, as infra/k8s/base's Deployments name it).
 */
export function manifestMemoryLimits(yamlText: string): Map<string, number> {
  const limits = new Map<string, number>();
  for (const doc of parseAllDocuments(yamlText)) {
    const object = doc.toJS() as { kind?: string; spec?: { template?: { spec?: { containers?: Array<{ args?: string[]; resources?: { limits?: { memory?: string } } }> } } } } | null;
    if (object?.kind !== 'Deployment') continue;
    for (const container of object.spec?.template?.spec?.containers ?? []) {
      const service = container.args?.[0];
      const memory = container.resources?.limits?.memory;
      if (service !== undefined && memory !== undefined) limits.set(service, memoryQuantityBytes(String(memory)));
    }
  }
  return limits;
}

/** Every service's memory limit in the Deployments of a manifest folder (infra/k8s/base), in bytes. */
export function manifestsMemoryLimits(dir: string): Map<string, number> {
  const limits = new Map<string, number>();
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.yaml'))) {
    for (const [service, bytes] of manifestMemoryLimits(readFileSync(join(dir, file), 'utf8'))) limits.set(service, bytes);
  }
  return limits;
}

/** The OOM kills a cgroup recorded: v1 `memory.oom_control`'s and v2 `memory.events`' `oom_kill` line (0 when absent). */
export function oomKillsOf(text: string): number {
  return Number(/^oom_kill (\d+)$/m.exec(text)?.[1] ?? 0);
}

/** A memory cgroup made for one measured process. */
export interface LimitedCgroup {
  /** Write a pid here to move that process in. */
  procsFile: string;
  limitBytes: number;
  /** OOM kills inside it so far. */
  oomKills(): number;
  /** Removes it (once its processes have exited); errors are ignored. */
  remove(): void;
}

/** This process's memory cgroup, if it can make children with a limit in it; else why not. */
export function writableMemoryCgroup(): MemoryCgroupRoot | string {
  let root: MemoryCgroupRoot | null;
  try {
    const v2 = existsSync('/sys/fs/cgroup/cgroup.controllers') ? readFileSync('/sys/fs/cgroup/cgroup.controllers', 'utf8') : null;
    root = memoryCgroupOf(readFileSync('/proc/self/cgroup', 'utf8'), v2);
  } catch (error) {
    return `no /proc/self/cgroup (${(error as Error).message})`;
  }
  if (root === null) return 'no memory cgroup controller for this process';
  const probe = join(root.dir, `kairos-probe-${process.pid}`);
  try {
    mkdirSync(probe);
    rmdirSync(probe);
    return root;
  } catch (error) {
    return `cannot create a cgroup in ${root.dir} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}; run as root with the cgroup file system writable)`;
  }
}

/** Makes `<root>/<name>` with a memory limit of `limitBytes` (no swap beyond it where the kernel allows setting that). */
export function limitedCgroup(root: MemoryCgroupRoot, name: string, limitBytes: number): LimitedCgroup {
  const dir = join(root.dir, name);
  mkdirSync(dir);
  if (root.version === 1) {
    writeFileSync(join(dir, 'memory.limit_in_bytes'), String(limitBytes));
  } else {
    writeFileSync(join(dir, 'memory.max'), String(limitBytes));
    try {
      writeFileSync(join(dir, 'memory.swap.max'), '0');
    } catch {
      // no swap accounting: nothing to limit
    }
  }
  const eventsFile = join(dir, root.version === 1 ? 'memory.oom_control' : 'memory.events');
  return {
    procsFile: join(dir, 'cgroup.procs'),
    limitBytes,
    oomKills: () => {
      try {
        return oomKillsOf(readFileSync(eventsFile, 'utf8'));
      } catch {
        return 0;
      }
    },
    remove: () => {
      try {
        rmdirSync(dir);
      } catch {
        // still busy or already gone: nothing the measurement depends on
      }
    },
  };
}

/**
 * The command that starts `argv` inside the cgroup whose `cgroup.procs` is `procsFile`: a shell
 * moves itself in, then becomes the program, so the process starts (and Node sizes its heap)
 * under the limit. Exits non-zero, with the shell's message, when it cannot move in.
 */
export function commandInCgroup(procsFile: string, argv: string[]): { command: string; args: string[] } {
  return { command: '/bin/sh', args: ['-c', 'echo $$ > "$0" && exec "$@"', procsFile, ...argv] };
}
