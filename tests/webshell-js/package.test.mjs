// tests/webshell-js/package.test.mjs: examples/web-shell as a package an app installs: `npm pack`
// gives a tarball with exports and types and the xterm.js packages as peer dependencies; it
// installs into a scratch project (from npm's cache when it has them: --prefer-offline); a
// consumer app compiles under tsc --strict against it, and typical mistakes do not compile.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { ROOT, WORK } from './helpers.mjs';

const TSC = join(ROOT, 'node_modules/.bin/tsc');
const PKG_DIR = join(ROOT, 'examples/web-shell');
const project = join(WORK, 'app');
let tarball;

before(() => {
  mkdirSync(project, { recursive: true });
  const out = execFileSync('npm', ['pack', '--json', '--pack-destination', WORK, PKG_DIR], { encoding: 'utf8' });
  tarball = join(WORK, JSON.parse(out)[0].filename);
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'scratch-app', private: true, type: 'module' }));
  execFileSync('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', tarball], { cwd: project, stdio: 'pipe', timeout: 300000 });
});

test('npm pack: exports with types, the module files only, xterm.js packages as peers', () => {
  const listed = JSON.parse(execFileSync('npm', ['pack', '--dry-run', '--json', PKG_DIR], { encoding: 'utf8' }))[0].files.map((f) => f.path);
  for (const f of ['index.js', 'web-shell.js', 'web-shell.d.ts', 'terminal.js', 'channel.js', 'sentinel.js', 'files.js', 'package.json']) {
    assert.ok(listed.includes(f), `${f} is packed`);
  }
  for (const f of ['app.js', 'index.html', 'style.css', 'build.mk', 'bundle-classic.mjs']) assert.ok(!listed.includes(f), `${f} is not packed`);
  const pkg = JSON.parse(readFileSync(join(project, 'node_modules/web-shell/package.json'), 'utf8'));
  assert.equal(pkg.exports['.'].types, './web-shell.d.ts');
  assert.equal(pkg.exports['.'].default, './index.js');
  assert.ok(pkg.peerDependencies['@xterm/xterm']);
  // npm installs peers: the app gets one copy of xterm.js, shared with its own code.
  const installed = readdirSync(join(project, 'node_modules/@xterm')).sort();
  assert.deepEqual(installed, ['addon-clipboard', 'addon-fit', 'addon-unicode11', 'addon-web-links', 'xterm']);
});

test('the core entry imports in Node (no globals needed to load it)', () => {
  const r = spawnSync('node', ['--input-type=module', '-e',
    "import('web-shell/core').then((m) => console.log(typeof m.connectTerminal, typeof m.execCommand, typeof m.connect, m.MAX_LIFETIME_SEC))"],
  { cwd: project, encoding: 'utf8' });
  assert.equal(r.stderr, '');
  assert.equal(r.stdout.trim(), 'function function function 3600');
});

function tsc(file) {
  cpSync(join(ROOT, 'tests/webshell-js/consumer', file), join(project, file));
  return spawnSync(TSC, ['--strict', '--noEmit', '--target', 'es2022', '--module', 'esnext', '--moduleResolution', 'bundler',
    '--lib', 'es2022,dom,dom.iterable', '--types', '', file], { cwd: project, encoding: 'utf8' });
}

test('a consumer app compiles under tsc --strict: typed events, exec results, Terminal, errors', () => {
  const r = tsc('consumer.ts');
  assert.equal(r.stdout + r.stderr, '', 'no diagnostics');
  assert.equal(r.status, 0);
});

test('typical mistakes do not compile: a misspelt event member, binary output as a string, an error without its code', () => {
  const r = tsc('wrong.ts');
  assert.notEqual(r.status, 0);
  const errors = r.stdout.split('\n').filter((l) => /error TS/.test(l));
  assert.equal(errors.length, 3, r.stdout);
  assert.match(errors[0], /wrong\.ts\(6,.*'exitcode' does not exist.*Did you mean 'exitCode'/);
  assert.match(errors[1], /wrong\.ts\(8,.*Uint8Array.*is not assignable to type 'string'/);
  assert.match(errors[2], /wrong\.ts\(9,.*Expected 2 arguments, but got 1/);
});
