#!/usr/bin/env node
// guildhost-plugin: builds a JavaScript/TypeScript plugin into a guildhost component, and runs
// its unit tests in Node.
//
//   guildhost-plugin build [entry] [--out file.wasm]   (entry: src/index.ts or src/index.js)
//   guildhost-plugin test [files…]                     (files: test/*.test.{ts,js})
//
// `build` bundles the plugin (esbuild: TypeScript, npm dependencies) behind an entry that binds
// the WIT imports and exports `handle`, then makes the component with componentize-js against
// the WIT this package carries. Of the engine's WASI features only the clocks (`Date.now()`)
// and randomness (`Math.random`, `crypto.getRandomValues`, from the host's wasi:random) are
// compiled in: no stdio (console goes to the plugin's log), no `fetch`.

import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, copyFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const sdk = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const [command, ...args] = process.argv.slice(2);

function fail(message) {
  console.error(`guildhost-plugin: ${message}`);
  process.exit(2);
}

function option(name) {
  const at = args.indexOf(name);
  if (at === -1) return undefined;
  const value = args[at + 1];
  if (value === undefined) fail(`${name} needs a value`);
  args.splice(at, 2);
  return value;
}

function firstExisting(candidates, what) {
  const found = candidates.find((candidate) => existsSync(candidate));
  if (!found) fail(`no ${what}: looked for ${candidates.join(', ')}`);
  return found;
}

/** The manifest's `name = "…"` (plugin.toml), which names the component. */
function manifestName() {
  if (!existsSync('plugin.toml')) return undefined;
  const line = readFileSync('plugin.toml', 'utf8').match(/^\s*name\s*=\s*"([^"]+)"/m);
  return line?.[1];
}

async function build() {
  const out = option('--out');
  const entry = resolve(args[0] ?? firstExisting(['src/index.ts', 'src/index.js'], 'plugin entry'));
  if (!existsSync(entry)) fail(`${entry}: no such file`);
  const name = manifestName() ?? basename(entry).replace(/\.[jt]s$/, '');
  const target = resolve(out ?? join('dist', `${name}.wasm`));
  const { build: bundle } = await import('esbuild');
  const { componentize } = await import('@bytecodealliance/componentize-js');

  const work = mkdtempSync(join(tmpdir(), 'guildhost-plugin-'));
  try {
    const shim = [
      "import * as logging from 'guildhost:plugin/logging@0.1.0';",
      "import * as kv from 'guildhost:plugin/kv@0.1.0';",
      "import * as clock from 'guildhost:plugin/clock@0.1.0';",
      "import * as config from 'guildhost:plugin/config@0.1.0';",
      `import { bindHost, run } from ${JSON.stringify(join(sdk, 'runtime.js'))};`,
      `import plugin from ${JSON.stringify(entry)};`,
      'bindHost({ logging, kv, clock, config });',
      'export function handle(envelope, message) { return run(plugin, envelope, message); }',
    ].join('\n');
    const bundled = join(work, 'plugin.js');
    await bundle({
      stdin: { contents: shim, resolveDir: process.cwd(), sourcefile: 'guildhost-entry.js' },
      bundle: true,
      format: 'esm',
      platform: 'neutral',
      target: 'es2022',
      external: ['guildhost:plugin/*'],
      outfile: bundled,
      logLevel: 'warning',
    });
    const { component } = await componentize({
      sourcePath: bundled,
      witPath: join(sdk, 'wit'),
      worldName: 'plugin',
      disableFeatures: ['stdio', 'http', 'fetch-event'],
    });
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, component);
    // The manifest beside the component, as the host's plugins directory expects it.
    if (existsSync('plugin.toml') && out === undefined) {
      copyFileSync('plugin.toml', target.replace(/\.wasm$/, '.toml'));
    }
    console.log(`built ${target} (${(component.length / 1048576).toFixed(1)} MiB)`);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

async function test() {
  const files = args.length
    ? args.map((file) => resolve(file))
    : existsSync('test')
      ? readdirSync('test').filter((file) => /\.test\.[jt]s$/.test(file)).map((file) => resolve('test', file))
      : [];
  if (files.length === 0) fail('no tests: give files or put *.test.ts / *.test.js in test/');
  const { build: bundle } = await import('esbuild');
  const work = mkdtempSync(join(tmpdir(), 'guildhost-plugin-test-'));
  try {
    const outputs = [];
    for (const file of files) {
      const outfile = join(work, basename(file).replace(/\.[jt]s$/, '.mjs'));
      await bundle({
        entryPoints: [file],
        bundle: true,
        format: 'esm',
        platform: 'node',
        target: 'node20',
        outfile,
        logLevel: 'warning',
      });
      outputs.push(outfile);
    }
    const run = spawnSync(process.execPath, ['--test', ...outputs], { stdio: 'inherit' });
    process.exitCode = run.status ?? 1;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

switch (command) {
  case 'build':
    await build();
    break;
  case 'test':
    await test();
    break;
  default:
    fail(`usage: guildhost-plugin build [entry] [--out file.wasm] | guildhost-plugin test [files…] (got '${command ?? ''}')`);
}
