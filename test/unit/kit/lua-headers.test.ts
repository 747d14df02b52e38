import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { luaDirOf } from '../../../services/kit/redis';

/** Every Lua script and include of the kit and the services. */
function luaFiles(): string[] {
  const files: string[] = [];
  for (const folder of ['kit', 'renderer', 'recommender']) {
    const dir = luaDirOf(folder);
    for (const sub of [dir, join(dir, 'includes')]) {
      let names: string[] = [];
      try {
        names = readdirSync(sub);
      } catch {
        continue;
      }
      for (const name of names) if (name.endsWith('.lua')) files.push(join(sub, name));
    }
  }
  return files;
}

describe('Lua script headers', () => {
  const files = luaFiles();

  it('finds the scripts', () => {
    expect(files.map((f) => f.split('/').pop())).toEqual(expect.arrayContaining(['applyPartitionChange-n.lua', 'reserveSend-4.lua', 'applyPopularity-n.lua']));
  });

  it.each(files.map((f) => [f.split('/services/')[1] ?? f, f]))('%s: the header comment ends on its own "]]" line', (_name, file) => {
    // A "]]" inside the header (e.g. a nested JSON example) would end the comment early and
    // leave the rest as code: the script would not compile on Redis.
    const text = readFileSync(file, 'utf8');
    if (!text.startsWith('--[[')) return;
    const end = text.indexOf(']]');
    expect(text.slice(text.lastIndexOf('\n', end) + 1, end + 2)).toBe(']]');
  });
});
