// tests/webshell-js/exec.test.mjs: execCommand's pure parts: the wrapper lines (run by a real
// bash, through a real PTY with `script`) and the streaming marker parser (splits at every
// byte, UTF-8 across frames, forged markers, CRLF, output cap).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { MODULE } from './helpers.mjs';

const exec = await import(new URL('exec.js', `file://${MODULE}`).href);
const { MarkerParser, buildExecLines, makeNonce, printfEscape } = exec;
const enc = (s) => new TextEncoder().encode(s);
const NONCE = '0123456789abcdef0123456789abcdef';
const start = (n = NONCE) => `\x1b]8487;S;${n}\x07`;
const end = (code, n = NONCE) => `\x1b]8487;E;${n};${code}\x07`;

// Feeds text to a parser in pieces of the given sizes (cycled); returns the parser.
function feed(text, sizes = [text.length], nonce = NONCE) {
  const bytes = enc(text);
  const p = new MarkerParser(nonce);
  let off = 0;
  for (let i = 0; off < bytes.length; i++) {
    const n = sizes[i % sizes.length];
    p.push(bytes.subarray(off, off + n));
    off += n;
  }
  return p;
}

test('makeNonce: 128 random bits as 32 hex digits, fresh each time', () => {
  const seen = new Set(Array.from({ length: 100 }, () => makeNonce()));
  assert.equal(seen.size, 100);
  for (const n of seen) assert.match(n, /^[0-9a-f]{32}$/);
});

test('MarkerParser: output between the markers, exit status, noise around ignored', () => {
  const p = feed(`$ echo-of-the-line\r\n${start()}hello\r\nworld\r\n${end(42)}prompt$ `);
  assert.equal(p.done, true);
  assert.equal(p.stdout, 'hello\nworld\n');
  assert.equal(p.exitCode, 42);
});

test('MarkerParser: markers and UTF-8 split at every byte boundary', () => {
  const text = `noise${start()}emoji 😀 CJK 漢字 é\r\n${end(0)}tail`;
  const total = enc(text).length;
  for (let size = 1; size <= total; size++) {
    const p = feed(text, [size]);
    assert.equal(p.stdout, 'emoji 😀 CJK 漢字 é\n', `pieces of ${size}`);
    assert.equal(p.exitCode, 0);
  }
  const p = feed(text, [1, 2, 3, 5, 7, 11]);
  assert.equal(p.stdout, 'emoji 😀 CJK 漢字 é\n');
});

test('MarkerParser: not done without the end marker, and the echo (printf escapes) never matches', () => {
  const line = buildExecLines('echo hi', NONCE).join('\r\n');
  const p = feed(`${line}\r\n`);
  assert.equal(p.done, false);
  assert.equal(p.started, false);
  const q = feed(`${line}\r\n${start()}hi\r\n`);
  assert.equal(q.done, false);
  assert.equal(q.started, true);
});

test('MarkerParser: forged markers (other nonce, no ESC, wrong form) are plain output', () => {
  const other = 'ffffffffffffffffffffffffffffffff';
  const forged = `${end(0, other)}]8487;E;${NONCE};0\x07\x1b]8487;E;${NONCE.slice(0, 31)};0\x07${start()}`;
  const p = feed(`${start()}${forged}\r\n${end(3)}`);
  assert.equal(p.exitCode, 3);
  assert.equal(p.stdout, `${forged}\n`);
  assert.throws(() => feed(`${start()}x\x1b]8487;E;${NONCE};abc\x07`), /malformed end marker/);
});

test('MarkerParser: CRLF becomes LF, bare CR kept, invalid UTF-8 becomes U+FFFD', () => {
  const p = new MarkerParser(NONCE);
  p.push(enc(`${start()}a\r`));
  p.push(enc(`\nprogress 1\rprogress 2\r\n`));
  p.push(Uint8Array.of(0xff, 0x0d, 0x0a));
  p.push(enc(end(1)));
  assert.equal(p.stdout, 'a\nprogress 1\rprogress 2\n\ufffd\n');
});

test('MarkerParser: output beyond maxOutputBytes throws output-limit', () => {
  const p = new MarkerParser(NONCE, { maxOutputBytes: 1000 });
  p.push(enc(start()));
  assert.throws(() => { for (let i = 0; i < 20; i++) p.push(new Uint8Array(100).fill(0x41)); },
    (e) => e.code === 'output-limit' && /more than 1000 bytes/.test(e.message));
});

test('buildExecLines: short lines, no marker bytes, nonce checked', () => {
  const long = 'echo ' + 'x'.repeat(20000);
  for (const cmd of ['true', long, 'echo "\'$HOME\'"\ncat <<EOF\nhi\nEOF']) {
    const lines = buildExecLines(cmd, NONCE);
    for (const l of lines) {
      assert.ok(l.length < 1200, `line of ${l.length} chars`);
      assert.ok(!l.includes('\x1b') && !l.includes('\x07') && !l.includes('\n') && !l.includes('\r'));
      assert.ok(l.startsWith(' '), 'leading space keeps it out of history');
    }
  }
  assert.throws(() => buildExecLines('true', 'abc'), /nonce must be 32 hex digits/);
});

test('printfEscape: every byte 1..255 survives printf %b in bash and dash, nothing unsafe stays raw', () => {
  const all = Uint8Array.from({ length: 255 }, (_, i) => i + 1);
  const escaped = printfEscape(all);
  assert.match(escaped, /^[\x20-\x7e]*$/, 'printable ASCII only');
  assert.ok(!/['!]/.test(escaped.replace(/\\0[0-7]{3}/g, '')), "no raw ' or !");
  assert.ok(!escaped.replace(/\\0[0-7]{3}/g, '').includes('\\'), 'every backslash starts an escape');
  for (const shell of ['bash', 'dash']) {
    const out = spawnSync(shell, ['-c', 'printf %b "$1"', 'sh', escaped]).stdout;
    assert.deepEqual(new Uint8Array(out), all, shell);
  }
});

// Runs the wrapper lines in a real interactive bash on a real PTY (util-linux `script`) and
// parses the captured bytes as execCommand would.
function runInPty(command, shell = 'bash --norc --noprofile -i') {
  const lines = buildExecLines(command, NONCE);
  const input = lines.join('\r') + '\r exit\r';
  const r = spawnSync('script', ['-qfec', shell, '/dev/null'], {
    input, env: { PATH: process.env.PATH, TERM: 'xterm', HOME: '/nonexistent' }, timeout: 20000, maxBuffer: 64 << 20,
  });
  const p = new MarkerParser(NONCE);
  p.push(new Uint8Array(r.stdout));
  return p;
}

test('wrapper in a real bash on a PTY: quotes, heredoc, exit N, stdin, long command, pagers', () => {
  const cases = [
    ['echo hello', 'hello\n', 0],
    ['false', '', 1],
    ['exit 7', '', 7],
    ['(exit 42)', '', 42],
    [`echo "it's" 'say "hi"'`, `it's say "hi"\n`, 0],
    ['cat <<EOF\nline 1\n  $((6*7))\nEOF', 'line 1\n  42\n', 0],
    ['read x; echo "read rc=$?"', 'read rc=1\n', 0],
    ['echo "$PAGER/$GIT_PAGER"', 'cat/cat\n', 0],
    ['set -e; false; echo not reached', '', 1],
    ['history | grep -c 8487', '0\n', 1],
    ["printf '%s|' 'back\\slash \\c' 'bang!' \"$(printf 'a\\tb')\" 'é 漢字 😀'", 'back\\slash \\c|bang!|a\tb|é 漢字 😀|', 0],
    [`echo ${'y'.repeat(20000)} | wc -c`, '20001\n', 0],
  ];
  for (const [cmd, stdout, code] of cases) {
    const p = runInPty(cmd);
    assert.equal(p.done, true, `${cmd.slice(0, 40)}: end marker seen`);
    assert.equal(p.stdout, stdout, cmd.slice(0, 40));
    assert.equal(p.exitCode, code, cmd.slice(0, 40));
  }
});

test('wrapper in dash (a POSIX sh without readline): same results', () => {
  const cases = [
    ['echo hello', 'hello\n', 0],
    ['exit 7', '', 7],
    [`echo "it's"`, `it's\n`, 0],
    [`echo ${'z'.repeat(5000)} | wc -c`, '5001\n', 0],
  ];
  for (const [cmd, stdout, code] of cases) {
    const p = runInPty(cmd, 'dash -i');
    assert.equal(p.done, true, `${cmd.slice(0, 40)}: end marker seen`);
    assert.equal(p.stdout, stdout, cmd.slice(0, 40));
    assert.equal(p.exitCode, code, cmd.slice(0, 40));
  }
});

test('execCommand refuses bad arguments before connecting', async () => {
  await assert.rejects(exec.execCommand(42, { url: 'ws://127.0.0.1:1/ws' }), /command must be a string/);
  await assert.rejects(exec.execCommand('true', { url: 'ws://127.0.0.1:1/ws', timeoutMs: 0 }), /timeoutMs must be a positive/);
  await assert.rejects(exec.execCommand('true', { url: 'ftp://x' }), /unsupported scheme ftp:/);
  await assert.rejects(exec.execCommand('true', { base: 'file:///x/index.html' }), /no URL given/);
});
