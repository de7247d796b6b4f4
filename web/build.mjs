// Bundles the dashboard: src/main.js and src/style.css become assets/app-<hash>.js and
// assets/app-<hash>.css (content-hashed names, safe to cache for long), and src/index.html is
// written with those names. Usage: node build.mjs --outdir=DIR (default: dist).
import { mkdir, readFile, rm, writeFile, copyFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const here = path.dirname(fileURLToPath(import.meta.url));
const arg = process.argv.find((a) => a.startsWith('--outdir='));
const outdir = path.resolve(arg ? arg.slice('--outdir='.length) : path.join(here, 'dist'));

await rm(outdir, { recursive: true, force: true });
await mkdir(path.join(outdir, 'assets'), { recursive: true });

const result = await esbuild.build({
  entryPoints: { app: path.join(here, 'src/main.js'), style: path.join(here, 'src/style.css') },
  bundle: true,
  format: 'esm',
  target: ['es2020'],
  minify: true,
  sourcemap: 'linked',
  entryNames: '[name]-[hash]',
  outdir: path.join(outdir, 'assets'),
  metafile: true,
  legalComments: 'linked',
  logLevel: 'warning',
});

// The hashed names of the two entry points, for index.html.
const names = {};
for (const [file, meta] of Object.entries(result.metafile.outputs)) {
  if (!meta.entryPoint) continue;
  const base = path.basename(file);
  if (file.endsWith('.js')) names.js = base;
  if (file.endsWith('.css')) names.css = base;
}
if (!names.js || !names.css) throw new Error('build: missing app bundle or style sheet');

const html = (await readFile(path.join(here, 'src/index.html'), 'utf8'))
  .replace('%APP_JS%', `/assets/${names.js}`)
  .replace('%APP_CSS%', `/assets/${names.css}`);
await writeFile(path.join(outdir, 'index.html'), html);
await copyFile(path.join(here, 'src/favicon.svg'), path.join(outdir, 'favicon.svg'));
console.log(`web: built ${names.js} and ${names.css} into ${outdir}`);
