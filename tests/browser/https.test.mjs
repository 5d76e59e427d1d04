// tests/browser/https.test.mjs: the page served by Caddy over https (`tls internal`) in Chromium:
// the connect target defaults to wss://HOST/ws, and with `jwt-verify --single-use` every
// connection and reconnection carries a fresh token (a reused one would be refused).
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { NOT_BUILT, WORK, openPage, startBrowser, startStack, waitTerminal } from './stack.mjs';

const skip = NOT_BUILT;

let stack;
let page;

before(async () => {
  if (skip) return;
  stack = await startStack(join(WORK, 'tls-stack'), { tls: true });
  const context = await startBrowser(stack);
  page = await openPage(context, stack.pageUrl);
});

after(async () => {
  if (stack) await stack.stop();
});

async function typeLine(text) {
  await page.locator('.xterm-helper-textarea').focus();
  await page.keyboard.type(text);
  await page.keyboard.press('Enter');
}

test('over https the host field defaults to wss://HOST/ws', { skip }, async () => {
  assert.match(stack.pageUrl, /^https:\/\/127\.0\.0\.1:\d+\/$/);
  assert.equal(await page.inputValue('#url'), stack.wsUrl);
  assert.match(stack.wsUrl, /^wss:\/\//);
});

test('wss terminal with single-use tokens: connect, exit, reconnect twice, exec twice', { skip }, async () => {
  await page.click('#welcome-keys');
  await page.click('#key-generate');
  await page.waitForFunction(() => document.getElementById('public-key').value.includes('END PUBLIC KEY'));
  await page.keyboard.press('Escape');
  const file = join(stack.work, 'key.pem');
  writeFileSync(file, await page.inputValue('#public-key'));
  await stack.startVerifier([file], ['--single-use']);
  await page.click('#connect-btn');
  await waitTerminal(page, /[#$] ?$/m);
  await typeLine('echo "proto:$((40+2))"');
  await waitTerminal(page, /^proto:42$/m);
  for (const n of [1, 2]) {
    await typeLine(`exit ${n}`);
    await waitTerminal(page, new RegExp(`shell exited with status ${n}; press Enter to reconnect`));
    await page.keyboard.press('Enter');
    await page.waitForFunction(() => webShellApp.session.state === 'open');
    await typeLine(`echo round-${n}`);
    await waitTerminal(page, new RegExp(`^round-${n}$`, 'm'));
  }
  for (const n of [1, 2]) {
    const r = await page.evaluate((n) => WebShell.execCommand(`echo exec-${n}`, { privateKey: webShellApp.pair.privateKey }), n);
    assert.deepEqual([r.stdout, r.exitCode], [`exec-${n}\n`, 0]);
  }
  // The same token twice: the verifier refuses the replay, execCommand says so.
  const replay = await page.evaluate(async () => {
    const token = await WebShell.createJwt(webShellApp.pair.privateKey, { audience: '127.0.0.1' });
    const first = await WebShell.execCommand('echo once', { token: () => token });
    try {
      await WebShell.execCommand('echo twice', { token: () => token });
      return [first.stdout, 'accepted'];
    } catch (e) {
      return [first.stdout, e.code];
    }
  });
  assert.deepEqual(replay, ['once\n', 'unauthorized']);
  assert.deepEqual(page.problems.filter((m) => m.startsWith('pageerror')), []);
});
