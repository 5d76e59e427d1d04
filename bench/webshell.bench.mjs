// bench/webshell.bench.mjs: execCommand round trip and terminal connect-to-prompt time, measured in
// Debian's Chromium through Caddy, jwt-verify and ptyd on loopback (tests/browser/stack.mjs).
// Prints a table of medians and p99 beside the targets. Usage: node bench/webshell.bench.mjs [RUNS]
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openPage, startBrowser, startStack } from '../tests/browser/stack.mjs';

const RUNS = Number(process.argv[2] || 200);
const WARMUP = 10;

function quantile(sorted, q) {
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)];
}

function summary(samples) {
  const s = [...samples].sort((a, b) => a - b);
  return { median: quantile(s, 0.5), p99: quantile(s, 0.99), n: s.length };
}

// In the page: n timed calls of fn after WARMUP untimed ones, in milliseconds.
const measure = {
  exec: async (n, warmup) => {
    const opts = { privateKey: webShellApp.pair.privateKey };
    const times = [];
    for (let i = 0; i < n + warmup; i++) {
      const t0 = performance.now();
      const r = await WebShell.execCommand('true', opts);
      if (r.exitCode !== 0) throw new Error(`true exited ${r.exitCode}`);
      if (i >= warmup) times.push(performance.now() - t0);
    }
    return times;
  },
  // The floor under execCommand: token, handshake through Caddy, shell start, one printf.
  raw: async (n, warmup) => {
    const times = [];
    const enc = new TextEncoder();
    for (let i = 0; i < n + warmup; i++) {
      const t0 = performance.now();
      const token = await WebShell.createJwt(webShellApp.pair.privateKey, { audience: location.hostname });
      const ws = new WebSocket(`${WebShell.resolveUrl('', { base: location.href })}?token=${token}`, ['tty']);
      ws.binaryType = 'arraybuffer';
      await new Promise((resolve, reject) => {
        let seen = '';
        ws.onerror = () => reject(new Error('raw WebSocket failed'));
        ws.onopen = () => {
          ws.send(enc.encode(JSON.stringify({ AuthToken: '', columns: 500, rows: 50 })));
          ws.send(enc.encode("0 printf '\\033]8487;R\\007'\r"));
        };
        ws.onmessage = (m) => {
          seen += new TextDecoder().decode(new Uint8Array(m.data).subarray(1));
          if (seen.includes('\x1b]8487;R\x07')) resolve();
        };
      });
      ws.close();
      if (i >= warmup) times.push(performance.now() - t0);
    }
    return times;
  },
  sign: async (n, warmup) => {
    const times = [];
    for (let i = 0; i < n + warmup; i++) {
      const t0 = performance.now();
      await WebShell.createJwt(webShellApp.pair.privateKey, { audience: '127.0.0.1' });
      if (i >= warmup) times.push(performance.now() - t0);
    }
    return times;
  },
  prompt: async (n, warmup) => {
    const host = document.createElement('div');
    host.style.cssText = 'width:800px;height:400px';
    document.body.append(host);
    const times = [];
    for (let i = 0; i < n + warmup; i++) {
      const t0 = performance.now();
      const session = WebShell.connectTerminal(host, { privateKey: webShellApp.pair.privateKey });
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
    host.remove();
    return times;
  },
  // The same, reusing one xterm.js terminal: reconnect() only (what Enter after exit does).
  reprompt: async (n, warmup) => {
    const host = document.createElement('div');
    host.style.cssText = 'width:800px;height:400px';
    document.body.append(host);
    const session = WebShell.connectTerminal(host, { privateKey: webShellApp.pair.privateKey });
    await session.ready;
    const times = [];
    for (let i = 0; i < n + warmup; i++) {
      session.disconnect();
      session.terminal.reset();
      const t0 = performance.now();
      const prompt = new Promise((resolve) => {
        const sub = session.terminal.onWriteParsed(() => {
          const buf = session.terminal.buffer.active;
          if (/[#$] ?$/.test(buf.getLine(buf.cursorY + buf.baseY).translateToString(true))) {
            sub.dispose();
            resolve();
          }
        });
      });
      await session.reconnect();
      await prompt;
      if (i >= warmup) times.push(performance.now() - t0);
    }
    session.close();
    host.remove();
    return times;
  },
};

async function main() {
  const work = mkdtempSync(join(tmpdir(), 'webshell-bench-'));
  const stack = await startStack(work);
  try {
    const context = await startBrowser(stack);
    const page = await openPage(context, stack.pageUrl);
    const pem = await page.evaluate(async () => {
      webShellApp.pair = await WebShell.generateKeyPair();
      return WebShell.exportPublicKeyPem(webShellApp.pair.publicKey);
    });
    writeFileSync(join(work, 'key.pem'), pem);
    await stack.startVerifier([join(work, 'key.pem')]);
    const run = (name, n) => page.evaluate(`(${measure[name]})(${n}, ${WARMUP})`);
    const exec = summary(await run('exec', RUNS));
    const sign = summary(await run('sign', RUNS));
    const raw = summary(await run('raw', RUNS));
    const prompt = summary(await run('prompt', Math.max(20, Math.floor(RUNS / 4))));
    const reprompt = summary(await run('reprompt', Math.max(20, Math.floor(RUNS / 4))));
    const f = (ms) => `${ms.toFixed(1)} ms`;
    const rows = [
      ['execCommand("true") median (new connection + token)', f(exec.median), '< 15 ms', exec.median < 15],
      ['execCommand("true") p99', f(exec.p99), '-', null],
      ['  of which createJwt (EdDSA) median', f(sign.median), '-', null],
      ['  floor: token + handshake + shell start + one printf, median', f(raw.median), '-', null],
      ['terminal connect to first prompt, median (new xterm.js terminal)', f(prompt.median), '< 50 ms', prompt.median < 50],
      ['terminal connect to first prompt, p99', f(prompt.p99), '-', null],
      ['reconnect to first prompt, median (terminal already open)', f(reprompt.median), '< 50 ms', reprompt.median < 50],
    ];
    console.log(`webshell: Chromium -> Caddy -> jwt-verify + ptyd on loopback; ${exec.n} exec runs, ${prompt.n} connects`);
    console.log('| figure | measured | target | met |');
    console.log('| --- | --- | --- | --- |');
    for (const [name, got, target, met] of rows) {
      console.log(`| ${name} | ${got} | ${target} | ${met === null ? '' : met ? 'yes' : 'NO'} |`);
    }
  } finally {
    await stack.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(`webshell bench: ${e.stack || e}`);
  process.exit(1);
});
