// tests/browser/page-terminal.test.mjs: the page's terminal in Debian's Chromium against the real
// stack (Caddy, jwt-verify, ptyd, bash): emoji and CJK line editing as bash counts the cells,
// the clipboard rules (copy on select by mouse, Ctrl+Shift+C, Ctrl+Shift+V, right-click paste,
// OSC 52 writes land in the clipboard, OSC 52 reads are never answered), the shell's directory
// for uploads (OSC 7), search in the scrollback, links (http/https only), and settings kept per
// browser in localStorage only.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { connect, menu, trustNewKey, typeLine } from './page-ui.mjs';
import { NOT_BUILT, WORK, openPage, startBrowser, startStack, terminalText, waitTerminal } from './stack.mjs';

const skip = NOT_BUILT;

let stack;
let context;
let page;
const keyFiles = [];

before(async () => {
  if (skip) return;
  stack = await startStack(join(WORK, 'stack'));
  context = await startBrowser(stack, { viewport: { width: 1100, height: 700 } });
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: stack.pageUrl.replace(/\/$/, '') });
  page = await openPage(context, stack.pageUrl);
  await trustNewKey(page, stack, keyFiles, 'terminal-key');
  await connect(page);
});

after(async () => {
  if (stack) await stack.stop();
});

const clipboard = () => page.evaluate(() => navigator.clipboard.readText());
const setClipboard = (text) => page.evaluate((t) => navigator.clipboard.writeText(t), text);

// The cursor line of the terminal and the cursor's column.
function cursorLine() {
  return page.evaluate(() => {
    const buf = webShellApp.session.terminal.buffer.active;
    return { text: buf.getLine(buf.baseY + buf.cursorY).translateToString(true), x: buf.cursorX };
  });
}

async function waitClipboard(expected, what) {
  const deadline = Date.now() + 5000;
  let got;
  while (Date.now() < deadline) {
    got = await clipboard();
    if (got === expected) return;
    await page.waitForTimeout(50);
  }
  assert.equal(got, expected, what);
}

test('emoji and CJK: typed, erased with Backspace, the line and cursor stay where bash has them', { skip }, async () => {
  await typeLine(page, 'clear');
  // The prompt alone on the first line: where typing starts.
  await page.waitForFunction(() => {
    const buf = webShellApp.session.terminal.buffer.active;
    return buf.cursorY === 0 && /[#$] $/.test(buf.getLine(buf.baseY).translateToString(false).slice(0, buf.cursorX));
  });
  const prompt = (await cursorLine()).x;
  await page.locator('.xterm-helper-textarea').focus();
  await page.keyboard.type('echo a\u{1F600}b\u6f22');
  await page.waitForFunction(() => /b\u6f22\s*$/.test(webShellApp.session.terminal.buffer.active.getLine(
    webShellApp.session.terminal.buffer.active.baseY + webShellApp.session.terminal.buffer.active.cursorY).translateToString(true)));
  // bash counts the emoji and the ideograph two cells each; so must the terminal.
  const typed = await cursorLine();
  assert.equal(typed.x, prompt + 'echo a'.length + 2 + 1 + 2,
    `cursor after the prompt (${prompt} cells) and 'echo a\u{1F600}b\u6f22': ${JSON.stringify(typed.text)}`);
  for (let i = 0; i < 3; i++) await page.keyboard.press('Backspace');
  await page.waitForFunction((x) => webShellApp.session.terminal.buffer.active.cursorX === x, prompt + 'echo a'.length);
  const line = await cursorLine();
  assert.match(line.text, /echo a$/, `the line after erasing: ${JSON.stringify(line.text)}`);
  await page.keyboard.type('\u{1F44D}');
  await page.keyboard.press('Enter');
  await waitTerminal(page, /^a\u{1F44D}$/mu);
  assert.equal(await page.evaluate(() => webShellApp.session.terminal.unicode.activeVersion), '11');
});

test('copy on select: a word double-clicked with the mouse is on the system clipboard', { skip }, async () => {
  await typeLine(page, 'clear; echo select-me-42');
  await waitTerminal(page, /^select-me-42$/m);
  await setClipboard('before');
  const where = await page.evaluate(() => {
    const t = webShellApp.session.terminal;
    const buf = t.buffer.active;
    let row = -1;
    for (let y = 0; y < t.rows; y++) if (buf.getLine(buf.viewportY + y).translateToString(true) === 'select-me-42') row = y;
    const screen = t.element.querySelector('.xterm-screen').getBoundingClientRect();
    return { x: screen.left + (screen.width / t.cols) * 3.5, y: screen.top + (screen.height / t.rows) * (row + 0.5), row };
  });
  assert.ok(where.row >= 0);
  await page.mouse.dblclick(where.x, where.y);
  await waitClipboard('select-me-42', 'double-click selects the word and copies it');
});

test('Ctrl+Shift+C copies the selection; Ctrl+Shift+V and right-click paste', { skip }, async () => {
  await page.evaluate(() => webShellApp.session.terminal.select(0, webShellApp.session.terminal.buffer.active.baseY, 6));
  await setClipboard('overwritten');
  await page.locator('.xterm-helper-textarea').focus();
  await page.keyboard.press('Control+Shift+C');
  await waitClipboard((await page.evaluate(() => webShellApp.session.terminal.getSelection())), 'Ctrl+Shift+C copies');
  await page.evaluate(() => webShellApp.session.terminal.clearSelection());

  await setClipboard('echo pasted-by-keys');
  await page.keyboard.press('Control+Shift+V');
  await page.waitForFunction(() => /echo pasted-by-keys/.test(document.querySelector('.pane:not([hidden])').textContent));
  await page.keyboard.press('Enter');
  await waitTerminal(page, /^pasted-by-keys$/m);

  await setClipboard('echo pasted-by-right-click');
  await page.click('.pane:not([hidden]) .xterm-screen', { button: 'right' });
  await page.waitForFunction(() => {
    const b = webShellApp.session.terminal.buffer.active;
    return /echo pasted-by-right-click/.test(b.getLine(b.baseY + b.cursorY).translateToString(true));
  });
  await page.locator('.xterm-helper-textarea').focus();
  await page.keyboard.press('Enter');
  await waitTerminal(page, /^pasted-by-right-click$/m);
});

test('OSC 52: a write from the machine lands in the clipboard; a read is never answered', { skip }, async () => {
  await typeLine(page, `clear; printf '\\033]52;c;%s\\007' "$(printf 'from-osc52 \\xe2\\x9c\\x93' | base64)"`);
  await waitClipboard('from-osc52 \u2713', 'OSC 52 write');

  await setClipboard('secret-in-clipboard');
  // The control: a query xterm.js does answer (DA1) comes back to the shell as input...
  await typeLine(page, "printf '\\033[c'; IFS= read -r -s -t 3 -d c da; echo \"da=[${da#?}]\"");
  await waitTerminal(page, /^da=\[\[\?1;2\]$/m);
  // ...while the clipboard query gets nothing at all within the same wait.
  await typeLine(page, "printf '\\033]52;c;?\\007'; IFS= read -r -s -t 3 -d $'\\a' reply; echo \"osc52-reply=[${reply}] rc=$?\"");
  const text = await waitTerminal(page, /^osc52-reply=\[.*\] rc=\d+$/m, 10000);
  assert.match(text, /^osc52-reply=\[\] rc=142$/m, 'no reply: read timed out (SIGALRM, 128+14) with nothing');
  assert.doesNotMatch(text, /c2VjcmV0/, 'the clipboard (base64) never reached the machine');
  assert.equal(await clipboard(), 'secret-in-clipboard', 'and the clipboard is unchanged');
});

test('search: Ctrl+Shift+F finds text in the scrollback, next and previous', { skip }, async () => {
  await typeLine(page, 'clear; for i in $(seq 1 300); do echo "line-$i"; done; echo needle-one; seq 1 200; echo needle-two; seq 1 100');
  await waitTerminal(page, /^needle-two$/m);
  await page.locator('.xterm-helper-textarea').focus();
  await page.keyboard.press('Control+Shift+F');
  await page.waitForSelector('#search-bar', { state: 'visible' });
  assert.equal(await page.evaluate(() => document.activeElement.id), 'search-input');
  await page.keyboard.type('needle-');
  await page.waitForFunction(() => /of 2$/.test(document.getElementById('search-count').textContent));
  assert.match(await page.evaluate(() => webShellApp.session.terminal.getSelection()), /^needle-$/);
  await page.keyboard.press('Enter');
  await page.waitForFunction(() => /^\d of 2$/.test(document.getElementById('search-count').textContent));
  const first = await page.textContent('#search-count');
  await page.keyboard.press('Shift+Enter');
  await page.waitForFunction((f) => document.getElementById('search-count').textContent !== f, first);
  await page.fill('#search-input', 'no-such-text-anywhere');
  await page.waitForFunction(() => document.getElementById('search-count').textContent === 'No match');
  await page.keyboard.press('Escape');
  assert.equal(await page.isHidden('#search-bar'), true);
  assert.match(await page.evaluate(() => document.activeElement.className), /xterm-helper-textarea/, 'focus back in the terminal');
});

test('links: an http link opens in a new tab; a javascript: hyperlink (OSC 8) opens nothing', { skip }, async () => {
  const target = `${stack.pageUrl}style.css?linked=${Date.now()}`;
  await typeLine(page, `clear; echo 'visit ${target} now'; printf '\\033]8;;javascript:document.title="pwned"\\033\\\\click-here\\033]8;;\\033\\\\\\n'`);
  await waitTerminal(page, /^click-here$/m);
  const cellAt = (needle) => page.evaluate((needle) => {
    const t = webShellApp.session.terminal;
    const buf = t.buffer.active;
    for (let y = 0; y < t.rows; y++) {
      const text = buf.getLine(buf.viewportY + y).translateToString(true);
      const x = text.indexOf(needle);
      if (x >= 0) {
        const screen = t.element.querySelector('.xterm-screen').getBoundingClientRect();
        return { x: screen.left + (screen.width / t.cols) * (x + 3.5), y: screen.top + (screen.height / t.rows) * (y + 0.5) };
      }
    }
    return null;
  }, needle);
  const http = await cellAt(target);
  const opened = context.waitForEvent('page', { timeout: 5000 });
  // Hover as a hand does (xterm.js finds the link on mouse moves), then click.
  await page.mouse.move(http.x - 4, http.y);
  await page.mouse.move(http.x, http.y);
  await page.waitForFunction(() => document.querySelector('.pane:not([hidden]) .xterm-screen').classList.contains('xterm-cursor-pointer'));
  await page.mouse.click(http.x, http.y);
  const popup = await opened;
  await popup.waitForLoadState('domcontentloaded').catch(() => {});
  assert.equal(popup.url(), target);
  assert.equal(await popup.evaluate(() => window.opener), null, 'opened without an opener');
  await popup.close();
  const js = await cellAt('click-here');
  let extra = null;
  context.once('page', (p) => { extra = p; });
  await page.mouse.move(js.x - 4, js.y);
  await page.mouse.move(js.x, js.y);
  await page.waitForTimeout(300);
  await page.mouse.click(js.x, js.y);
  await page.waitForTimeout(500);
  assert.equal(extra, null, 'no window for a javascript: link');
  assert.doesNotMatch(await page.title(), /pwned/);
});

test("the shell's directory (OSC 7) is where the Files dialog uploads", { skip }, async () => {
  await typeLine(page, "clear; printf '\\033]7;file://%s/tmp/osc7%%20dir\\007' \"$HOSTNAME\"; echo reported");
  await waitTerminal(page, /^reported$/m);
  await menu(page, 'files');
  assert.equal(await page.inputValue('#upload-dir'), '/tmp/osc7 dir');
  assert.match(await page.textContent('#upload-dir-hint'), /current directory/);
  await page.keyboard.press('Escape');
});

test('settings: font size and theme kept in this browser (localStorage holds settings only)', { skip }, async () => {
  await menu(page, 'settings');
  await page.fill('#font-size', '18');
  await page.dispatchEvent('#font-size', 'change');
  await page.selectOption('#theme', 'light');
  await page.keyboard.press('Escape');
  assert.equal(await page.evaluate(() => webShellApp.session.terminal.options.fontSize), 18);
  assert.equal(await page.evaluate(() => document.documentElement.dataset.theme), 'light');
  const again = await openPage(context, stack.pageUrl);
  assert.equal(await again.evaluate(() => webShellApp.settings.fontSize), 18);
  assert.equal(await again.evaluate(() => document.documentElement.dataset.theme), 'light');
  const stored = await again.evaluate(() => Object.fromEntries(Object.entries(localStorage)));
  assert.deepEqual(Object.keys(stored), ['web-shell.settings']);
  assert.deepEqual(Object.keys(JSON.parse(stored['web-shell.settings'])).sort(), ['fontSize', 'keybar', 'theme']);
  await again.close();
  assert.deepEqual(page.problems.filter((m) => !/404 \(Not Found\)/.test(m)), []);
});
