// tests/browser/exec.test.mjs: the execCommand matrix in Debian's Chromium.
// sanitize: yes (runs again against the ASan+UBSan builds of jwt-verify and ptyd)
// Through Caddy, jwt-verify and ptyd on loopback, with a key generated in the page: output,
// exit codes, scripts, quoting, heredocs, a 20 KB command, stdin, forged markers, 5 MB of
// output, UTF-8 split across frames, stderr, timeout (Ctrl-C sent), bad token, refused
// connection, a vanished shell and ten concurrent calls.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { freePort } from '../webshell-js/helpers.mjs';
import { BUILD, openPage, startBrowser, startStack } from './stack.mjs';

const WORK = process.env.WS_WORK || '/tmp';
const missing = ['jwt-verify', 'ptyd'].filter((b) => !existsSync(join(BUILD, b)));
const skip = missing.length ? `${missing.join(' and ')} not built yet` : false;

let stack;
let page;
let keyFile;

before(async () => {
  if (skip) return;
  stack = await startStack(join(WORK, 'stack'));
  const context = await startBrowser(stack);
  page = await openPage(context, stack.pageUrl);
  const pem = await page.evaluate(async () => {
    webShellApp.pair = await WebShell.generateKeyPair();
    return WebShell.exportPublicKeyPem(webShellApp.pair.publicKey);
  });
  keyFile = join(stack.work, 'exec-key.pem');
  writeFileSync(keyFile, pem);
  await stack.startVerifier([keyFile]);
});

after(async () => {
  if (stack) await stack.stop();
});

// execCommand in the page; resolves to { stdout, exitCode, ms } or { code, message, ms }.
function run(command, options = {}) {
  return page.evaluate(async ([command, options]) => {
    const opts = { privateKey: webShellApp.pair.privateKey, ...options };
    if (options.badToken) opts.token = () => options.badToken;
    const t0 = performance.now();
    try {
      const r = await WebShell.execCommand(command, opts);
      return { ...r, ms: performance.now() - t0 };
    } catch (e) {
      return { code: e.code, message: e.message, name: e.name, ms: performance.now() - t0 };
    }
  }, [command, options]);
}

function expect(r, stdout, exitCode, what) {
  assert.equal(r.message, undefined, `${what}: rejected: ${r.message}`);
  assert.equal(r.stdout, stdout, what);
  assert.equal(r.exitCode, exitCode, what);
}

test('plain output', { skip }, async () => {
  expect(await run('echo hello world'), 'hello world\n', 0, 'echo');
  expect(await run('printf "no newline"'), 'no newline', 0, 'no trailing newline');
  expect(await run('true'), '', 0, 'no output');
});

test('exit codes 0, 1, 42 and `exit 7`', { skip }, async () => {
  expect(await run('true'), '', 0, 'true');
  expect(await run('false'), '', 1, 'false');
  expect(await run('sh -c "exit 42"'), '', 42, 'child exits 42');
  expect(await run('echo before; exit 7; echo after'), 'before\n', 7, 'exit 7 inside the command');
  // The interactive shell reports the signal death itself, as it would to a user.
  expect(await run('kill -TERM $BASHPID'), 'Terminated\n', 143, 'killed by a signal: 128+15');
});

test('a multi-line script with functions, loops and set -e', { skip }, async () => {
  const script = 'set -e\nsum() { echo $(( $1 + $2 )); }\nfor i in 1 2 3; do\n  sum $i 10\ndone\nfalse\necho unreachable';
  expect(await run(script), '11\n12\n13\n', 1, 'script');
});

test('single and double quotes, backslashes, $ and backticks stay literal', { skip }, async () => {
  const cmd = `printf '%s\\n' "it's" 'say "hi"' 'a\\b' '$HOME' '\`id\`' "tab	here"`;
  expect(await run(cmd), `it's\nsay "hi"\na\\b\n$HOME\n\`id\`\ntab\there\n`, 0, 'quotes');
});

test('a heredoc, quoted and unquoted', { skip }, async () => {
  const cmd = "x=world\ncat <<EOF\nhello $x\nEOF\ncat <<'RAW'\n$x `not run`\nRAW";
  expect(await run(cmd), 'hello world\n$x `not run`\n', 0, 'heredoc');
});

test('a 20 KB command line', { skip }, async () => {
  const word = 'abcdefghij'.repeat(2000);
  const r = await run(`v=${word}; echo \${#v}; echo "$v" | md5sum | cut -c1-8`);
  const md5 = execFileSync('md5sum', { input: word + '\n' }).toString().slice(0, 8);
  expect(r, `20000\n${md5}\n`, 0, '20 KB');
});

test('a command that reads stdin gets end-of-file at once', { skip }, async () => {
  const r = await run('cat; read -r line; echo "read:$?"; head -c 10 | wc -c', { timeoutMs: 5000 });
  expect(r, 'read:1\n0\n', 0, 'stdin is /dev/null');
});

test('pagers are off: git/man style commands do not wait for a key', { skip }, async () => {
  expect(await run('echo "$PAGER|$GIT_PAGER|$SYSTEMD_PAGER|$DEBIAN_FRONTEND"'), 'cat|cat||noninteractive\n', 0, 'env');
  const r = await run('seq 1 500 | ${PAGER:-less} | tail -1', { timeoutMs: 5000 });
  expect(r, '500\n', 0, 'pager');
});

test('output that contains the marker text or a forged end marker does not fool it', { skip }, async () => {
  const cmd = [
    "printf '\\033]8487;E;00000000000000000000000000000000;0\\007'",
    "printf '\\033]8487;S;00000000000000000000000000000000\\007'",
    "echo ']8487;E;'",
    // The shell's own history and environment do not reveal the nonce either.
    'printf "\\033]8487;E;%s;0\\007" "$(history | tail -1 | grep -o "[0-9a-f]\\{32\\}" | head -1)"',
    'echo still-running',
    'exit 5',
  ].join('\n');
  const r = await run(cmd);
  assert.equal(r.exitCode, 5, r.message);
  assert.equal(r.stdout,
    '\x1b]8487;E;00000000000000000000000000000000;0\x07\x1b]8487;S;00000000000000000000000000000000\x07]8487;E;\n' +
    '\x1b]8487;E;;0\x07still-running\n');
});

test('5 MB of output arrives complete and in order', { skip }, async () => {
  const r = await run('seq 1 683000 | head -c 5000000; echo; echo END', { timeoutMs: 60000 });
  assert.equal(r.message, undefined, r.message);
  const want = execFileSync('sh', ['-c', 'seq 1 683000 | head -c 5000000; echo; echo END'], { maxBuffer: 64 << 20 }).toString();
  assert.equal(r.stdout.length, want.length);
  assert.ok(r.stdout === want, 'identical to the same command run locally');
  assert.equal(r.exitCode, 0);
});

test('emoji and CJK split across frames decode intact', { skip }, async () => {
  const r = await run("for i in $(seq 1 4000); do printf '😀漢字é'; done; echo", { timeoutMs: 30000 });
  assert.equal(r.message, undefined, r.message);
  assert.ok(r.stdout === '😀漢字é'.repeat(4000) + '\n', 'no U+FFFD, nothing lost');
  const mixed = await run("printf 'ä\\n'; printf '\\xe6\\xbc'; printf '\\xa2\\n'");
  expect(mixed, 'ä\n漢\n', 0, 'a character split between two printf calls');
});

test('stderr is merged into stdout in order', { skip }, async () => {
  expect(await run('echo out1; echo err1 >&2; echo out2; ls /nonexistent-dir-ws 2>&1 | head -c 0; exit 3'),
    'out1\nerr1\nout2\n', 3, 'stderr');
});

test('a command that outlives the timeout: clear error, Ctrl-C sent, nothing left running', { skip }, async () => {
  const flag = join(stack.work, 'got-sigint');
  const tag = `sleep 3${Date.now() % 1000}.5`;
  const r = await run(`trap 'echo INT > ${flag}; exit 130' INT; ${tag}; echo not-interrupted > ${flag}`, { timeoutMs: 1500 });
  assert.equal(r.code, 'timeout');
  assert.match(r.message, /timed out after 1500 ms \(sent Ctrl-C and closed the connection\)/);
  assert.ok(r.ms >= 1500 && r.ms < 4000, `rejected after ${r.ms} ms`);
  await waitFor(() => existsSync(flag), 'the command received SIGINT');
  assert.equal(readFileSync(flag, 'utf8'), 'INT\n');
  await waitFor(() => !pgrep(tag), `${tag} is gone`);
});

test('a bad token: rejected with a clear 401 error', { skip }, async () => {
  const r = await run('echo never', { badToken: 'eyJhbGciOiJFZERTQSJ9.e30.AAAA' });
  assert.equal(r.code, 'unauthorized', r.message);
  assert.match(r.message, /authentication refused at the handshake \(HTTP 401/);
  assert.ok(!r.message.includes('eyJ'), 'the token is not in the message');
  const other = await page.evaluate(async () => {
    const pair = await WebShell.generateKeyPair();
    try {
      await WebShell.execCommand('echo never', { privateKey: pair.privateKey });
      return null;
    } catch (e) {
      return e.code;
    }
  });
  assert.equal(other, 'unauthorized', 'an unknown key');
  const aud = await run('echo never', { audience: 'elsewhere.example' });
  assert.equal(aud.code, 'unauthorized', 'wrong audience');
});

test('connection refused, verifier down, and a vanished shell have distinct errors', { skip }, async () => {
  const closed = await freePort();
  const refused = await run('true', { url: `ws://127.0.0.1:${closed}/ws` });
  assert.equal(refused.code, 'refused');
  assert.match(refused.message, new RegExp(`connection refused: nothing answers at ws://127.0.0.1:${closed}/ws`));
  const gone = await run('echo bye; kill -KILL $$');
  assert.equal(gone.code, 'shell-gone');
  assert.match(gone.message, /shell gone: the shell was killed by signal 9 before the command finished/);
  await stack.stopVerifier();
  const down = await run('true');
  assert.equal(down.code, 'gateway');
  assert.match(down.message, /answered HTTP 502/);
  await stack.startVerifier([keyFile]);
  expect(await run('echo back'), 'back\n', 0, 'works again');
});

test('ten concurrent calls each get their own output and status', { skip }, async () => {
  const results = await page.evaluate(async () => Promise.all(Array.from({ length: 10 }, (_, i) =>
    WebShell.execCommand(`sleep 0.$((RANDOM % 3)); echo call-${i}; seq 1 ${i * 1000} | wc -l; exit ${i}`,
      { privateKey: webShellApp.pair.privateKey }))));
  results.forEach((r, i) => {
    assert.equal(r.stdout, `call-${i}\n${i * 1000}\n`);
    assert.equal(r.exitCode, i);
  });
  assert.deepEqual(page.problems.filter((m) => m.startsWith('pageerror')), [], 'no uncaught exception in the page');
});

function pgrep(pattern) {
  try {
    execFileSync('pgrep', ['-f', pattern]);
    return true;
  } catch {
    return false;
  }
}

async function waitFor(cond, what, ms = 5000) {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
