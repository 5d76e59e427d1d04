// tests/webshell-js/page-pure.test.mjs: the page's pure parts in node (fast tier): the key bar's
// bytes (as xterm and a VT keyboard send them), the OSC 52 rule (writes decoded, queries and
// malformed payloads refused), the Files dialog's path rules, and the
// settings filter (only known keys with valid values reach localStorage).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MODULE } from './helpers.mjs';

for (const f of ['page-settings.js', 'page-keybar.js', 'page-clipboard.js', 'page-files.js']) {
  await import(new URL(f, `file://${MODULE}`).href);
}
const { keybar, clipboard, files, settings } = globalThis.WebShellPage;

test('key bar: Esc, Tab, arrows in both cursor modes, Ctrl and Alt combinations', () => {
  const { encodeKey, ctrlChar } = keybar;
  assert.equal(encodeKey('Escape'), '\x1b');
  assert.equal(encodeKey('Tab'), '\t');
  assert.deepEqual(['ArrowUp', 'ArrowDown', 'ArrowRight', 'ArrowLeft'].map((k) => encodeKey(k)), ['\x1b[A', '\x1b[B', '\x1b[C', '\x1b[D']);
  assert.equal(encodeKey('ArrowUp', {}, true), '\x1bOA', 'DECCKM on');
  assert.equal(encodeKey('ArrowLeft', { ctrl: true }, true), '\x1b[1;5D');
  assert.equal(encodeKey('ArrowLeft', { alt: true }), '\x1b[1;3D');
  assert.equal(encodeKey('ArrowLeft', { ctrl: true, alt: true }), '\x1b[1;7D');
  assert.equal(encodeKey('c', { ctrl: true }), '\x03');
  assert.equal(encodeKey('C', { ctrl: true }), '\x03');
  assert.equal(encodeKey('x', { alt: true }), '\x1bx');
  assert.equal(encodeKey('c', { ctrl: true, alt: true }), '\x1b\x03');
  assert.equal(encodeKey('Escape', { alt: true }), '\x1b\x1b');
  assert.equal(encodeKey('|'), '|');
  assert.deepEqual(['@', '[', '\\', ']', '^', '_', '?', ' '].map(ctrlChar), ['\0', '\x1b', '\x1c', '\x1d', '\x1e', '\x1f', '\x7f', '\0']);
  assert.equal(ctrlChar('1'), '1', 'Ctrl does nothing to a digit');
});

test('OSC 52: writes decoded as UTF-8; queries, bad selections and bad base64 give nothing', () => {
  const b64 = (s) => Buffer.from(s).toString('base64');
  assert.equal(clipboard.parseOsc52(`c;${b64('hello \u2713')}`), 'hello \u2713');
  assert.equal(clipboard.parseOsc52(`;${b64('x')}`), 'x', 'empty selection = default');
  assert.equal(clipboard.parseOsc52(`pc;${b64('y')}`), 'y');
  assert.equal(clipboard.parseOsc52('c;?'), null, 'a read is never answered');
  assert.equal(clipboard.parseOsc52('c;'), null);
  assert.equal(clipboard.parseOsc52('c'), null);
  assert.equal(clipboard.parseOsc52('c;not base64!'), null);
  assert.equal(clipboard.parseOsc52(`z;${b64('x')}`), null, 'unknown selection');
  assert.equal(clipboard.parseOsc52(`c;${'A'.repeat((1 << 20) + 4)}`), null, 'oversized');
  let handler;
  const written = [];
  clipboard.handleOsc52({ parser: { registerOscHandler: (n, fn) => { assert.equal(n, 52); handler = fn; return {}; } } }, (t) => written.push(t));
  assert.equal(handler('c;?'), true, 'a query is swallowed (handled) without a reply');
  assert.equal(handler(`c;${b64('z')}`), true);
  assert.deepEqual(written, ['z']);
});

test('transfer paths: "~" and "~/..." are the home directory, names never climb out', () => {
  assert.equal(files.machinePath('~'), '.');
  assert.equal(files.machinePath('~/notes/a b.txt'), 'notes/a b.txt');
  assert.equal(files.machinePath('/var/log/syslog'), '/var/log/syslog');
  assert.equal(files.machinePath('rel/x'), 'rel/x');
  assert.equal(files.joinPath('', 'a.txt'), '~/a.txt');
  assert.equal(files.joinPath('/srv/', 'a.txt'), '/srv/a.txt');
  assert.equal(files.joinPath('/srv', '../a/b'), '/srv/.._a_b', 'a name never climbs out');
  assert.equal(files.baseName('/var/log/syslog'), 'syslog');
  assert.equal(files.baseName('/etc/'), 'etc');
  assert.equal(files.formatBytes(10 * 1024 * 1024), '10 MiB');
  assert.equal(files.formatBytes(1536), '1.5 KiB');
});

test('settings: only known keys with valid values are kept', () => {
  assert.deepEqual(settings.normalize({ fontSize: '18', theme: 'light', keybar: 'on', token: 'eyJ', sessionId: 'x' }),
    { fontSize: 18, theme: 'light', keybar: 'on' });
  assert.deepEqual(settings.normalize({ fontSize: 400, theme: '<script>', keybar: 1 }), { fontSize: 32, theme: 'system', keybar: 'auto' });
  assert.deepEqual(settings.normalize(null), settings.DEFAULTS);
  assert.equal(settings.terminalOptions({ ...settings.DEFAULTS, theme: 'light' }).theme.background, settings.THEMES.light.background);
});
