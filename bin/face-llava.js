#!/usr/bin/env node
// The installed command. It runs the compiled CLI (npm install builds dist/ through the `prepare` script).
import { main } from '../dist/cli/main.js';

main(process.argv).catch((err) => {
  console.error(`face-llava: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
});
