// tests/audit/replay.test.mjs: the replay page (examples/web-shell/replay.html) in Debian's
// Chromium: a session recorded by the real ptyd (tests/audit/make_cast.py: real bash, an
// `echo` after 1.5 s) is opened with the file picker and by drag and drop, and the echoed
// line shows on screen at the time it was printed, not before; seek, pause and speed work;
// a broken file gets an error naming its line. Also parseCast() on its own, in node.
/*
# tier: slow (Chromium; make check leaves it out)
# serial: yes (Chromium's timing: tests/run.sh runs it alone)
*/
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';

const ROOT = process.env.WS_ROOT || new URL('../..', import.meta.url).pathname.replace(/\/$/, '');
const WORK = process.env.WS_WORK || '/tmp/replay-test';
const PAGE = pathToFileURL(join(ROOT, 'examples/web-shell/replay.html')).href;

let cast; // { path, echo, text }
let context;
let page;
const problems = [];

before(async () => {
  mkdirSync(WORK, { recursive: true });
  cast = JSON.parse(execFileSync('/usr/bin/python3', [join(ROOT, 'tests/audit/make_cast.py'), join(WORK, 'cast')],
    { encoding: 'utf8', env: { ...process.env, WS_WORK: WORK } }));
  assert.ok(cast.echo > 1.4, `the echo was recorded after the shell's sleep (${cast.echo})`);
  context = await chromium.launchPersistentContext(join(WORK, `chromium-profile-${Date.now()}`), {
    executablePath: '/usr/bin/chromium',
    headless: true,
    viewport: { width: 1100, height: 900 },
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--no-first-run'],
  });
  page = await context.newPage();
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  page.on('console', (m) => { if (m.type() === 'error') problems.push(`console: ${m.text()}`); });
  await page.goto(PAGE);
  await page.waitForFunction(() => globalThis.webShellReplay !== undefined);
});

after(async () => {
  if (context) await context.close();
});

const screen = () => page.evaluate(() => document.querySelector('#replay-player .ap-term-text')?.textContent ?? '');
const now = () => page.evaluate(() => globalThis.webShellReplay.currentTime);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function samplePlayback(ms) {
  const samples = [];
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const [t, text] = await page.evaluate(() => [globalThis.webShellReplay.currentTime,
      document.querySelector('#replay-player .ap-term-text')?.textContent ?? '']);
    samples.push({ wall: Date.now(), t, shown: text.includes('replay-42-ok') });
    await sleep(40);
  }
  return samples;
}

/*
 * The player's clock runs at speed times the wall clock: from the first sample where it
 * moved to the echo, wall time and player time agree (the player may take a moment to
 * start on a busy machine, so wall time from the click is not the measure).
 */
function assertPace(samples, first, speed) {
  const start = samples.find((s) => s.t > 0);
  const played = first.t - start.t;
  const wall = (first.wall - start.wall) / 1000;
  assert.ok(played > 0.2, `the player moved before the echo (${played} s)`);
  assert.ok(Math.abs(wall * speed - played) < 0.35 * Math.max(1, speed / 2),
    `at ${speed}x: ${played} s of recording took ${wall} s`);
}

test('the file picker opens a recording and shows who, what and how it ended', async () => {
  await page.setInputFiles('#replay-file', cast.path);
  await page.waitForFunction(() => !document.getElementById('replay-view').hidden);
  const meta = await page.locator('#replay-meta').innerText();
  assert.match(meta, /carol@example\.org/);
  assert.match(meta, /exit 0/);
  assert.match(meta, /terminal/);
  assert.match(await page.locator('#replay-status').innerText(), /^Loaded .*\.cast/);
  assert.ok(!(await screen()).includes(cast.text), 'nothing of the echo before playing');
});

test('playing at 1x: the echo shows at its recorded time, not before', async () => {
  const t0 = Date.now();
  await page.click('#replay-play');
  const samples = await samplePlayback((cast.echo + 1.2) * 1000);
  const first = samples.find((s) => s.shown);
  assert.ok(first, `the echo never showed; screen:\n${await screen()}`);
  const early = samples.filter((s) => s.shown && s.t < cast.echo - 0.05);
  assert.deepEqual(early, [], 'shown before its time');
  assert.ok(first.t >= cast.echo - 0.05 && first.t < cast.echo + 0.5,
    `shown at player time ${first.t}, recorded at ${cast.echo}`);
  assertPace(samples, first, 1);
  assert.ok(first.wall - t0 < (cast.echo + 5) * 1000, 'shown within seconds of play');
});

test('seek back hides it, seek past it shows it', async () => {
  await page.evaluate(() => globalThis.webShellReplay.pause());
  await page.evaluate(() => globalThis.webShellReplay.seek(0.2));
  await page.waitForFunction(() => !document.querySelector('#replay-player .ap-term-text').textContent.includes('replay-42-ok'));
  assert.ok((await now()) < 0.5);
  // The seek slider, as a user drags it.
  await page.locator('#replay-seek').fill(String(cast.echo + 0.1));
  await page.locator('#replay-seek').dispatchEvent('change');
  await page.waitForFunction(() => document.querySelector('#replay-player .ap-term-text').textContent.includes('replay-42-ok'));
});

test('pause holds the position', async () => {
  await page.evaluate(() => globalThis.webShellReplay.seek(0));
  await page.click('#replay-play');
  await sleep(400);
  await page.click('#replay-play');
  const a = await now();
  await sleep(500);
  const b = await now();
  assert.ok(a > 0.2, `it played before the pause (${a})`);
  assert.equal(b, a, 'no progress while paused');
  assert.equal(await page.locator('#replay-play').innerText(), 'Play');
});

test('speed 4x: the echo comes four times sooner', async () => {
  await page.evaluate(() => globalThis.webShellReplay.seek(0));
  await page.selectOption('#replay-speed', '4');
  await page.waitForFunction(() => globalThis.webShellReplay.speed === 4);
  assert.ok(!(await screen()).includes(cast.text), 'speed change kept the position at the start');
  const t0 = Date.now();
  await page.click('#replay-play');
  const samples = await samplePlayback((cast.echo / 4 + 1.0) * 1000);
  const first = samples.find((s) => s.shown);
  assert.ok(first, 'the echo showed at 4x');
  assertPace(samples, first, 4);
  assert.ok(first.wall - t0 < (cast.echo / 4 + 5) * 1000, 'shown within seconds of play');
  assert.ok(first.t >= cast.echo - 0.05, `player time ${first.t} not before the echo`);
});

test('drag and drop opens a file; a broken one is refused with its line', async () => {
  const broken = readFileSync(cast.path, 'utf8').split('\n');
  broken[3] = '[1.0, "o", unterminated';
  const drop = async (name, text) => {
    const dt = await page.evaluateHandle(([n, t]) => {
      const d = new DataTransfer();
      d.items.add(new File([t], n, { type: 'application/x-asciicast' }));
      return d;
    }, [name, text]);
    await page.dispatchEvent('#replay-open', 'dragover', { dataTransfer: dt });
    await page.dispatchEvent('#replay-open', 'drop', { dataTransfer: dt });
  };
  await drop('broken.cast', broken.join('\n'));
  await page.waitForFunction(() => document.getElementById('replay-status').classList.contains('error'));
  assert.match(await page.locator('#replay-status').innerText(), /broken\.cast: line 4: not JSON/);
  await drop('dropped.cast', readFileSync(cast.path, 'utf8'));
  await page.waitForFunction(() => /^Loaded dropped\.cast/.test(document.getElementById('replay-status').textContent));
  assert.match(await page.locator('#replay-meta').innerText(), /dropped\.cast/);
  assert.equal(await page.evaluate(() => globalThis.webShellReplay.speed), 1, 'a new file plays at 1x');
});

test('no errors in the page', () => {
  assert.deepEqual(problems, []);
});

test('parseCast: fields, stderr events, markers, and refusals naming the line', async () => {
  await import(pathToFileURL(join(ROOT, 'examples/web-shell/replay.js')).href);
  const { parseCast, CastError } = globalThis.WebShellReplay;
  const text = [
    JSON.stringify({ version: 2, width: 90, height: 20, timestamp: 1700000000, env: { TERM: 'xterm', SHELL: '/bin/sh' },
      webshell: { kind: 'exec', user: 'u', session: 'abcdef01', peer: 'p', command: 'ls' } }),
    '[0.1, "o", "out"]', '[0.2, "e", "err"]', '', '[0.3, "m", "dropped 10 bytes (write failed)"]',
    '[0.5, "m", "exit 2"]', ''].join('\n');
  const { meta, events } = parseCast(text);
  assert.equal(events.length, 4);
  assert.equal(meta.duration, 0.5);
  assert.equal(meta.endStatus, 'exit 2');
  assert.equal(meta.kind, 'exec');
  assert.equal(meta.drops.length, 1);
  assert.equal(meta.started.toISOString(), '2023-11-14T22:13:20.000Z');
  assert.deepEqual(meta.counts, { o: 1, e: 1, m: 2 });
  const bad = [
    ['', /line 1: not an asciicast file/],
    ['{"version":1,"width":80,"height":24}', /version 1 is not supported/],
    ['{"version":2,"width":0,"height":24}', /width and height/],
    ['{"version":2,"width":80,"height":24}\n[1, "o"]', /line 2: not an event/],
    ['{"version":2,"width":80,"height":24}\n[2, "o", "a"]\n[1, "o", "b"]', /line 3: time goes back/],
    ['{"version":2,"width":80,"height":24}\n["1", "o", "a"]', /line 2: not an event/],
  ];
  for (const [t, re] of bad) assert.throws(() => parseCast(t), (e) => e instanceof CastError && re.test(e.message), t);
  // Without an end marker the meta says so (a recording cut short).
  assert.equal(parseCast('{"version":2,"width":80,"height":24}\n[1, "o", "a"]').meta.endStatus, undefined);
  writeFileSync(join(WORK, 'done'), 'ok');
});
