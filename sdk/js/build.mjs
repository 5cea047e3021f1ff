#!/usr/bin/env node
// Builds a JavaScript guest into a WebAssembly component; `subnetd build` runs this.
//
//   node sdk/js/build.mjs --app <guest>/app.js --wit <wit dir> --world <validator|miner> --out <file.wasm>
//                         [--bundle <file.js>] [--inputs <file>]
//
// Two steps: rolldown bundles the app, the SDK (imported as "subnet-sdk") and any npm
// packages the guest installed into one ES module, leaving the contract's `subnet:*` and
// `wasi:*` imports to the component; componentize-js then embeds it in StarlingMonkey. Its
// `http` feature stays on, so the guest's `fetch` goes out through `wasi:http`'s
// outgoing-handler (the host allows only the subnet's `outbound_hosts`); `fetch-event`, an
// incoming-request export no subnet has, is off. `--bundle` also writes the bundled source there: the line numbers
// of a guest's JavaScript stack traces (`app.bundle.js:LINE`) refer to it. Before the engine
// sees the bundle, every module is checked for what node runs but the engine does not
// (engine-check.mjs: Unicode property escapes, Intl, normalize), named with file and line.
// `--inputs` lists every file rolldown bundled, one absolute path per line, so `subnetd build`
// knows to rebuild when any of them changes, wherever it lives.
// Exit status 2 means bad arguments, 1 a failed build (message on stderr).

import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const here = dirname(fileURLToPath(import.meta.url));

function usage(message) {
  console.error(`${message}\nusage: build.mjs --app app.js --wit WIT_DIR --world validator|miner --out OUT.wasm [--bundle OUT.js]`);
  process.exit(2);
}

let opts;
try {
  opts = parseArgs({
    options: {
      app: { type: 'string' },
      wit: { type: 'string' },
      world: { type: 'string' },
      out: { type: 'string' },
      bundle: { type: 'string' },
      inputs: { type: 'string' },
    },
  }).values;
} catch (e) {
  usage(e.message);
}
for (const name of ['app', 'wit', 'world', 'out']) {
  if (!opts[name]) usage(`missing --${name}`);
}
if (!['validator', 'miner'].includes(opts.world)) usage(`unknown world \`${opts.world}\``);

const { rolldown } = await import('rolldown');
const { engineCheck, describe } = await import('./engine-check.mjs');
const { componentize } = await import('@bytecodealliance/componentize-js');

/** A problem in the guest's code, reported without this script's stack. */
class GuestProblem extends Error {}

/** A rolldown plugin that collects the file of every module the bundle loads into `files`. */
function readFiles(files) {
  return {
    name: 'subnetd-inputs',
    load(id) {
      // Virtual modules (`\0...`) are no files.
      if (isAbsolute(id)) files.add(id.split('?')[0]);
      return null;
    },
  };
}

const inputs = new Set();
const work = await mkdtemp(join(tmpdir(), 'subnetd-js-'));
const problems = [];
try {
  const bundle = await rolldown({
    input: resolve(opts.app),
    external: [/^subnet:/, /^wasi:/],
    resolve: { alias: { 'subnet-sdk': join(here, 'subnet-sdk.js') } },
    platform: 'neutral',
    plugins: [engineCheck(problems, (id) => relative(process.cwd(), id)), readFiles(inputs)],
    logLevel: 'warn',
    onLog(level, log) {
      console.error(`${level}: ${log.message}`);
    },
  });
  const { output } = await bundle.generate({ format: 'esm', sourcemap: false });
  await bundle.close();
  if (problems.length) throw new GuestProblem(describe(problems));
  const source = join(work, 'app.bundle.js');
  await writeFile(source, output[0].code);
  if (opts.bundle) await writeFile(opts.bundle, output[0].code);
  if (opts.inputs) await writeFile(opts.inputs, [...inputs].sort().map((f) => `${f}\n`).join(''));

  const { component } = await componentize({
    sourcePath: source,
    witPath: resolve(opts.wit),
    worldName: opts.world,
    disableFeatures: ['fetch-event'],
  });
  await writeFile(opts.out, component);
} catch (e) {
  console.error(e instanceof GuestProblem ? e.message : (e?.stack ?? String(e)));
  process.exitCode = 1;
} finally {
  await rm(work, { recursive: true, force: true });
}
