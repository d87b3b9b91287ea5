// Bundles src/main.js into static/app.js: minified, no source map, ES2020,
// the same bytes for the same sources (make web-check compares them).
//
//   node build.mjs              writes static/app.js
//   node build.mjs --out FILE   writes FILE instead (make web-check)

import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const here = path.dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const at = args.indexOf('--out');
const outfile = at >= 0 && args[at + 1] ? path.resolve(args[at + 1]) : path.join(here, 'static', 'app.js');

await build({
  absWorkingDir: here,
  entryPoints: ['src/main.js'],
  outfile,
  bundle: true,
  format: 'iife',
  target: 'es2020',
  platform: 'browser',
  minify: true,
  sourcemap: false,
  legalComments: 'none',
  charset: 'ascii',
  logLevel: 'warning',
});
