// tests/webshell-js/page-pure.test.mjs: the page's pure parts in node (fast tier): the key bar's
// bytes (as xterm and a VT keyboard send them), the clipboard shortcuts, the Files dialog's path
// rules, and the
// settings filter (only known keys with valid values reach localStorage).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MODULE } from './helpers.mjs';

for (const f of ['page-settings.js', 'page-keybar.js', 'page-clipboard.js', 'page-files.js']) {
  await import(new URL(f, `file://${MODULE}`).href);
}
const { keybar, clipboard, files, settings } = globalThis.WebShellPage;

test('clipboard shortcuts: Ctrl+Shift+C copies, Ctrl+Shift+V pastes, nothing else', () => {
  const key = (k, mods = {}) => ({ type: 'keydown', key: k, code: `Key${k.toUpperCase()}`, ctrlKey: false, shiftKey: false, altKey: false, metaKey: false, ...mods });
  assert.equal(clipboard.shortcut(key('C', { ctrlKey: true, shiftKey: true })), 'copy');
  assert.equal(clipboard.shortcut(key('V', { ctrlKey: true, shiftKey: true })), 'paste');
  assert.equal(clipboard.shortcut(key('c', { ctrlKey: true })), null, 'Ctrl+C stays an interrupt');
  assert.equal(clipboard.shortcut(key('V', { ctrlKey: true, shiftKey: true, altKey: true })), null);
  assert.equal(clipboard.shortcut({ ...key('C', { ctrlKey: true, shiftKey: true }), type: 'keyup' }), null);
});

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
