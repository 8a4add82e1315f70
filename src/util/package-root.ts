// Where an installed npm package lives: the face networks we run ship inside packages (nothing is downloaded).
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

/**
 * The root folder of an installed package, found as Node finds a bare import from this file. (Not through
 * `require.resolve('<package>/package.json')`: @vladmandic/human's `exports` do not include its package.json.)
 */
export function packageRoot(name: string): string {
  const require = createRequire(import.meta.url);
  for (const dir of require.resolve.paths(name) ?? []) {
    const manifest = join(dir, name, 'package.json');
    if (existsSync(manifest)) return dirname(manifest);
  }
  throw new Error(`package ${name} is not installed (npm ci installs it)`);
}
