// tests/browser/exec.test.mjs: the execCommand / connect() matrix in Debian's Chromium.
// sanitize: yes (runs again against the ASan+UBSan builds of jwt-verify and ptyd)
// Through Caddy, jwt-verify and ptyd on loopback, with a key generated in the page, for both
// methods: the exec channel (webshell-exec.v1, when ptyd offers it) and the sentinel method
// (forced with method 'sentinel', as against ttyd or ptyd --no-exec): exit codes and signals,
// stderr, all 256 byte values, stdin with EOF, a 1 MiB command, 100 commands on one connection,
// cancel and timeout leaving no process, forged markers and status, a login shell with Debian's
// default rc files, the fallback against ptyd --no-exec, and the refusals (bad token, nothing
// listening, verifier down).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { cpSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { freePort } from '../webshell-js/helpers.mjs';
import { NOT_BUILT, WORK, openPage, startBrowser, startStack } from './stack.mjs';

const skip = NOT_BUILT;

let stack;
let page;
let keyFile;
let channelSkip = 'not probed';

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
  const method = await page.evaluate(async () => {
    const c = await WebShell.connect({ privateKey: webShellApp.pair.privateKey });
    c.close();
    return c.method;
  });
  channelSkip = method === 'channel' ? false : 'this ptyd has no exec channel yet (it chose the sentinel method)';
});

after(async () => {
  if (stack) await stack.stop();
});

// execCommand in the page; resolves to the result (Uint8Array fields as arrays), or { code, message }.
// options.stdinBytes: an array of byte values for stdin; options.abortAfterMs: abort then.
function run(command, options = {}) {
  return page.evaluate(async ([command, options]) => {
    const opts = { privateKey: webShellApp.pair.privateKey, ...options };
    if (options.badToken) opts.token = () => options.badToken;
    if (options.stdinBytes) opts.stdin = Uint8Array.from(options.stdinBytes);
    if (options.stdinRepeat) opts.stdin = new Uint8Array(options.stdinRepeat).fill(0x61);
    if (options.abortAfterMs) {
      const ac = new AbortController();
      setTimeout(() => ac.abort(), options.abortAfterMs);
      opts.signal = ac.signal;
    }
    const t0 = performance.now();
    try {
      const r = await WebShell.execCommand(command, opts);
      const plain = (v) => (v instanceof Uint8Array ? Array.from(v) : v);
      return { ...r, stdout: plain(r.stdout), stderr: plain(r.stderr), ms: performance.now() - t0 };
    } catch (e) {
      return { code: e.code, message: e.message, name: e.name, ms: performance.now() - t0 };
    }
  }, [command, options]);
}

function expect(r, want, what) {
  assert.equal(r.message, undefined, `${what}: rejected: ${r.message}`);
  for (const [k, v] of Object.entries(want)) assert.deepEqual(r[k], v, `${what}: ${k}`);
}

function pgrep(pattern) {
  try {
    execFileSync('pgrep', ['-f', pattern]);
    return true;
  } catch {
    return false;
  }
}

async function waitFor(cond, what, ms = 8000) {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const ALL_BYTES = Array.from({ length: 256 }, (_, i) => i);

for (const method of ['channel', 'sentinel']) {
  const skipIt = () => skip || (method === 'channel' ? channelSkip : false);
  const m = { method };
  describe(`${method} method`, () => {
    test('exit codes 0, 1, 127 and 255; output; a script with set -e', { skip: skip || undefined }, async (t) => {
      if (skipIt()) return t.skip(skipIt());
      expect(await run('echo hello world', m), { stdout: 'hello world\n', exitCode: 0, signal: null }, 'echo');
      expect(await run('false', m), { stdout: '', exitCode: 1 }, 'false');
      expect(await run('no-such-command-ws 2>/dev/null', m), { exitCode: 127 }, '127');
      expect(await run('exit 255', m), { exitCode: 255 }, '255');
      const script = 'set -e\nsum() { echo $(( $1 + $2 )); }\nfor i in 1 2 3; do\n  sum $i 10\ndone\nfalse\necho unreachable';
      expect(await run(script, m), { stdout: '11\n12\n13\n', exitCode: 1 }, 'script');
      return undefined;
    });

    test('death by a signal', { skip: skip || undefined }, async (t) => {
      if (skipIt()) return t.skip(skipIt());
      const r = await run('echo before; kill -KILL $$', m);
      // The channel reports the signal; a shell over a terminal can only say 128+N.
      if (method === 'channel') expect(r, { stdout: 'before\n', exitCode: null, signal: 'KILL' }, 'KILL');
      else expect(r, { stdout: 'before\n', exitCode: 137 }, 'KILL');
      return undefined;
    });

    test('stderr: apart on the channel, merged into stdout by the sentinel method', { skip: skip || undefined }, async (t) => {
      if (skipIt()) return t.skip(skipIt());
      const r = await run('echo out1; echo err1 >&2; echo out2; exit 3', m);
      if (method === 'channel') expect(r, { stdout: 'out1\nout2\n', stderr: 'err1\n', exitCode: 3 }, 'stderr apart');
      else expect(r, { stdout: 'out1\nerr1\nout2\n', stderr: '', exitCode: 3 }, 'stderr merged');
      return undefined;
    });

    test('binary: all 256 byte values through stdin and back, and from printf', { skip: skip || undefined }, async (t) => {
      if (skipIt()) return t.skip(skipIt());
      expect(await run('cat', { ...m, encoding: 'binary', stdinBytes: ALL_BYTES }), { stdout: ALL_BYTES, exitCode: 0 }, 'cat');
      const printf = ALL_BYTES.map((b) => `\\${b.toString(8).padStart(3, '0')}`).join('');
      expect(await run(`printf '${printf}'`, { ...m, encoding: 'binary' }), { stdout: ALL_BYTES, exitCode: 0 }, 'printf');
      return undefined;
    });

    test('stdin with EOF: cat, read, and wc -c of a large input', { skip: skip || undefined }, async (t) => {
      if (skipIt()) return t.skip(skipIt());
      expect(await run('cat; echo "<eof>"', { ...m, stdin: 'line 1\nline 2\n' }), { stdout: 'line 1\nline 2\n<eof>\n', exitCode: 0 }, 'cat');
      expect(await run('read -r x; echo "got $x"; read -r y; echo "rc=$?"', { ...m, stdin: 'one' }), { stdout: 'got one\nrc=1\n', exitCode: 0 }, 'read');
      expect(await run('cat; echo "rc=$?"', m), { stdout: 'rc=0\n', exitCode: 0 }, 'no stdin: at once EOF');
      // The channel streams it with flow control; the sentinel method embeds it (up to 4 MiB).
      const size = method === 'channel' ? 10 * 1000 * 1000 : 1000 * 1000;
      expect(await run('wc -c', { ...m, stdinRepeat: size, timeoutMs: 60000 }), { stdout: `${size}\n`, exitCode: 0 }, 'wc -c');
      return undefined;
    });

    test('a long command: 1 MiB on the channel, 256 KiB typed into a terminal', { skip: skip || undefined }, async (t) => {
      if (skipIt()) return t.skip(skipIt());
      // A terminal takes input at a few hundred KB/s (bash reads it byte by byte): the sentinel
      // method handles up to 4 MiB, slowly (README); 256 KiB is past one argv string's limit.
      const size = method === 'channel' ? 1048576 : 262144;
      const word = 'abcdefghij漢'.repeat(80660).slice(0, size - 60);
      const r = await run(`v='${word}'; printf %s "$v" | wc -c; printf %s "$v" | md5sum | cut -c1-8`, { ...m, timeoutMs: 60000 });
      const bytes = Buffer.from(word);
      const md5 = execFileSync('md5sum', { input: bytes }).toString().slice(0, 8);
      expect(r, { stdout: `${bytes.length}\n${md5}\n`, exitCode: 0 }, `${size} bytes`);
      return undefined;
    });

    test('100 commands on one connection, each with its own output and status', { skip: skip || undefined }, async (t) => {
      if (skipIt()) return t.skip(skipIt());
      const results = await page.evaluate(async (method) => {
        const conn = await WebShell.connect({ privateKey: webShellApp.pair.privateKey, method });
        try {
          return await Promise.all(Array.from({ length: 100 }, (_, i) =>
            conn.exec(`echo call-${i}; seq 1 ${i * 100} | wc -l; echo e${i} >&2; exit $((${i} % 7))`)));
        } finally {
          conn.close();
        }
      }, method);
      results.forEach((r, i) => {
        const out = method === 'channel' ? `call-${i}\n${i * 100}\n` : `call-${i}\n${i * 100}\ne${i}\n`;
        assert.equal(r.stdout, out, `call ${i}`);
        assert.equal(r.exitCode, i % 7, `call ${i}`);
        if (method === 'channel') assert.equal(r.stderr, `e${i}\n`);
      });
      return undefined;
    });

    test('cancel by AbortSignal: resolves cancelled, nothing left running', { skip: skip || undefined }, async (t) => {
      if (skipIt()) return t.skip(skipIt());
      const tag = `sleep 4${method.length}${Date.now() % 1000}.5`;
      const r = await run(`${tag} & ${tag}; echo not-cancelled`, { ...m, abortAfterMs: 400 });
      assert.equal(r.message, undefined, r.message);
      assert.equal(r.cancelled, true);
      assert.ok(!String(r.stdout).includes('not-cancelled'));
      assert.ok(r.ms < 5000, `resolved after ${r.ms} ms`);
      await waitFor(() => !pgrep(tag), `${tag} (both, the background one too) is gone`);
      const early = await page.evaluate(async (method) => {
        try {
          await WebShell.execCommand('true', { privateKey: webShellApp.pair.privateKey, method, signal: AbortSignal.abort() });
          return null;
        } catch (e) {
          return e.code;
        }
      }, method);
      assert.equal(early, 'cancelled', 'an aborted signal before the start rejects');
      return undefined;
    });

    test('timeout: resolves timedOut, nothing left running', { skip: skip || undefined }, async (t) => {
      if (skipIt()) return t.skip(skipIt());
      const tag = `sleep 5${method.length}${Date.now() % 1000}.5`;
      const r = await run(`${tag}; echo late`, { ...m, timeoutMs: 700 });
      assert.equal(r.message, undefined, r.message);
      assert.equal(r.timedOut, true);
      assert.equal(r.exitCode, null);
      assert.ok(r.ms >= 650 && r.ms < 6000, `resolved after ${r.ms} ms`);
      await waitFor(() => !pgrep(tag), `${tag} is gone`);
      return undefined;
    });

    test('a command cannot fake its end: forged markers, guessed nonces, frames, /dev/tty', { skip: skip || undefined }, async (t) => {
      if (skipIt()) return t.skip(skipIt());
      const cmd = [
        "printf '\\033]8487;E;00000000000000000000000000000000;0\\007'",
        'printf "\\033]8487;E;%s;0\\007" "$_"',
        'printf "\\033]8487;E;%s;0\\007" "$(history 2>/dev/null | grep -o "[0-9a-f]\\{32\\}" | head -1)"',
        // An exec-channel status frame for command id 1, as bytes on stdout.
        "printf '\\003\\000\\000\\000\\001{\"exitCode\":0}'",
        'exec 3</dev/tty 2>/dev/null || echo no-tty',
        'echo still-running',
        'exit 5',
      ].join('\n');
      const r = await run(cmd, m);
      assert.equal(r.message, undefined, r.message);
      assert.equal(r.exitCode, 5);
      assert.match(r.stdout, /no-tty\nstill-running\n$/);
      return undefined;
    });

    test('env and cwd', { skip: skip || undefined }, async (t) => {
      if (skipIt()) return t.skip(skipIt());
      expect(await run('echo "$GREETING" "$(pwd)"', { ...m, env: { GREETING: "it's me" }, cwd: '/tmp' }),
        { stdout: "it's me /tmp\n", exitCode: 0 }, 'env+cwd');
      return undefined;
    });

    test('streaming: onStdout sees the output as it comes; maxOutputBytes stops a flood', { skip: skip || undefined }, async (t) => {
      if (skipIt()) return t.skip(skipIt());
      const r = await page.evaluate(async (method) => {
        const chunks = [];
        const res = await WebShell.execCommand('for i in 1 2 3; do echo tick $i; sleep 0.1; done', {
          privateKey: webShellApp.pair.privateKey, method, onStdout: (s) => chunks.push(s),
        });
        let flood;
        try {
          await WebShell.execCommand('yes', { privateKey: webShellApp.pair.privateKey, method, maxOutputBytes: 100000 });
        } catch (e) {
          flood = e.code;
        }
        return { chunks, stdout: res.stdout, flood };
      }, method);
      assert.equal(r.chunks.join(''), 'tick 1\ntick 2\ntick 3\n');
      assert.ok(r.chunks.length >= 2, `${r.chunks.length} chunks`);
      assert.equal(r.stdout, '', 'streamed output is not kept twice');
      assert.equal(r.flood, 'output-limit');
      await waitFor(() => !pgrep('^yes$'), 'yes is gone');
      return undefined;
    });
  });
}

test('the channel: a connection ending before the status is an error, never success', { skip }, async (t) => {
  if (channelSkip) return t.skip(channelSkip);
  const r = await page.evaluate(async () => {
    const conn = await WebShell.connect({ privateKey: webShellApp.pair.privateKey });
    const p = conn.exec('sleep 30');
    setTimeout(() => conn.close(), 300);
    try {
      await p;
      return null;
    } catch (e) {
      return e.code;
    }
  });
  assert.equal(r, 'connection-lost');
  return undefined;
});

test('execCommand sends its start right behind the upgrade, before the hello arrives (pipelined)', { skip }, async (t) => {
  if (channelSkip) return t.skip(channelSkip);
  const r = await page.evaluate(async () => {
    // Every exec-channel frame of the page's sockets, in the order the page sees them.
    const order = [];
    const Native = WebSocket;
    globalThis.WebSocket = class extends Native {
      constructor(...a) {
        super(...a);
        this.addEventListener('message', (ev) => {
          if (this.protocol === 'webshell-exec.v1') order.push(`recv ${new Uint8Array(ev.data)[0]}`);
        });
      }

      send(b) {
        if (this.protocol === 'webshell-exec.v1') order.push(`send ${new Uint8Array(b)[0]}`);
        return super.send(b);
      }
    };
    try {
      const res = await WebShell.execCommand('echo piped; exit 5', { privateKey: webShellApp.pair.privateKey });
      return { order, stdout: res.stdout, exitCode: res.exitCode };
    } finally {
      globalThis.WebSocket = Native;
    }
  });
  assert.deepEqual([r.stdout, r.exitCode], ['piped\n', 5]);
  assert.deepEqual(r.order.slice(0, 2), ['send 16', 'recv 32'], `start (16) before the hello (32): ${r.order}`);
  assert.equal(r.order.at(-1), 'recv 3', 'the status last');
  return undefined;
});

test('a login shell with Debian default rc files (bash-completion, colour prompt) on both methods', { skip }, async () => {
  const work = join(WORK, 'stack-login');
  const home = join(work, 'home');
  cpSync('/etc/skel', home, { recursive: true });
  // ptyd sets HOME from the account (root's own dotfiles here): env points the login shell at
  // a fresh /etc/skel copy, which is what a new account on Debian has.
  const login = await startStack(work, { shell: ['/usr/bin/env', `HOME=${home}`, '/bin/bash', '-l'] });
  try {
    await login.startVerifier([keyFile]);
    const r = await page.evaluate(async (url) => {
      const out = {};
      for (const method of ['auto', 'sentinel']) {
        const res = await WebShell.execCommand('echo "[$HOME]"; printf "a\\tb\\n"; exit 4', { url, privateKey: webShellApp.pair.privateKey, method });
        out[method] = { stdout: res.stdout, exitCode: res.exitCode };
      }
      return out;
    }, login.wsUrl);
    for (const method of ['auto', 'sentinel']) {
      assert.match(r[method].stdout, /^\[.*\]\na\tb\n$/, `${method}: ${JSON.stringify(r[method].stdout)}`);
      assert.equal(r[method].exitCode, 4, method);
    }
  } finally {
    await login.stop();
  }
});

test('ptyd --no-exec: connect() falls back to the sentinel method by itself', { skip }, async () => {
  const noExec = await startStack(join(WORK, 'stack-no-exec'), { ptydArgs: ['--no-exec'] });
  try {
    await noExec.startVerifier([keyFile]);
    const r = await page.evaluate(async (url) => {
      const conn = await WebShell.connect({ url, privateKey: webShellApp.pair.privateKey });
      try {
        const a = await conn.exec('echo out; echo err >&2; exit 3');
        const b = await conn.exec('cat', { encoding: 'binary', stdin: Uint8Array.from({ length: 256 }, (_, i) => i) });
        return { method: conn.method, a, b: Array.from(b.stdout) };
      } finally {
        conn.close();
      }
    }, noExec.wsUrl);
    assert.equal(r.method, 'sentinel');
    assert.deepEqual([r.a.stdout, r.a.stderr, r.a.exitCode, r.a.method], ['out\nerr\n', '', 3, 'sentinel']);
    assert.deepEqual(r.b, ALL_BYTES);
  } finally {
    await noExec.stop();
  }
});

test('refusals: bad token (401), nothing listening, verifier down (502); no token in any message', { skip }, async () => {
  const r = await run('echo never', { badToken: 'eyJhbGciOiJFZERTQSJ9.e30.AAAA' });
  assert.equal(r.code, 'unauthorized', r.message);
  assert.match(r.message, /token was rejected/);
  assert.ok(!r.message.includes('eyJ'), 'the token is not in the message');
  const aud = await run('echo never', { audience: 'elsewhere.example' });
  assert.equal(aud.code, 'unauthorized', 'wrong audience');
  const closed = await freePort();
  const refused = await run('true', { url: `ws://127.0.0.1:${closed}/ws` });
  assert.equal(refused.code, 'refused');
  assert.match(refused.message, new RegExp(`connection refused: nothing answers at ws://127.0.0.1:${closed}/ws`));
  await stack.stopVerifier();
  const down = await run('true');
  assert.equal(down.code, 'gateway');
  assert.match(down.message, /answered HTTP 502/);
  await stack.startVerifier([keyFile]);
  expect(await run('echo back'), { stdout: 'back\n', exitCode: 0 }, 'works again');
  assert.deepEqual(page.problems.filter((p) => p.startsWith('pageerror')), [], 'no uncaught exception in the page');
});
