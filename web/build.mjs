// Bundles src/main.js into static/app.js: minified, no source map, ES2020,
// the same bytes for the same sources (make web-check compares them).
// Then it compresses every text file of static/ as the server sends it:
// NAME.br (brotli, best) and NAME.gz (gzip, best), which the server serves
// to browsers that take them (a Go test checks they decompress to NAME).
//
//   node build.mjs              writes static/app.js and the compressed files
//   node build.mjs --out FILE   writes FILE instead, nothing else (make web-check)

import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';

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

// compressStatic writes NAME.br and NAME.gz beside each text file of dir.
function compressStatic(dir) {
  for (const name of fs.readdirSync(dir).sort()) {
    if (!/\.(js|css|svg)$/.test(name)) continue;
    const raw = fs.readFileSync(path.join(dir, name));
    const br = zlib.brotliCompressSync(raw, {
      params: {
        [zlib.constants.BROTLI_PARAM_MODE]: zlib.constants.BROTLI_MODE_TEXT,
        [zlib.constants.BROTLI_PARAM_QUALITY]: zlib.constants.BROTLI_MAX_QUALITY,
        [zlib.constants.BROTLI_PARAM_SIZE_HINT]: raw.length,
      },
    });
    fs.writeFileSync(path.join(dir, name + '.br'), br);
    fs.writeFileSync(path.join(dir, name + '.gz'), zlib.gzipSync(raw, { level: 9 }));
  }
}

if (at < 0) compressStatic(path.join(here, 'static'));
