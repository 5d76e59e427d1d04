// tests/browser/page-files.test.mjs: the page's file transfers in Debian's Chromium through Caddy,
// jwt-verify and ptyd's exec channel: a 10 MB file of random bytes uploaded with the picker and
// downloaded again, byte for byte (SHA-256 on both sides), a file dropped on the terminal, the
// progress bars, and a cancelled upload that leaves no file (not even a partial one) behind.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { connect, menu, trustNewKey } from './page-ui.mjs';
import { BUILD, NOT_BUILT, WEB_DIR, WORK, openPage, startBrowser, startStack } from './stack.mjs';

// The transfers need the module's exec connection (connect()); say so until it exists.
const hasConnect = /export\s*\{[^}]*\bconnect\b[^}]*\}/.test(readFileSync(join(WEB_DIR, 'web-shell.js'), 'utf8'));
// ...and a ptyd that offers the exec channel (the subprotocol name is in its binary).
const hasChannel = !NOT_BUILT && readFileSync(join(BUILD, 'ptyd')).includes('webshell-exec.v1');
const skip = NOT_BUILT ||
  (!hasConnect ? "web-shell.js has no connect() (the exec channel's client) yet" :
    hasChannel ? false : 'this ptyd has no exec channel (webshell-exec.v1) yet');

const sha256 = (b) => createHash('sha256').update(b).digest('hex');

let stack;
let page;
let upDir;
const SIZE = 10 * 1024 * 1024;
let payload;

before(async () => {
  if (skip) return;
  stack = await startStack(join(WORK, 'stack'));
  const context = await startBrowser(stack, { viewport: { width: 1100, height: 700 } });
  page = await openPage(context, stack.pageUrl);
  await trustNewKey(page, stack, [], 'files-key');
  await connect(page);
  upDir = join(stack.work, 'home', 'uploads');
  mkdirSync(upDir, { recursive: true });
  // Every byte value, then random bytes: nothing may be re-encoded on the way.
  payload = Buffer.concat([Buffer.from(Array.from({ length: 256 }, (_, i) => i)), randomBytes(SIZE - 256)]);
});

after(async () => {
  if (stack) await stack.stop();
});

async function waitTransfer(label, states = ['done', 'failed', 'cancelled'], ms = 60000) {
  const handle = await page.waitForFunction(([label, states]) => {
    const row = Array.from(document.querySelectorAll('#transfers .transfer'))
      .find((r) => r.querySelector('.name').textContent === label);
    return row && states.includes(row.dataset.state) ?
      { state: row.dataset.state, info: row.querySelector('.info').textContent, value: row.querySelector('progress').value, max: row.querySelector('progress').max } : null;
  }, [label, states], { timeout: ms, polling: 50 });
  return handle.jsonValue();
}

test('upload with the picker: 10 MB into the chosen directory, exact bytes, with progress', { skip }, async () => {
  const file = join(stack.work, 'random-10m.bin');
  writeFileSync(file, payload);
  await menu(page, 'files');
  await page.fill('#upload-dir', upDir);
  await page.setInputFiles('#upload-input', file);
  const row = await waitTransfer('\u2191 random-10m.bin');
  assert.equal(row.state, 'done', row.info);
  assert.equal(row.value, row.max, 'the bar is full');
  const got = readFileSync(join(upDir, 'random-10m.bin'));
  assert.equal(got.length, SIZE);
  assert.equal(sha256(got), sha256(payload), 'byte for byte');
  assert.deepEqual(readdirSync(upDir).filter((n) => n.includes('.upload.')), [], 'no temporary file left');
});

test('download: the same 10 MB file comes back byte for byte', { skip }, async () => {
  await menu(page, 'files');
  await page.fill('#download-path', join(upDir, 'random-10m.bin'));
  const downloading = page.waitForEvent('download', { timeout: 60000 });
  await page.click('#download-btn');
  const download = await downloading;
  assert.equal(download.suggestedFilename(), 'random-10m.bin');
  const got = readFileSync(await download.path());
  assert.equal(got.length, SIZE);
  assert.equal(sha256(got), sha256(payload), 'byte for byte');
  const row = await waitTransfer('\u2193 random-10m.bin');
  assert.equal(row.state, 'done', row.info);
  // A path that does not exist: a clear failure, no download.
  await menu(page, 'files');
  await page.fill('#download-path', join(upDir, 'no-such-file'));
  await page.click('#download-btn');
  const bad = await waitTransfer('\u2193 no-such-file');
  assert.equal(bad.state, 'failed');
  assert.match(bad.info, /No such file/);
});

test('drop a file on the terminal: it is uploaded into the directory shown', { skip }, async () => {
  const name = `dropped-${Date.now()}.bin`;
  const digest = await page.evaluate(async (name) => {
    const bytes = new Uint8Array(1024 * 1024);
    for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 7919 + (i >> 8)) & 0xff;
    const dt = new DataTransfer();
    dt.items.add(new File([bytes], name));
    const ws = document.getElementById('workspace');
    for (const type of ['dragenter', 'dragover', 'drop']) {
      ws.dispatchEvent(new DragEvent(type, { dataTransfer: dt, bubbles: true, cancelable: true }));
    }
    const hash = await crypto.subtle.digest('SHA-256', bytes);
    return Array.from(new Uint8Array(hash), (b) => b.toString(16).padStart(2, '0')).join('');
  }, name);
  const row = await waitTransfer(`\u2191 ${name}`);
  assert.equal(row.state, 'done', row.info);
  assert.equal(sha256(readFileSync(join(upDir, name))), digest);
});

test('cancel: an upload stopped half way leaves no file behind', { skip }, async () => {
  const name = 'big-cancelled.bin';
  await menu(page, 'files');
  const big = join(stack.work, name);
  writeFileSync(big, '');
  truncateSync(big, 512 * 1024 * 1024); // sparse: large to send, nothing to write here
  await page.setInputFiles('#upload-input', big);
  const label = `\u2191 ${name}`;
  await page.waitForFunction((label) => {
    const row = Array.from(document.querySelectorAll('#transfers .transfer')).find((r) => r.querySelector('.name').textContent === label);
    return row && row.querySelector('progress').value > 0;
  }, label, { timeout: 30000, polling: 20 });
  await page.click(`#transfers button[aria-label="Cancel ${label}"]`);
  const row = await waitTransfer(label);
  assert.equal(row.state, 'cancelled', row.info);
  assert.ok(row.value < row.max, 'stopped before the end');
  const deadline = Date.now() + 5000;
  let left;
  do {
    left = readdirSync(upDir).filter((n) => n.startsWith(name));
    if (!left.length) break;
    await new Promise((r) => setTimeout(r, 100));
  } while (Date.now() < deadline);
  assert.deepEqual(left, [], 'neither the file nor its temporary part');
});
