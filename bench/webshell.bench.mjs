// bench/webshell.bench.mjs: web-shell.js in Debian's Chromium through Caddy, jwt-verify and ptyd on
// loopback (tests/browser/stack.mjs), a shell user with Debian's default rc files (/etc/skel):
// execCommand('true') on a new connection beside the stack's floor (token, handshake, first
// frame) measured in the same run, exec('true') on an open connection, 100 MB of stdout beside a
// terminal connection's throughput, the time from the network coming back to the first replayed
// byte, and connect-to-prompt. All timings are taken inside the page (performance.now()), and
// Playwright's network domain is never enabled (no route, no network events), so it copies no
// WebSocket frame. Prints a table of medians beside the targets.
// Usage: node bench/webshell.bench.mjs [RUNS]
import { cpSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startProxy } from '../tests/browser/proxy.mjs';
import { WEB_DIR, startBrowser, startStack } from '../tests/browser/stack.mjs';

const RUNS = Number(process.argv[2] || 100);
const WARMUP = 10;
const BIG = 100 * 1000 * 1000;

function quantile(sorted, q) {
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)];
}

function summary(samples) {
  const s = [...samples].sort((a, b) => a - b);
  return { median: quantile(s, 0.5), p99: quantile(s, 0.99), n: s.length };
}

const HARNESS = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>bench</title>
<link rel="stylesheet" href="vendor/xterm.css">
<script src="vendor/xterm.js"></script><script src="vendor/addon-fit.js"></script>
<script src="vendor/web-shell.classic.js"></script></head>
<body><div id="term" style="width:900px;height:480px"></div></body></html>`;

// In the page: timed runs after warm-up ones, in milliseconds.
const measure = {
  // A new connection each time: token, handshake, exec channel (or the sentinel method), `true`.
  exec: async ([n, warmup]) => {
    const opts = { privateKey: globalThis.pair.privateKey };
    const times = [];
    let method = null;
    for (let i = 0; i < n + warmup; i++) {
      const t0 = performance.now();
      const r = await WebShell.execCommand('true', opts);
      if (r.exitCode !== 0) throw new Error(`true exited ${r.exitCode}`);
      method = r.method;
      if (i >= warmup) times.push(performance.now() - t0);
    }
    return { times, method };
  },
  // The floor under it: a token, the handshake through Caddy and the verifier, the first frame
  // from ptyd (the exec channel's hello; over tty, the shell's first output).
  floor: async ([n, warmup]) => {
    const times = [];
    for (let i = 0; i < n + warmup; i++) {
      const t0 = performance.now();
      const token = await WebShell.createJwt(globalThis.pair.privateKey, { audience: location.hostname });
      const url = `${WebShell.resolveUrl('', { base: location.href })}`;
      const ws = new WebSocket(url, ['webshell-exec.v1', 'tty', `webshell.bearer.${token}`]);
      ws.binaryType = 'arraybuffer';
      await new Promise((resolve, reject) => {
        ws.onerror = () => reject(new Error('floor WebSocket failed'));
        ws.onopen = () => {
          if (ws.protocol === 'tty') ws.send(new TextEncoder().encode(JSON.stringify({ AuthToken: '', columns: 80, rows: 24 })));
        };
        ws.onmessage = () => resolve();
      });
      ws.close();
      if (i >= warmup) times.push(performance.now() - t0);
    }
    return { times };
  },
  open: async ([n, warmup]) => {
    const conn = await WebShell.connect({ privateKey: globalThis.pair.privateKey });
    const times = [];
    for (let i = 0; i < n + warmup; i++) {
      const t0 = performance.now();
      const r = await conn.exec('true');
      if (r.exitCode !== 0) throw new Error(`true exited ${r.exitCode}`);
      if (i >= warmup) times.push(performance.now() - t0);
    }
    conn.close();
    return { times, method: conn.method };
  },
  // 100 MB through a command's stdout, counted as it streams (binary, nothing kept).
  stdout: async ([bytes]) => {
    let got = 0;
    const t0 = performance.now();
    const r = await WebShell.execCommand(`head -c ${bytes} /dev/zero`, {
      privateKey: globalThis.pair.privateKey, encoding: 'binary', timeoutMs: 600000, maxOutputBytes: bytes + 1,
      onStdout: (chunk) => { got += chunk.length; },
    });
    const ms = performance.now() - t0;
    if (got !== bytes || r.exitCode !== 0) throw new Error(`stdout: ${got} bytes, exit ${r.exitCode}`);
    return { mbps: bytes / 1e6 / (ms / 1000), method: r.method };
  },
  // The same bytes through a terminal connection (ttyd protocol, no xterm.js rendering).
  terminal: async ([bytes]) => {
    const token = await WebShell.createJwt(globalThis.pair.privateKey, { audience: location.hostname });
    const ws = new WebSocket(WebShell.resolveUrl('', { base: location.href }), ['tty', `webshell.bearer.${token}`]);
    ws.binaryType = 'arraybuffer';
    const enc = new TextEncoder();
    // The payload is framed by two markers typed as printf escapes, so the echo never matches.
    const start = '\x1b]8487;B\x07';
    const end = '\x1b]8487;F\x07';
    return new Promise((resolve, reject) => {
      let t0 = null;
      let got = 0;
      let tail = '';
      ws.onerror = () => reject(new Error('terminal WebSocket failed'));
      ws.onopen = () => {
        ws.send(enc.encode(JSON.stringify({ AuthToken: '', columns: 200, rows: 50 })));
        ws.send(enc.encode(`0 stty -opost; printf '\\033]8487;B\\007'; head -c ${bytes} /dev/zero; printf '\\033]8487;F\\007'\r`));
      };
      ws.onmessage = (m) => {
        const data = new Uint8Array(m.data);
        if (data[0] !== 0x30) return;
        if (t0 === null) {
          const text = tail + new TextDecoder('latin1').decode(data.subarray(1));
          const at = text.indexOf(start);
          if (at === -1) {
            tail = text.slice(-16);
            return;
          }
          t0 = performance.now();
          got = text.length - at - start.length;
          return;
        }
        got += data.length - 1;
        if (got >= bytes) {
          const last = new TextDecoder('latin1').decode(data.subarray(Math.max(1, data.length - 16)));
          if (last.includes(end)) {
            const ms = performance.now() - t0;
            ws.close();
            resolve({ mbps: bytes / 1e6 / (ms / 1000) });
          }
        }
      };
    });
  },
  prompt: async ([n, warmup]) => {
    const host = document.getElementById('term');
    const times = [];
    for (let i = 0; i < n + warmup; i++) {
      const t0 = performance.now();
      const session = WebShell.connectTerminal(host, { privateKey: globalThis.pair.privateKey, storage: null });
      await new Promise((resolve, reject) => {
        session.addEventListener('error', (e) => reject(e.detail.error));
        const sub = session.terminal.onWriteParsed(() => {
          const buf = session.terminal.buffer.active;
          if (/[#$] ?$/.test(buf.getLine(buf.cursorY + buf.baseY).translateToString(true))) {
            sub.dispose();
            resolve();
          }
        });
      });
      if (i >= warmup) times.push(performance.now() - t0);
      session.close();
    }
    return { times };
  },
};

// Network back to first replayed byte: the proxy parks connections (a network that drops
// packets), the client's reconnection waits parked, the proxy lets it through; the page stamps
// every write into the terminal. Wall-clock stamps (timeOrigin + now) on both sides.
async function resumeTimes(page, proxy, n) {
  const ok = await page.evaluate(async (url) => {
    const s = WebShell.connectTerminal(document.getElementById('term'), { url, privateKey: globalThis.pair.privateKey, storage: null });
    await s.ready;
    await new Promise((r) => setTimeout(r, 500));
    if (!s.id) return false;
    globalThis.stamps = [];
    const term = s.terminal;
    const write = term.write.bind(term);
    term.write = (data, cb) => {
      globalThis.stamps.push(performance.timeOrigin + performance.now());
      return write(data, cb);
    };
    globalThis.resumeSession = s;
    term.input('while :; do echo tick; sleep 0.02; done\r');
    return true;
  }, `ws://127.0.0.1:${proxy.port}/ws`);
  if (!ok) return null;
  const times = [];
  for (let i = 0; i < n; i++) {
    proxy.hold();
    await new Promise((r) => setTimeout(r, 300)); // the client's attempt is parked by now
    const back = proxy.release();
    await new Promise((r) => setTimeout(r, 400));
    const first = await page.evaluate((t) => globalThis.stamps.find((s) => s > t), back);
    if (first !== undefined) times.push(first - back);
  }
  await page.evaluate(() => globalThis.resumeSession.close());
  return times;
}

async function main() {
  const work = mkdtempSync(join(tmpdir(), 'webshell-bench-'));
  const site = join(work, 'site');
  const home = join(work, 'user-home');
  mkdirSync(site);
  writeFileSync(join(site, 'index.html'), HARNESS);
  symlinkSync(join(WEB_DIR, 'vendor'), join(site, 'vendor'));
  cpSync('/etc/skel', home, { recursive: true });
  // ptyd sets HOME from the account: env points the login shell at the /etc/skel copy.
  const stack = await startStack(join(work, 'stack'), { webRoot: site, shell: ['/usr/bin/env', `HOME=${home}`, '/bin/bash', '-l'] });
  let proxy = null;
  try {
    const context = await startBrowser(stack);
    const page = await context.newPage();
    await page.goto(stack.pageUrl);
    await page.waitForFunction(() => globalThis.WebShell !== undefined);
    const pem = await page.evaluate(async () => {
      globalThis.pair = await WebShell.generateKeyPair();
      return WebShell.exportPublicKeyPem(globalThis.pair.publicKey);
    });
    writeFileSync(join(work, 'key.pem'), pem);
    await stack.startVerifier([join(work, 'key.pem')]);
    proxy = await startProxy(stack.caddyPort);
    const run = (name, ...args) => page.evaluate(`(${measure[name]})(${JSON.stringify(args)})`);
    const exec = await run('exec', RUNS, WARMUP);
    const floor = await run('floor', RUNS, WARMUP);
    const open = await run('open', RUNS, WARMUP);
    const out = await run('stdout', BIG);
    const term = await run('terminal', BIG);
    const prompt = summary((await run('prompt', Math.max(20, Math.floor(RUNS / 4)), 5)).times);
    const resume = await resumeTimes(page, proxy, 20);
    const e = summary(exec.times);
    const f = summary(floor.times);
    const o = summary(open.times);
    const ms = (x) => `${x.toFixed(1)} ms`;
    const channel = exec.method === 'channel';
    const rows = [
      [`execCommand('true'), new connection (${exec.method}), median`, ms(e.median), `floor + 3 ms = ${ms(f.median + 3)}`, channel ? e.median <= f.median + 3 : false],
      ['  p99', ms(e.p99), '-', null],
      ['  floor: token + handshake + first frame, median', ms(f.median), '-', null],
      [`exec('true') on an open connection (${open.method}), median`, ms(o.median), '< 3 ms', o.median < 3],
      [`100 MB through stdout (${out.method})`, `${out.mbps.toFixed(1)} MB/s`, `>= half the terminal's: ${(term.mbps / 2).toFixed(1)} MB/s`, out.mbps >= term.mbps / 2],
      ['  terminal connection throughput, same bytes', `${term.mbps.toFixed(1)} MB/s`, '-', null],
      resume ? ['network back to first replayed byte, median', ms(summary(resume).median), '< 30 ms', summary(resume).median < 30] :
        ['network back to first replayed byte', 'n/a: this ptyd keeps no sessions', '< 30 ms', false],
      ['terminal connect to first prompt (login bash, Debian rc files), median', ms(prompt.median), '< 50 ms', prompt.median < 50],
    ];
    console.log(`webshell: Chromium -> Caddy -> jwt-verify + ptyd on loopback; ${e.n} runs each; timings in the page`);
    console.log('| figure | measured | target | met |');
    console.log('| --- | --- | --- | --- |');
    for (const [name, got, target, met] of rows) {
      console.log(`| ${name} | ${got} | ${target} | ${met === null ? '' : met ? 'yes' : 'NO'} |`);
    }
  } finally {
    if (proxy) await proxy.close();
    await stack.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(`webshell bench: ${e.stack || e}`);
  process.exit(1);
});
