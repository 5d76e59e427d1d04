// tests/webshell-js/exec.test.mjs: the sentinel method's pure parts: the typed lines (run by a
// real bash and dash, through a real PTY with `script`) and the streaming marker parser (splits
// at every byte, UTF-8 across frames, forged markers, CRLF), and the exec channel's frame codec.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { MODULE } from './helpers.mjs';

const mod = (name) => import(new URL(name, `file://${MODULE}`).href);
const sentinel = await mod('sentinel.js');
const channel = await mod('channel.js');
const exec = await mod('exec.js');
const { MarkerParser, buildExecLines, makeNonce, printfEscape, setupLine, inputMessages } = sentinel;
const enc = (s) => new TextEncoder().encode(s);
const dec = (b) => new TextDecoder().decode(b);
const N = { start: '0123456789abcdef0123456789abcdef', end: 'fedcba9876543210fedcba9876543210' };
const start = (raw = 1, n = N.start) => `\x1b]8487;S;${n};${raw}\x07`;
const end = (code, n = N.end) => `\x1b]8487;E;${n};${code}\x07`;

// Feeds bytes to a parser in pieces of the given sizes (cycled); returns { p, out }.
function feed(data, sizes = [Infinity]) {
  const bytes = typeof data === 'string' ? enc(data) : data;
  const parts = [];
  const p = new MarkerParser(N, { onData: (b) => parts.push(...b) });
  let off = 0;
  for (let i = 0; off < bytes.length; i++) {
    const n = Math.min(sizes[i % sizes.length], bytes.length - off);
    p.push(bytes.subarray(off, off + n));
    off += n;
  }
  return { p, out: Uint8Array.from(parts) };
}

test('makeNonce: 128 random bits as 32 hex digits, fresh each time', () => {
  const seen = new Set(Array.from({ length: 100 }, () => makeNonce()));
  assert.equal(seen.size, 100);
  for (const n of seen) assert.match(n, /^[0-9a-f]{32}$/);
});

test('MarkerParser: output between the markers, exit status, noise around ignored', () => {
  const { p, out } = feed(`$ echo-of-the-line\r\n${start()}hello\nworld\n${end(42)}prompt$ `);
  assert.equal(p.done, true);
  assert.equal(dec(out), 'hello\nworld\n');
  assert.equal(p.exitCode, 42);
});

test('MarkerParser: markers and UTF-8 split at every byte boundary', () => {
  const text = `noise${start()}emoji 😀 CJK 漢字 é\n${end(0)}tail`;
  const total = enc(text).length;
  for (let size = 1; size <= total; size++) {
    const { p, out } = feed(text, [size]);
    assert.equal(dec(out), 'emoji 😀 CJK 漢字 é\n', `pieces of ${size}`);
    assert.equal(p.exitCode, 0);
  }
});

test('MarkerParser: the echoed lines never match; forged markers (other nonce, start nonce, no ESC) are output', () => {
  const lines = buildExecLines('echo hi', N).join('\r\n');
  assert.equal(feed(`${lines}\r\n`).p.started, false);
  const other = 'ffffffffffffffffffffffffffffffff';
  const forged = `${end(0, other)}${end(0, N.start)}]8487;E;${N.end};0\x07${start()}`;
  const { p, out } = feed(`${start()}${forged}\n${end(3)}`);
  assert.equal(p.exitCode, 3);
  assert.equal(dec(out), `${forged}\n`);
  assert.throws(() => feed(`${start()}x\x1b]8487;E;${N.end};abc\x07`), /malformed end marker/);
});

test('MarkerParser: raw output is kept byte for byte; cooked output gets CRLF back to LF, split or not', () => {
  const bytes = Uint8Array.from({ length: 256 }, (_, i) => i);
  const raw = feed(new Uint8Array([...enc(start(1)), ...bytes, ...enc(end(0))]), [7]);
  assert.deepEqual(raw.out, bytes);
  for (const size of [1, 2, 3, 100]) {
    const { out } = feed(`${start(0)}a\r\nb\r\r\nc\rd\r${end(0)}`, [size]);
    assert.equal(dec(out), 'a\nb\r\nc\rd\r', `pieces of ${size}`);
  }
});

test('buildExecLines: short lines, no marker bytes, nonces checked; inputMessages under 64 KiB', () => {
  const long = 'echo ' + 'x'.repeat(200000);
  const lines = [...buildExecLines(long, N, enc('y'.repeat(100000))), ...buildExecLines(long, N, enc('y'.repeat(100000)), { bash: true })];
  for (const l of lines) {
    assert.ok(l.length < 4095, `line of ${l.length} chars`);
    assert.ok(!/[\x00-\x1f]/.test(l), 'no control character');
    assert.ok(l.startsWith(' '), 'leading space keeps it out of history');
  }
  const messages = inputMessages(lines);
  assert.ok(messages.length >= 5);
  for (const m of messages) assert.ok(m.length < 65536, `message of ${m.length} bytes`);
  assert.equal(messages.map((m) => dec(m.subarray(1))).join(''), lines.join('\r') + '\r');
  assert.throws(() => setupLine('x'), /nonce must be 32 hex digits/);
  assert.throws(() => buildExecLines('true', { start: 'abc', end: N.end }), /nonce must be 32 hex digits/);
});

test('printfEscape: every byte 1..255 survives printf %b in bash and dash, nothing unsafe stays raw', () => {
  const all = Uint8Array.from({ length: 255 }, (_, i) => i + 1);
  const escaped = printfEscape(all);
  assert.match(escaped, /^[\x20-\x7e]*$/, 'printable ASCII only');
  assert.ok(!/['!]/.test(escaped.replace(/\\0[0-7]{3}/g, '')), "no raw ' or !");
  for (const shell of ['bash', 'dash']) {
    const out = spawnSync(shell, ['-c', 'printf %b "$1"', 'sh', escaped]).stdout;
    assert.deepEqual(new Uint8Array(out), all, shell);
  }
});

// Runs the setup and command lines in a real interactive shell on a real PTY (util-linux
// `script`) and parses the captured bytes as the sentinel method does.
function runInPty(command, { shell = 'bash --norc --noprofile -i', stdin = null, bash = shell.startsWith('bash') } = {}) {
  const lines = [setupLine(N.start), ...buildExecLines(command, N, stdin, { bash })];
  const r = spawnSync('script', ['-qfec', shell, '/dev/null'], {
    input: lines.join('\r') + '\r exit\r', env: { PATH: process.env.PATH, TERM: 'xterm', HOME: '/nonexistent' }, timeout: 20000, maxBuffer: 64 << 20,
  });
  return feed(new Uint8Array(r.stdout));
}

test('sentinel lines in a real bash on a PTY: quotes, heredoc, exit N, stdin, long command, /dev/tty, $_, history', () => {
  const cases = [
    ['echo hello', 'hello\n', 0],
    ['false', '', 1],
    ['exit 7', '', 7],
    [`echo "it's" 'say "hi"'`, `it's say "hi"\n`, 0],
    ['cat <<EOF\nline 1\n  $((6*7))\nEOF', 'line 1\n  42\n', 0],
    ['read x; echo "read rc=$?"', 'read rc=1\n', 0],
    ['echo "$PAGER/$GIT_PAGER"', 'cat/cat\n', 0],
    ['set -e; false; echo not reached', '', 1],
    // The nonces are nowhere the command can look: not in $_, not in the history.
    [`case "$_" in *${N.end}*|*${N.start}*) echo leaked;; *) echo clean;; esac`, 'clean\n', 0],
    ['history 2>/dev/null | grep -c 8487', '0\n', 1],
    // No controlling terminal: /dev/tty fails at once instead of waiting for input.
    ['cat /dev/tty 2>/dev/null; echo "tty rc=$?"', 'tty rc=1\n', 0],
    ["printf 'a\\r\\nb\\n'", 'a\r\nb\n', 0],
    [`echo ${'y'.repeat(20000)} | wc -c`, '20001\n', 0],
  ];
  for (const [cmd, stdout, code] of cases) {
    const { p, out } = runInPty(cmd);
    assert.equal(p.done, true, `${cmd.slice(0, 40)}: end marker seen`);
    assert.equal(dec(out), stdout, cmd.slice(0, 40));
    assert.equal(p.exitCode, code, cmd.slice(0, 40));
  }
  const bytes = Uint8Array.from({ length: 256 }, (_, i) => i);
  for (const bash of [true, false]) {
    const { out } = runInPty('cat', { stdin: bytes, bash });
    assert.deepEqual(out, bytes, `all 256 byte values through stdin and back (${bash ? 'array' : 'POSIX'} lines)`);
  }
  // A command longer than one argv string may be (128 KiB): to bash on fd 3.
  const big = 'x'.repeat(200 * 1024);
  const t0 = Date.now();
  const { p, out } = runInPty(`v='${big}'; echo \${#v}`);
  assert.equal(dec(out), `${200 * 1024}\n`);
  assert.equal(p.exitCode, 0);
  assert.ok(Date.now() - t0 < 15000, `200 KiB took ${Date.now() - t0} ms`);
});

test('sentinel lines in dash (a POSIX sh without readline): same results', () => {
  const cases = [
    ['echo hello', 'hello\n', 0],
    ['exit 7', '', 7],
    [`echo "it's"`, `it's\n`, 0],
    [`echo ${'z'.repeat(5000)} | wc -c`, '5001\n', 0],
  ];
  for (const [cmd, stdout, code] of cases) {
    const { p, out } = runInPty(cmd, { shell: 'dash -i' });
    assert.equal(p.done, true, `${cmd.slice(0, 40)}: end marker seen`);
    assert.equal(dec(out), stdout, cmd.slice(0, 40));
    assert.equal(p.exitCode, code, cmd.slice(0, 40));
  }
});

test('exec channel frames: channel byte, big-endian id, payload; acks; start requests', () => {
  const f = channel.encodeFrame(channel.CH.STDIN, 0x01020304, enc('hi'));
  assert.deepEqual([...f], [0, 1, 2, 3, 4, 0x68, 0x69]);
  const d = channel.decodeFrame(f.buffer);
  assert.deepEqual([d.channel, d.id, dec(d.payload)], [0, 0x01020304, 'hi']);
  assert.deepEqual([...channel.encodeAck(7, 65536)], [19, 0, 0, 0, 7, 0, 1, 0, 0]);
  assert.equal(channel.decodeFrame(channel.encodeFrame(32, 0xffffffff)).id, 0xffffffff);
  assert.throws(() => channel.decodeFrame(new Uint8Array(4)), /exec frame of 4 bytes/);
  assert.deepEqual(channel.startRequest('ls -l'), { shell: 'ls -l', stdin: false });
  assert.deepEqual(channel.startRequest(['ls', '-l'], { env: { A: 'b' }, cwd: '/tmp', timeoutMs: 5, login: true }, true),
    { argv: ['ls', '-l'], env: { A: 'b' }, cwd: '/tmp', timeoutMs: 5 });
  assert.deepEqual(channel.startRequest('x', { login: true, pty: { columns: 100, rows: 30 } }),
    { shell: 'x', login: true, pty: { columns: 100, rows: 30 }, stdin: false });
  assert.throws(() => channel.startRequest([]), /non-empty array of strings/);
  assert.throws(() => channel.startRequest('x', { env: { A: 1 } }), /env must be an object of strings/);
});

test('execCommand refuses bad arguments before connecting', async () => {
  await assert.rejects(exec.execCommand(42, { url: 'ws://127.0.0.1:1/ws' }), /command must be a string/);
  await assert.rejects(exec.execCommand('true', { url: 'ws://127.0.0.1:1/ws', timeoutMs: -1 }), /timeoutMs must be a number of milliseconds \(0: no limit\)/);
  await assert.rejects(exec.execCommand('true', { url: 'ws://127.0.0.1:1/ws', encoding: 'latin1' }), /encoding must be 'utf8' or 'binary'/);
  await assert.rejects(exec.execCommand('true', { url: 'ws://127.0.0.1:1/ws', stdin: 42 }), /stdin must be a string/);
  await assert.rejects(exec.execCommand('true', { url: 'ftp://x' }), /unsupported scheme ftp:/);
  await assert.rejects(exec.execCommand('true', { base: 'file:///x/index.html' }), /no URL given/);
  await assert.rejects(exec.connect({ url: 'ws://127.0.0.1:1/ws', method: 'magic' }), /method must be/);
});
