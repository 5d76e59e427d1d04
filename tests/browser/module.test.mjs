// tests/browser/module.test.mjs: web-shell.js as an app uses it, in Debian's Chromium through
// Caddy + jwt-verify + ptyd on loopback: the README's snippet in a fresh project with the packed
// module installed; sessions that survive three network cuts (a Node TCP proxy between the
// browser and Caddy: resets and a 2-second blackout) with every line of `seq` output exactly
// once and in order; a reload in the middle of a program; takeover (4001) without reconnecting,
// listSessions and close() ending the session; the token in no console line or server
// log after a refused handshake; an app on a second origin, allowed and refused.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { startProxy } from './proxy.mjs';
import { NOT_BUILT, ROOT, WEB_DIR, WORK, startBrowser, startStack } from './stack.mjs';

const skip = NOT_BUILT;

// What Caddy serves: a bare harness page on the classic build, and a scratch app project.
const site = join(WORK, 'site');
const HARNESS = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>harness</title>
<link rel="stylesheet" href="vendor/xterm.css">
<script src="vendor/xterm.js"></script><script src="vendor/addon-fit.js"></script>
<script src="vendor/web-shell.classic.js"></script></head>
<body><div id="term" style="width:900px;height:480px"></div><script src="harness.js"></script></body></html>`;

let stack;
let context;
let proxy;
let keyFile;
let resumeSkip = 'not probed';

function harnessPage() {
  return openHarness(`${stack.pageUrl}harness.html`);
}

async function openHarness(url) {
  const page = await context.newPage();
  page.consoleLines = [];
  page.on('console', (m) => page.consoleLines.push(m.text()));
  page.on('pageerror', (e) => page.consoleLines.push(`pageerror: ${e.message}`));
  await page.goto(url);
  await page.waitForFunction(() => globalThis.WebShell !== undefined);
  return page;
}

before(async () => {
  if (skip) return;
  mkdirSync(site, { recursive: true });
  writeFileSync(join(site, 'harness.html'), HARNESS);
  writeFileSync(join(site, 'harness.js'), 'globalThis.webShellApp = {};\n');
  symlinkSync(join(WEB_DIR, 'vendor'), join(site, 'vendor'));
  stack = await startStack(join(WORK, 'stack'), { webRoot: site });
  context = await startBrowser(stack);
  const page = await harnessPage();
  const pem = await page.evaluate(async () => {
    const pair = await WebShell.generateKeyPair();
    await WebShell.saveKeys(pair, { name: 'tests' });
    return WebShell.exportPublicKeyPem(pair.publicKey);
  });
  keyFile = join(stack.work, 'key.pem');
  writeFileSync(keyFile, pem);
  await stack.startVerifier([keyFile]);
  proxy = await startProxy(stack.caddyPort);
  // Does this ptyd keep sessions? A resumable terminal learns its id from the server.
  const id = await page.evaluate(async (url) => {
    const pair = await WebShell.loadKeys({ name: 'tests' });
    const s = WebShell.connectTerminal(document.getElementById('term'), { url, privateKey: pair.privateKey, storage: null });
    await s.ready;
    await new Promise((r) => setTimeout(r, 500));
    const { id } = s;
    s.close();
    return id;
  }, stack.wsUrl);
  resumeSkip = id ? false : 'this ptyd does not keep sessions yet (no session message)';
  await page.close();
});

after(async () => {
  if (proxy) await proxy.close();
  if (stack) await stack.stop();
});

// In the harness page: a terminal through the proxy, its events recorded in webShellApp.events.
function openTerminal(page, { storage = true } = {}) {
  return page.evaluate(async ([url, storage]) => {
    const pair = await WebShell.loadKeys({ name: 'tests' });
    const events = [];
    const s = WebShell.connectTerminal(document.getElementById('term'), {
      url, privateKey: pair.privateKey, ...(storage ? {} : { storage: null }),
    });
    for (const type of ['connecting', 'open', 'close', 'exit', 'error', 'disconnected', 'reconnecting', 'resumed']) {
      s.addEventListener(type, (e) => events.push({ type, detail: type === 'error' ? e.detail.error.message : e.detail }));
    }
    webShellApp.session = s;
    webShellApp.events = events;
    await s.ready;
  }, [`ws://127.0.0.1:${proxy.port}/ws`, storage]);
}

function bufferText(page) {
  return page.evaluate(() => {
    const buf = webShellApp.session.terminal.buffer.active;
    const lines = [];
    for (let i = 0; i < buf.length; i++) lines.push(buf.getLine(i).translateToString(true));
    return lines.join('\n');
  });
}

async function waitText(page, re, ms = 30000) {
  const deadline = Date.now() + ms;
  let text = '';
  while (Date.now() < deadline) {
    text = await bufferText(page);
    if (re.test(text)) return text;
    await new Promise((r) => setTimeout(r, 100));
  }
  const events = await page.evaluate(() => JSON.stringify(webShellApp.events.slice(-12)));
  throw new Error(`terminal never matched ${re} in ${ms} ms; events: ${events}; it shows:\n${text.slice(-300)}\nlogs:\n${stack.logs().slice(-3000)}`);
}

const type = (page, text) => page.evaluate((t) => webShellApp.session.terminal.input(t), text);

// Lines of the form PREFIX-N in the text, as numbers in order.
function numbered(text, prefix) {
  return text.split('\n').map((l) => new RegExp(`^${prefix}-(\\d+)$`).exec(l.trim())).filter(Boolean).map((m) => Number(m[1]));
}

test('seq through three network cuts (reset, 2 s blackout, reset): every line once, in order', { skip }, async (t) => {
  if (resumeSkip) return t.skip(resumeSkip);
  const page = await harnessPage();
  await openTerminal(page, { storage: false });
  await waitText(page, /[$#] $/m, 10000);
  const id = await page.evaluate(() => webShellApp.session.id);
  assert.match(id, /^[0-9a-f]{32}$/);
  // Ten rows, then a pause: 15 s or more, whatever the machine's load, so every cut lands mid-output.
  await type(page, 'for i in $(seq 1 3000); do echo "row-$i"; case $i in *0) sleep 0.05;; esac; done; echo ALL-DONE\r');
  await waitText(page, /^row-200$/m, 60000);
  proxy.reset();
  await waitText(page, /^row-900$/m, 60000);
  await proxy.blackout(2000);
  await waitText(page, /^row-1800$/m, 60000);
  assert.ok(!/^ALL-DONE$/m.test(await bufferText(page)), 'the last cut comes before the end');
  proxy.reset();
  const text = await waitText(page, /^ALL-DONE$/m, 120000);
  const rows = numbered(text, 'row');
  assert.equal(rows.length, 3000, `${rows.length} rows`);
  rows.forEach((n, i) => assert.equal(n, i + 1, `row ${i + 1} is ${n}`));
  const events = await page.evaluate(() => webShellApp.events);
  const count = (type) => events.filter((e) => e.type === type).length;
  assert.ok(count('disconnected') >= 3, JSON.stringify(events));
  assert.ok(count('resumed') >= 3, JSON.stringify(events));
  assert.ok(events.filter((e) => e.type === 'disconnected').every((e) => e.detail.code === 1006));
  assert.equal(await page.evaluate(() => webShellApp.session.id), id, 'the same session throughout');
  assert.equal(count('open'), 1, 'one open: the rest were resumes');
  await page.evaluate(() => webShellApp.session.close());
  await page.close();
  return undefined;
});

test('a reload in the middle of a program: the screen comes back and the output goes on', { skip }, async (t) => {
  if (resumeSkip) return t.skip(resumeSkip);
  const page = await harnessPage();
  await openTerminal(page);
  await waitText(page, /[$#] $/m, 10000);
  const id = await page.evaluate(() => webShellApp.session.id);
  await type(page, 'for i in $(seq 1 300); do echo "tick-$i"; sleep 0.01; done; echo TICKS-DONE\r');
  await waitText(page, /^tick-40$/m);
  // Only the id is kept, in this tab's sessionStorage: never localStorage or the URL.
  const stored = await page.evaluate(() => ({ session: { ...sessionStorage }, local: { ...localStorage }, url: location.href }));
  assert.ok(Object.values(stored.session).some((v) => v.includes(id)), JSON.stringify(stored.session));
  assert.ok(!JSON.stringify(stored.local).includes(id), 'not in localStorage');
  assert.ok(!stored.url.includes(id), 'not in the URL');
  await page.reload();
  await page.waitForFunction(() => globalThis.WebShell !== undefined);
  await openTerminal(page);
  // session.id is null until the server's 'S' names the session (web-shell.d.ts): open comes first.
  await page.waitForFunction(() => webShellApp.session.id !== null, null, { timeout: 10000 }).catch(() => {});
  assert.equal(await page.evaluate(() => webShellApp.session.id), id, 'back on the same shell');
  const text = await waitText(page, /^TICKS-DONE$/m, 30000);
  const ticks = numbered(text, 'tick');
  assert.deepEqual(ticks, Array.from({ length: 300 }, (_, i) => i + 1), 'what was on the screen, then the rest, once each');
  await page.evaluate(() => webShellApp.session.close());
  const after = await page.evaluate(() => ({ ...sessionStorage }));
  assert.ok(!JSON.stringify(after).includes(id), 'close() forgets the session');
  await page.close();
  return undefined;
});

test('takeover (4001) does not reconnect; listSessions shows the session; close() ends it (X)', { skip }, async (t) => {
  if (resumeSkip) return t.skip(resumeSkip);
  const page = await harnessPage();
  const r = await page.evaluate(async (url) => {
    const pair = await WebShell.loadKeys({ name: 'tests' });
    const opts = { url, privateKey: pair.privateKey, storage: null };
    const host = document.getElementById('term');
    const a = WebShell.connectTerminal(host, opts);
    const events = [];
    for (const type of ['close', 'disconnected', 'reconnecting']) a.addEventListener(type, (e) => events.push({ type, code: e.detail.code, reason: e.detail.reason }));
    await a.ready;
    for (let i = 0; i < 50 && !a.id; i++) await new Promise((res) => setTimeout(res, 100));
    const { id } = a;
    const b = WebShell.connectTerminal(document.body.appendChild(document.createElement('div')), { ...opts, session: id });
    await b.ready;
    await new Promise((res) => setTimeout(res, 1500));
    const listed = (await WebShell.listSessions(opts)).filter((s) => s.id === id).map((s) => s.state);
    const bId = b.id;
    b.close();
    // Ending takes the hang-up's grace period: a listed session may be ending (protocol.md).
    let after = 1;
    for (let i = 0; i < 30 && after; i++) {
      await new Promise((res) => setTimeout(res, 300));
      after = (await WebShell.listSessions(opts)).filter((s) => s.id === id).length;
    }
    a.close();
    return { id, bId, events, stateA: a.state, listed, after };
  }, stack.wsUrl);
  assert.match(r.id, /^[0-9a-f]{32}$/);
  assert.equal(r.bId, r.id, 'the second terminal attached to the same session');
  assert.deepEqual(r.events.map((e) => [e.type, e.code]), [['close', 4001]], JSON.stringify(r.events));
  assert.deepEqual(r.listed, ['attached']);
  assert.equal(r.after, 0, 'close() ended the session');
  await page.close();
  return undefined;
});

test('a refused handshake: the token is in no console line and no server log', { skip }, async () => {
  const page = await harnessPage();
  const marker = `eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJ4In0.NOTASIGNATURE${Date.now()}`;
  const r = await page.evaluate(async ([url, token]) => {
    try {
      await WebShell.execCommand('true', { url, token: () => token, tokenIn: 'protocol' });
      return null;
    } catch (e) {
      return { code: e.code, message: e.message };
    }
  }, [stack.wsUrl, marker]);
  assert.ok(r, 'refused');
  assert.match(r.code, /unauthorized|handshake/);
  assert.ok(!r.message.includes(marker.slice(0, 40)));
  const consoleText = page.consoleLines.join('\n');
  assert.ok(!consoleText.includes(marker.slice(0, 40)), `console:\n${consoleText}`);
  assert.ok(!consoleText.includes('NOTASIGNATURE'), 'nor any piece of it');
  const logs = stack.logs();
  assert.ok(!logs.includes('NOTASIGNATURE'), 'no server log line holds it');
  await page.close();
});

test('an app on a second origin: connects when ptyd allows it, "origin not allowed" otherwise', { skip }, async () => {
  // localhost and 127.0.0.1 are two origins to the browser, served by one Caddy.
  const allowedStack = await startStack(join(WORK, 'stack-origin'), {
    // Repeatable: another app's origin first, then the one this test serves from.
    webRoot: site, ptydArgs: ({ caddyPort }) => ['--check-origin', 'https://app.example', '--check-origin', `http://localhost:${caddyPort}`],
  });
  try {
    const fromSecond = await openHarness(`http://localhost:${allowedStack.caddyPort}/harness.html`);
    // IndexedDB is per origin: the second origin makes its own key, trusted by the verifier too.
    const pem = await fromSecond.evaluate(async () => {
      webShellApp.pair = await WebShell.generateKeyPair();
      return WebShell.exportPublicKeyPem(webShellApp.pair.publicKey);
    });
    const second = join(allowedStack.work, 'second.pem');
    writeFileSync(second, pem);
    await allowedStack.startVerifier([keyFile, second]);
    const r = await fromSecond.evaluate(async (url) => {
      try {
        const res = await WebShell.execCommand('echo from-second-origin', { url, privateKey: webShellApp.pair.privateKey, publicKey: webShellApp.pair.publicKey, audience: '127.0.0.1' });
        return res.stdout;
      } catch (e) {
        return e.message;
      }
    }, allowedStack.wsUrl);
    assert.equal(r, 'from-second-origin\n', allowedStack.logs().slice(-2500));
    // The first origin is not on the list: a valid token, refused for the origin alone.
    const fromFirst = await openHarness(`http://127.0.0.1:${allowedStack.caddyPort}/harness.html`);
    const firstPem = await fromFirst.evaluate(async () => {
      webShellApp.pair = await WebShell.generateKeyPair();
      return WebShell.exportPublicKeyPem(webShellApp.pair.publicKey);
    });
    const first = join(allowedStack.work, 'first.pem');
    writeFileSync(first, firstPem);
    await allowedStack.startVerifier([keyFile, second, first]);
    const refused = await fromFirst.evaluate(async (url) => {
      try {
        await WebShell.execCommand('true', { url, privateKey: webShellApp.pair.privateKey, publicKey: webShellApp.pair.publicKey, audience: '127.0.0.1' });
        return null;
      } catch (e) {
        return { code: e.code, message: e.message };
      }
    }, `ws://localhost:${allowedStack.caddyPort}/ws`);
    assert.ok(refused, 'refused');
    assert.match(refused.message, /origin (http:\/\/127\.0\.0\.1:\d+ )?(is )?not allowed/);
    await fromSecond.close();
    await fromFirst.close();
  } finally {
    await allowedStack.stop();
  }
});

test("the README's snippet, verbatim, in a fresh project with the packed module installed", { skip }, async () => {
  const app = join(site, 'app');
  mkdirSync(app, { recursive: true });
  const packed = JSON.parse(execFileSync('npm', ['pack', '--json', '--pack-destination', app, join(ROOT, 'examples/web-shell')], { encoding: 'utf8' }));
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'fresh-app', private: true, type: 'module' }));
  execFileSync('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', join(app, packed[0].filename)], { cwd: app, stdio: 'pipe', timeout: 300000 });
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('### The package (`web-shell`)'));
  const snippet = /```js\n([\s\S]*?)```/.exec(section)[1];
  assert.match(snippet, /from 'web-shell'/);
  const host = `127.0.0.1:${stack.caddyPort}`;
  writeFileSync(join(app, 'main.js'), `${snippet.split('shell.example.com').join(host)}\nglobalThis.snippet = { session, stdout, stderr, exitCode };\n`);
  const mjs = (p) => `./node_modules/${p}`;
  writeFileSync(join(app, 'index.html'), `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>fresh app</title>
<link rel="stylesheet" href="node_modules/@xterm/xterm/css/xterm.css">
<script type="importmap">${JSON.stringify({ imports: {
    'web-shell': mjs('web-shell/index.js'),
    '@xterm/xterm': mjs('@xterm/xterm/lib/xterm.mjs'),
    '@xterm/addon-fit': mjs('@xterm/addon-fit/lib/addon-fit.mjs'),
    '@xterm/addon-unicode11': mjs('@xterm/addon-unicode11/lib/addon-unicode11.mjs'),
    '@xterm/addon-web-links': mjs('@xterm/addon-web-links/lib/addon-web-links.mjs'),
    '@xterm/addon-clipboard': mjs('@xterm/addon-clipboard/lib/addon-clipboard.mjs'),
  } })}</script></head>
<body><div id="term" style="width:800px;height:400px"></div><script type="module" src="main.js"></script></body></html>`);
  // First visit: a new key, saved and printed; the machine does not trust it yet.
  const page = await context.newPage();
  const lines = [];
  page.on('console', (m) => lines.push(m.text()));
  await page.goto(`${stack.pageUrl}app/index.html`);
  const deadline = Date.now() + 15000;
  while (!lines.some((l) => l.startsWith('-----BEGIN PUBLIC KEY-----')) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  const pem = lines.find((l) => l.startsWith('-----BEGIN PUBLIC KEY-----'));
  assert.ok(pem, `the snippet printed the public key; console:\n${lines.join('\n')}`);
  assert.ok(!lines.some((l) => /xterm\.js is not loaded/.test(l)), 'no "xterm.js is not loaded"');
  // The user installs it (jwt-verify --key) and reloads: the saved key connects.
  const appKey = join(stack.work, 'app-key.pem');
  writeFileSync(appKey, pem.endsWith('\n') ? pem : `${pem}\n`);
  await stack.startVerifier([keyFile, appKey]);
  await page.reload();
  await page.waitForFunction(() => globalThis.snippet !== undefined, null, { timeout: 20000 });
  const got = await page.evaluate(async () => {
    const { session, stdout, stderr, exitCode } = globalThis.snippet;
    await session.ready;
    return { stdout, stderr, exitCode, state: session.state, cols: session.terminal.cols, unicode: session.terminal.unicode.activeVersion };
  });
  assert.equal(got.exitCode, 0);
  assert.equal(got.stdout, `${execFileSync('uname', ['-r'], { encoding: 'utf8' })}`);
  assert.equal(got.stderr, '');
  assert.equal(got.state, 'open');
  assert.ok(got.cols > 20);
  assert.equal(got.unicode, '11', 'unicode11 active by default from the package');
  // OSC 52: a read request is never answered (nothing is typed back into the shell).
  const answered = await page.evaluate(() => new Promise((resolve) => {
    const { terminal } = globalThis.snippet.session;
    let sent = '';
    const d = terminal.onData((s) => { sent += s; });
    terminal.write('\x1b]52;c;?\x07', () => setTimeout(() => { d.dispose(); resolve(sent); }, 200));
  }));
  assert.equal(answered, '', 'no OSC 52 answer');
  await page.close();
});
