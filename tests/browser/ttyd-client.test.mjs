// tests/browser/ttyd-client.test.mjs: ttyd's web client against ptyd through Caddy and
// jwt-verify, in Debian's Chromium. sanitize: yes
// The client is the `ttyd` package on the npm registry (1.0.3, pinned by package-lock.json):
// a build of ttyd's html/ front end of the 1.5 era (xterm.js 3, preact), published by a third
// party; ttyd 1.7.7's own client cannot be fetched here. Its JavaScript runs unchanged. The
// host page is the test's, because this build mounts on #test while its dist/index.html has
// #root. The build cannot resize: its fit addon (made for xterm.js 4) throws on xterm.js 3
// when the socket opens, after the init message has gone, and its CSS fixes the terminal at
// 750x500 px; so the shell keeps the 80x24 that ptyd gives a sizeless init. Unlike 1.7.7's
// client, its init message carries no size. ttyd 1.5 served auth_token.js; here it sets an
// empty token, as ttyd without --credential did. The client copies the page's query into
// its WebSocket URL, which is how the JWT reaches Caddy's forward_auth.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { MODULE, openssl } from '../webshell-js/helpers.mjs';
import { NOT_BUILT, ROOT, WORK, startBrowser, startStack, waitTerminal } from './stack.mjs';

const W = await import(MODULE);
const CLIENT = join(ROOT, 'node_modules/ttyd/dist');
const skip = NOT_BUILT ||
  (existsSync(join(CLIENT, 'app.js')) ? false : 'node_modules/ttyd is missing (npm ci installs it)');

let stack;
let context;
let privateKey;

before(async () => {
  if (skip) return;
  const work = mkdtempSync(join(WORK, 'ttyd-client-'));
  const www = join(work, 'www');
  mkdirSync(www);
  for (const f of ['app.js', 'app.css']) symlinkSync(join(CLIENT, f), join(www, f));
  writeFileSync(join(www, 'index.html'), '<!DOCTYPE html><html><head><meta charset="UTF-8">' +
    '<title>ttyd - Terminal</title><link rel="stylesheet" href="app.css">' +
    '</head>' +
    '<body><div id="test"></div><script src="auth_token.js"></script><script src="app.js"></script></body></html>\n');
  writeFileSync(join(www, 'auth_token.js'), "var tty_auth_token = '';\n");
  stack = await startStack(work, { webRoot: www });
  const pem = openssl(['genpkey', '-algorithm', 'ed25519']).toString();
  writeFileSync(join(work, 'pub.pem'), openssl(['pkey', '-pubout'], pem));
  privateKey = (await W.importPrivateKeyPem(pem)).privateKey;
  await stack.startVerifier([`${join(work, 'pub.pem')}=ttyd-client`]); // this key may sign in as ttyd-client
  context = await startBrowser(stack, { viewport: { width: 1000, height: 700 } });
});

after(async () => {
  if (stack) await stack.stop();
});

// Opens the ttyd client with a fresh token in the page's query, as a link to it would.
async function openClient() {
  const token = await W.createJwt(privateKey, { audience: '127.0.0.1', subject: 'ttyd-client' });
  const page = await context.newPage();
  page.problems = [];
  page.on('pageerror', (e) => {
    // The build's own fit bug (see the top of this file); anything else is a failure.
    if (!/reading 'dimensions'/.test(e.message)) page.problems.push(`pageerror: ${e.message}`);
  });
  await page.goto(`${stack.pageUrl}?token=${token}`);
  return page;
}

// The client's xterm.js 3 buffer (it exposes the terminal as window.term), lines trimmed.
function screen(page) {
  return page.evaluate(() => {
    if (!window.term || !window.term.buffer) return '';
    const buf = window.term.buffer;
    const lines = [];
    for (let i = 0; i < buf.length; i++) lines.push(buf.getLine(i).translateToString(true));
    return lines.join('\n');
  });
}

async function waitScreen(page, re) {
  try {
    return await waitTerminal(page, re, 10000, screen);
  } catch (e) {
    throw new Error(`${e.message}\n${stack.logs()}`);
  }
}

const ptydLog = () => stack.servers.find((s) => s.name === 'ptyd').output();

// Types as a user would: key events into xterm's hidden textarea.
async function typeLine(page, text) {
  await page.locator('.xterm-helper-textarea').focus();
  await page.keyboard.type(text);
  await page.keyboard.press('Enter');
}

test('ttyd web client: prompt, title, typed command and its output', { skip }, async () => {
  const page = await openClient();
  await waitScreen(page, /[#$] $/m);
  // ptyd's title, "COMMAND (HOSTNAME)", which the client puts on the page.
  assert.match(await page.title(), new RegExp(`^/bin/bash .* \\(${hostname()}\\)$`));
  await typeLine(page, 'echo from-ttyd-client-$((6*7)) "$WEBSHELL_USER"');
  await waitScreen(page, /^from-ttyd-client-42 ttyd-client$/m);
  assert.deepEqual(page.problems, []);
  await page.close();
});

test('ttyd web client: a sizeless init gets 80x24 and no complaint', { skip }, async () => {
  const page = await openClient();
  await waitScreen(page, /[#$] $/m);
  await typeLine(page, 'echo size $(stty size)');
  await waitScreen(page, /^size 24 80$/m);
  assert.doesNotMatch(ptydLog(), /message_ignored/);
  await page.close();
});

test('ttyd web client: `exit 3` closes with 1000, so it shows "Connection Closed" and does not reconnect', { skip }, async () => {
  const page = await openClient();
  await waitScreen(page, /[#$] $/m);
  const closes = [];
  page.on('console', (m) => { if (/websocket connection closed/.test(m.text())) closes.push(m.text()); });
  await typeLine(page, 'exit 3');
  await page.waitForFunction(() => /Connection Closed/.test(document.body.textContent), null, { timeout: 10000 });
  await new Promise((r) => setTimeout(r, 1500));
  assert.deepEqual(closes, ['[ttyd] websocket connection closed with code: 1000']);
  assert.match(ptydLog(), /session_end [^\n]*user=ttyd-client [^\n]*status="exit 3" code=1000/, 'session end logged');
  await page.close();
});

test('ttyd web client: a page without a valid token gets no shell', { skip }, async () => {
  const page = await context.newPage();
  const sessions = () => (ptydLog().match(/session_start/g) || []).length;
  const before = sessions();
  await page.goto(`${stack.pageUrl}?token=not.a.token`);
  await page.waitForTimeout(1500);
  assert.equal(sessions(), before, 'ptyd never saw the connection');
  assert.match(stack.verifier.output(), /deny/, 'the verifier refused it');
  assert.doesNotMatch(await screen(page), /[#$] $/m, 'no prompt');
  await page.close();
});
