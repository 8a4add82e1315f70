#!/usr/bin/env node
// The installed command. It runs the compiled CLI (npm install builds dist/ through the `prepare` script).
import { readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { main } from '../dist/cli/main.js';

// In a checkout (src/ beside dist/), a source file edited after the last build means this command runs old code:
// say so, since the symptom (a change that seems to do nothing) is otherwise hard to read.
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
try {
  const built = statSync(join(root, 'dist', 'cli', 'main.js')).mtimeMs;
  const stale = readdirSync(join(root, 'src'), { recursive: true }).some((f) => String(f).endsWith('.ts') && statSync(join(root, 'src', String(f))).mtimeMs > built);
  if (stale) console.error('face-llava: warning: src/ has changes newer than dist/ — run `npm run build` to use them');
} catch {
  // An installed package has no src/: nothing to compare.
}

main(process.argv).catch((err) => {
  console.error(`face-llava: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
});
