// bench/webshell.bench.mjs: web-shell.js in Debian's Chromium through Caddy, jwt-verify and ptyd on
// loopback (tests/browser/stack.mjs), a shell user with Debian's default rc files (/etc/skel):
// execCommand('true') on a new connection beside the stack's floor (token, handshake, first
// frame, each part stamped, and the same floor straight to ptyd) measured in the same run;
// exec('true') on an open connection beside exec(['true']) (argv: no shell), exec(['/bin/bash',
// '-c', 'true']) (the shell's own start-up) and a sessions() round trip (no process: the
// transport's floor), each split in the page (before the start frame, start to status, status
// to result) and beside the child's own spawn-to-reap time from ptyd's exec_end lines, also
// straight to ptyd (Caddy's share), and with pauses between commands against ptyd as it is by
// default (a shell started ahead) and ptyd --no-exec-warm-shell; 100 MB of stdout beside a
// terminal connection's throughput, the time from the network coming back to the first replayed
// byte, and connect-to-prompt. All timings are taken inside the page (performance.now()), and
// Playwright's network domain is never enabled (no route, no network events), so it copies no
// WebSocket frame. Prints a table of medians beside the targets.
// Usage: node bench/webshell.bench.mjs [RUNS]   (WEBSHELL_BENCH_ONLY=exec: the exec rows only;
// WEBSHELL_BENCH_TLS=1: over https/wss with Caddy's `tls internal`)
import { cpSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { startProxy } from '../tests/browser/proxy.mjs';
import { BUILD, WEB_DIR, startBrowser, startStack } from '../tests/browser/stack.mjs';
import { freePort, startServer } from '../tests/webshell-js/helpers.mjs';

const RUNS = Number(process.argv[2] || 100);
// WEBSHELL_BENCH_ONLY=exec: the exec figures only (no 100 MB, prompt or resume runs).
const ONLY = process.env.WEBSHELL_BENCH_ONLY || '';
// The pause between new connections in the rows past Chromium's throttle (WEBSHELL_BENCH_GAP_MS).
const GAP_MS = Number(process.env.WEBSHELL_BENCH_GAP_MS || 15);
// WEBSHELL_BENCH_TLS=1: the page and /ws over https/wss (Caddy's `tls internal`), as deployed.
const TLS = process.env.WEBSHELL_BENCH_TLS === '1';
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
  // A new connection each time: token, handshake, exec channel (or the sentinel method), `true`;
  // gapMs between connections (0: back to back; Chromium holds a new WebSocket to the same
  // address and port until 10 ms after the previous one's handshake, RFC 6455 4.1 throttling).
  // viaConnect: connect() (which waits for the hello), exec, close: what execCommand did before
  // it pipelined its start behind the upgrade.
  exec: async ([n, warmup, gapMs = 0, viaConnect = false]) => {
    const opts = { privateKey: globalThis.pair.privateKey };
    const times = [];
    let method = null;
    const once = async () => {
      if (!viaConnect) return WebShell.execCommand('true', opts);
      const conn = await WebShell.connect(opts);
      try {
        return await conn.exec('true', { timeoutMs: 30000 });
      } finally {
        conn.close();
      }
    };
    for (let i = 0; i < n + warmup; i++) {
      if (gapMs) await new Promise((r) => setTimeout(r, gapMs));
      const t0 = performance.now();
      const r = await once();
      if (r.exitCode !== 0) throw new Error(`true exited ${r.exitCode}`);
      method = r.method;
      if (i >= warmup) times.push(performance.now() - t0);
    }
    return { times, method };
  },
  // The floor under it: a token, the handshake through Caddy and the verifier, the first frame
  // from ptyd (the exec channel's hello; over tty, the shell's first output). Each part is
  // stamped: token signed, socket open (101 received), first frame. url: where to connect
  // (default the page's /ws through Caddy; the direct rows go to ptyd's own port).
  floor: async ([n, warmup, direct, gapMs = 0]) => {
    const times = [];
    const parts = { token: [], open: [], frame: [] };
    const url = direct || WebShell.resolveUrl('', { base: location.href });
    for (let i = 0; i < n + warmup; i++) {
      if (gapMs) await new Promise((r) => setTimeout(r, gapMs));
      const t0 = performance.now();
      const token = await WebShell.createJwt(globalThis.pair.privateKey, { audience: location.hostname });
      const t1 = performance.now();
      // Straight to ptyd, the token is signed all the same but not sent (Caddy strips it).
      const ws = new WebSocket(url, ['webshell-exec.v1', 'tty', ...(direct ? [] : [`webshell.bearer.${token}`])]);
      ws.binaryType = 'arraybuffer';
      let t2 = 0;
      await new Promise((resolve, reject) => {
        ws.onerror = () => reject(new Error('floor WebSocket failed'));
        ws.onopen = () => {
          t2 = performance.now();
          if (ws.protocol === 'tty') ws.send(new TextEncoder().encode(JSON.stringify({ AuthToken: '', columns: 80, rows: 24 })));
        };
        ws.onmessage = () => resolve();
      });
      const t3 = performance.now();
      ws.close();
      if (i >= warmup) {
        times.push(t3 - t0);
        parts.token.push(t1 - t0);
        parts.open.push(t2 - t1);
        parts.frame.push(t3 - t2);
      }
    }
    return { times, parts };
  },
  // New connections 15 ms apart (past Chromium's throttle), the kinds in turn so load changes hit
  // all alike: the floor (token, 101, first frame), execCommand('true') (its start pipelined
  // behind the upgrade), and connect() + exec('true') + close() (waits for the hello first, as
  // execCommand did before).
  gapmix: async ([n, warmup, gapMs]) => {
    const opts = { privateKey: globalThis.pair.privateKey };
    const url = WebShell.resolveUrl('', { base: location.href });
    const out = { floor: [], token: [], open: [], frame: [], exec: [], connect: [] };
    const pause = () => new Promise((r) => setTimeout(r, gapMs));
    for (let i = 0; i < n + warmup; i++) {
      await pause();
      const t0 = performance.now();
      const token = await WebShell.createJwt(opts.privateKey, { audience: location.hostname });
      const t1 = performance.now();
      const ws = new WebSocket(url, ['webshell-exec.v1', 'tty', `webshell.bearer.${token}`]);
      ws.binaryType = 'arraybuffer';
      let t2 = 0;
      await new Promise((resolve, reject) => {
        ws.onerror = () => reject(new Error('floor WebSocket failed'));
        ws.onopen = () => { t2 = performance.now(); };
        ws.onmessage = () => resolve();
      });
      const t3 = performance.now();
      ws.close();
      await pause();
      const t4 = performance.now();
      const r = await WebShell.execCommand('true', opts);
      const t5 = performance.now();
      await pause();
      const t6 = performance.now();
      const conn = await WebShell.connect(opts);
      const r2 = await conn.exec('true', { timeoutMs: 30000 });
      conn.close();
      const t7 = performance.now();
      if (r.exitCode !== 0 || r2.exitCode !== 0) throw new Error('true failed');
      if (i < warmup) continue;
      out.floor.push(t3 - t0);
      out.token.push(t1 - t0);
      out.open.push(t2 - t1);
      out.frame.push(t3 - t2);
      out.exec.push(t5 - t4);
      out.connect.push(t7 - t6);
    }
    return out;
  },
  // exec('true') on one open connection with pauses between commands (a program that runs a
  // command now and then), against each url: ptyd as is and ptyd --no-exec-warm-shell.
  // Also execCommand('true') (a new connection each time) the same way.
  paused: async ([n, warmup, pauseMs, urls]) => {
    const opts = { token: () => 'direct.no.token' };
    const conns = await Promise.all(urls.map((url) => WebShell.connect({ url, ...opts })));
    const times = urls.map(() => []);
    const fresh = urls.map(() => []);
    for (let i = 0; i < n + warmup; i++) {
      for (let k = 0; k < conns.length; k++) {
        await new Promise((r) => setTimeout(r, pauseMs));
        let t0 = performance.now();
        const r = await conns[k].exec('true');
        if (r.exitCode !== 0) throw new Error(`true exited ${r.exitCode}`);
        if (i >= warmup) times[k].push(performance.now() - t0);
        await new Promise((res) => setTimeout(res, pauseMs));
        t0 = performance.now();
        const r2 = await WebShell.execCommand('true', { url: urls[k], ...opts });
        if (r2.exitCode !== 0) throw new Error(`true exited ${r2.exitCode}`);
        if (i >= warmup) fresh[k].push(performance.now() - t0);
      }
    }
    for (const c of conns) c.close();
    return { times, fresh };
  },
  // On one open connection, each kind in turn (so load changes hit all alike): the shell
  // string 'true' (the account's shell with -c), argv ['true'] (no shell), argv
  // ['/bin/bash', '-c', 'true'] (the shell's own start-up, as a reference), and the sessions
  // request (a round trip through the same path with no process: the transport's floor).
  // Stamped in the page: the call, the start frame handed to the socket, the status frame
  // reaching web-shell.js's dispatch, the result.
  mix: async ([n, warmup, url]) => {
    // Straight to ptyd (url given), no real token: nothing there checks one.
    const conn = await WebShell.connect(url ? { url, token: () => 'direct.no.token' } : { privateKey: globalThis.pair.privateKey });
    const kinds = {
      shell: () => conn.exec('true'),
      argv: () => conn.exec(['true']),
      bash: () => conn.exec(['/bin/bash', '-c', 'true']),
      sessions: () => conn.sessions(),
    };
    const out = {};
    for (const k of Object.keys(kinds)) out[k] = { times: [], pre: [], net: [], post: [] };
    let sent = 0;
    let arrived = 0;
    const send = conn.ws.send.bind(conn.ws);
    conn.ws.send = (b) => {
      if (!sent) sent = performance.now();
      return send(b);
    };
    // The frame reaches web-shell.js's dispatch (decoded, nothing else done yet).
    const dispatch = conn.dispatchFrame.bind(conn);
    conn.dispatchFrame = (frame) => {
      if (frame.channel === 3 || frame.channel === 33) arrived = performance.now();
      return dispatch(frame);
    };
    for (let i = 0; i < n + warmup; i++) {
      for (const [k, run] of Object.entries(kinds)) {
        sent = 0;
        arrived = 0;
        const t0 = performance.now();
        const r = await run();
        const t1 = performance.now();
        if (k !== 'sessions' && r.exitCode !== 0) throw new Error(`${k}: true exited ${r.exitCode}`);
        if (i < warmup) continue;
        out[k].times.push(t1 - t0);
        out[k].pre.push(sent - t0);
        out[k].net.push(arrived - sent);
        out[k].post.push(t1 - arrived);
      }
    }
    conn.close();
    return { kinds: out, method: conn.method };
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
        // The end marker may share its frame with the prompt that follows it, or be split
        // across two frames: it is looked for in what came since the last frame's tail.
        const seen = tail + new TextDecoder('latin1').decode(data.subarray(Math.max(1, data.length - 256)));
        tail = seen.slice(-16);
        if (got >= bytes) {
          if (seen.includes(end)) {
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
  const stack = await startStack(join(work, 'stack'), { tls: TLS, webRoot: site, shell: ['/usr/bin/env', `HOME=${home}`, '/bin/bash', '-l'] });
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
    const direct = `ws://127.0.0.1:${stack.ptydPort}/ws`;
    const ptydLog = () => stack.servers.find((x) => x.name === 'ptyd').output();
    const exec = await run('exec', RUNS, WARMUP);
    const floor = await run('floor', RUNS, WARMUP);
    const floorDirect = await run('floor', RUNS, WARMUP, direct);
    // The same with 15 ms between connections: what Chromium's throttle leaves out.
    const half = Math.max(20, Math.floor(RUNS / 2));
    const gap = await run('gapmix', half, 5, GAP_MS);
    const floorDirectGap = await run('floor', half, 5, direct, GAP_MS);
    const logFrom = ptydLog().length;
    const mix = await run('mix', RUNS, WARMUP);
    const mixLog = ptydLog().slice(logFrom);
    const mixDirect = await run('mix', half, 5, direct);
    // A second ptyd with --no-exec-warm-shell (each script starts its shell), straight from the
    // page like the direct rows.
    const coldPort = await freePort();
    const coldPtyd = await startServer(join(BUILD, 'ptyd'), ['--listen', `127.0.0.1:${coldPort}`, '--allow-root',
      '--cwd', stack.home, '--no-exec-warm-shell', '--', '/bin/bash'], coldPort);
    let paused;
    try {
      paused = await run('paused', half, 5, 30, [direct, `ws://127.0.0.1:${coldPort}/ws`]);
    } finally {
      await coldPtyd.stop();
    }
    const full = !ONLY && !TLS; // over TLS: the exec rows only (the resume proxy speaks plain ws)
    const out = full ? await run('stdout', BIG) : null;
    const term = full ? await run('terminal', BIG) : null;
    const prompt = full ? summary((await run('prompt', Math.max(20, Math.floor(RUNS / 4)), 5)).times) : null;
    const resume = full ? await resumeTimes(page, proxy, 20) : null;
    const e = summary(exec.times);
    const f = summary(floor.times);
    const med = (xs) => summary(xs).median;
    const ms = (x) => `${x.toFixed(1)} ms`;
    const ms2 = (x) => `${x.toFixed(2)} ms`;
    const k = mix.kinds;
    const kd = mixDirect.kinds;
    const o = summary(k.shell.times);
    // What the child alone took, spawn to reap, from ptyd's own exec_end audit lines (by the
    // command's hash: a script's bytes, or each argv element and a NUL).
    const lived = (hashOf) => {
      const sha = createHash('sha256').update(hashOf).digest('hex');
      const re = new RegExp(`exec_end .*sha256=${sha} .*duration=([0-9.]+)`, 'g');
      const d = [...mixLog.matchAll(re)].map((m) => Number(m[1]) * 1000);
      return d.length ? med(d) : NaN;
    };
    const child = { shell: lived('true'), argv: lived('true\0'), bash: lived('/bin/bash\0-c\0true\0') };
    const inPage = (x) => `${ms2(med(x.pre))} + ${ms2(med(x.net))} + ${ms2(med(x.post))}`;
    const channel = exec.method === 'channel';
    const rows = [
      [`execCommand('true'), new connection (${exec.method}), median`, ms(e.median), `floor + 3 ms = ${ms(f.median + 3)}`, channel ? e.median <= f.median + 3 : false],
      ['  p99', ms(e.p99), '-', null],
      ['  floor: token + handshake + first frame, median', ms(f.median), '-', null],
      ['  floor parts: token signed / 101 received / first frame', `${ms2(med(floor.parts.token))} / ${ms2(med(floor.parts.open))} / ${ms2(med(floor.parts.frame))}`, '-', null],
      ['  floor straight to ptyd (no Caddy, no verifier): token / 101 / first frame', `${ms2(med(floorDirect.parts.token))} / ${ms2(med(floorDirect.parts.open))} / ${ms2(med(floorDirect.parts.frame))}`, '-', null],
      [`  ${GAP_MS} ms apart (no Chromium throttle): execCommand('true') / floor`, `${ms(med(gap.exec))} / ${ms(med(gap.floor))}`, `floor + 3 ms = ${ms(med(gap.floor) + 3)}`, channel ? med(gap.exec) <= med(gap.floor) + 3 : false],
      [`  ${GAP_MS} ms apart: connect() + exec('true') + close() (waits for the hello, as before pipelining)`, ms(med(gap.connect)), '(reference)', null],
      [`  ${GAP_MS} ms apart, floor parts: token / 101 / first frame; straight to ptyd: 101 / first frame`, `${ms2(med(gap.token))} / ${ms2(med(gap.open))} / ${ms2(med(gap.frame))}; ${ms2(med(floorDirectGap.parts.open))} / ${ms2(med(floorDirectGap.parts.frame))}`, '-', null],
      [`exec('true') on an open connection (${mix.method}), median`, ms(o.median), '< 3 ms', o.median < 3],
      ['  in the page: call to start sent + start to status event + status event to result', inPage(k.shell), '-', null],
      ['  the child alone (the shell running `true`), spawn to reap (ptyd audit)', ms2(child.shell), '-', null],
      ["exec(['true']) (argv, no shell), median", ms2(med(k.argv.times)), '(reference)', null],
      ['  the child alone (/bin/true), spawn to reap', ms2(child.argv), '-', null],
      ["exec(['/bin/bash', '-c', 'true']) (the shell's start-up), median", ms2(med(k.bash.times)), '(reference)', null],
      ['  the child alone (bash -c true), spawn to reap', ms2(child.bash), '-', null],
      ['sessions() round trip (same path, no process), median', ms2(med(k.sessions.times)), '(transport floor)', null],
      ['  in the page: call to sent + sent to answer event + event to result', inPage(k.sessions), '-', null],
      ["exec('true') 30 ms apart, straight to ptyd / ptyd --no-exec-warm-shell, median", `${ms2(med(paused.times[0]))} / ${ms2(med(paused.times[1]))}`, '< 3 ms', med(paused.times[0]) < 3],
      ["execCommand('true') 30 ms apart, straight to ptyd / ptyd --no-exec-warm-shell, median", `${ms2(med(paused.fresh[0]))} / ${ms2(med(paused.fresh[1]))}`, '(new connections)', null],
      ["straight to ptyd (no Caddy): exec('true') / exec(['true']) / sessions()", `${ms2(med(kd.shell.times))} / ${ms2(med(kd.argv.times))} / ${ms2(med(kd.sessions.times))}`, '(reference)', null],
    ];
    if (full) {
      rows.push(
        [`100 MB through stdout (${out.method})`, `${out.mbps.toFixed(1)} MB/s`, `>= half the terminal's: ${(term.mbps / 2).toFixed(1)} MB/s`, out.mbps >= term.mbps / 2],
        ['  terminal connection throughput, same bytes', `${term.mbps.toFixed(1)} MB/s`, '-', null],
        resume ? ['network back to first replayed byte, median', ms(summary(resume).median), '< 30 ms', summary(resume).median < 30] :
          ['network back to first replayed byte', 'n/a: this ptyd keeps no sessions', '< 30 ms', false],
        ['terminal connect to first prompt (login bash, Debian rc files), median', ms(prompt.median), '< 50 ms', prompt.median < 50],
      );
    }
    const load = loadavg().map((x) => x.toFixed(2)).join(' ');
    console.log(`webshell: Chromium -> Caddy${TLS ? ' (TLS)' : ''} -> jwt-verify + ptyd on loopback; ${e.n} runs each; timings in the page; load average ${load} on ${cpus().length} cores`);
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
