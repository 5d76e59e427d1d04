// tests/browser/stack.mjs: the real stack on loopback for the browser tests and the benchmark:
// Caddy (plain http site, admin off, 127.0.0.1 only, own XDG dirs), build/jwt-verify and
// build/ptyd on free ports, and Debian's Chromium through playwright-core. stop() ends
// every process it started.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { freePort, startServer } from '../lib/server.mjs';

export const ROOT = process.env.WS_ROOT || new URL('../..', import.meta.url).pathname.replace(/\/$/, '');
export const BUILD = process.env.WS_BUILD || join(ROOT, 'build');
export const WEB_DIR = join(ROOT, 'examples/web-shell');
export const WORK = process.env.WS_WORK || '/tmp';
/** Why a browser suite skips: the services it drives are not built yet (false: they are). */
export const NOT_BUILT = ['jwt-verify', 'ptyd'].filter((b) => !existsSync(join(BUILD, b))).join(' and ')
  .replace(/.+/, '$& not built yet') || false;

// A piece of the product's own Caddyfile, from scripts/lib/caddyfile.sh (what web-shell.sh
// and demo.sh write), so the browser tests go through the /ws gate that ships.
function caddyPiece(fn, ...args) {
  return execFileSync('bash', ['-c', 'source "$0" && "$@"', join(ROOT, 'scripts/lib/caddyfile.sh'), fn, ...args],
    { encoding: 'utf8' });
}

function caddyfile({ caddyPort, verifyPort, ptydPort, demoDir, tls, httpPort, webRoot }) {
  // With tls: Caddy's own local CA ("tls internal"), nothing installed into trust stores.
  const tlsGlobals = tls ? `\thttp_port ${httpPort}\n\thttps_port ${caddyPort}\n\tlocal_certs\n\tskip_install_trust\n` : '';
  return `# Caddyfile of the browser tests (written by tests/browser/stack.mjs).
{
	admin off
	default_bind 127.0.0.1
${tlsGlobals}${caddyPiece('caddy::log_filter')}}

${tls ? 'https' : 'http'}://127.0.0.1:${caddyPort}${tls ? '' : `, http://localhost:${caddyPort}`} {
${tls ? '\ttls internal\n' : ''}${caddyPiece('caddy::ws_route', `127.0.0.1:${verifyPort}`, `127.0.0.1:${ptydPort}`)}	handle /demo-key.pem {
		root * ${demoDir}
		file_server
	}
	handle {
		root * ${webRoot}
		file_server
	}
}
`;
}

/**
 * Starts Caddy and ptyd (jwt-verify comes later, with startVerifier(keyFiles), because
 * its keys are made in the page). work: a scratch directory; tls: serve https with
 * `tls internal` instead of plain http; webRoot: what Caddy serves outside /ws (the example
 * app by default); ptydArgs: more ptyd flags (or a function of {caddyPort} giving them); shell: the command ptyd runs (default an
 * interactive bash with a one-line rc file); ptydEnv: ptyd's environment additions.
 * Returns the stack object.
 */
export async function startStack(work, { tls = false, webRoot = WEB_DIR, ptydArgs = [], shell = null, ptydEnv = {} } = {}) {
  const [caddyPort, verifyPort, ptydPort, httpPort] = [await freePort(), await freePort(), await freePort(), await freePort()];
  const home = join(work, 'home');
  const demoDir = join(work, 'demo');
  for (const d of [home, demoDir, join(work, 'caddy-data'), join(work, 'caddy-config')]) mkdirSync(d, { recursive: true });
  const config = join(work, 'Caddyfile');
  writeFileSync(config, caddyfile({ caddyPort, verifyPort, ptydPort, demoDir, tls, httpPort, webRoot }));
  const servers = [];
  const stack = {
    caddyPort, verifyPort, ptydPort, demoDir, work,
    pageUrl: `${tls ? 'https' : 'http'}://127.0.0.1:${caddyPort}/`,
    wsUrl: `${tls ? 'wss' : 'ws'}://127.0.0.1:${caddyPort}/ws`,
    caCert: join(work, 'caddy-data/caddy/pki/authorities/local/root.crt'),
    fileUrl: `file://${WEB_DIR}/index.html`,
    home,
    servers,
    verifier: null,
    // Starts (or restarts) jwt-verify trusting the given public key files.
    async startVerifier(keyFiles, extra = []) {
      if (stack.verifier) await stack.stopVerifier();
      const args = keyFiles.flatMap((k) => ['--key', k]);
      stack.verifier = await startServer({
        name: 'jwt-verify', ready: { port: verifyPort },
        argv: [join(BUILD, 'jwt-verify'), ...args, '--audience', '127.0.0.1', '--listen', `127.0.0.1:${verifyPort}`, ...extra],
      });
      servers.push(stack.verifier);
      return stack.verifier;
    },
    async stopVerifier() {
      if (stack.verifier) await stack.verifier.stop();
      stack.verifier = null;
    },
    // Every server's output so far (for failure messages and log assertions).
    logs: () => servers.map((s) => `--- ${s.name}\n${s.output()}`).join('\n'),
    async stop() {
      if (stack.context) await stack.context.close().catch(() => {});
      await Promise.all(servers.map((s) => s.stop()));
    },
  };
  // An interactive bash with a known rc file: the machine's own dotfiles (root's may run
  // pyenv and the like for half a second) are not what is under test.
  const rc = join(work, 'bashrc');
  writeFileSync(rc, "PS1='\\u@\\h:\\w\\$ '\nHISTFILE=\n");
  // Both at once, through the one Node harness (tests/lib/server.mjs); either failing stops the other.
  const starts = await Promise.allSettled([
    startServer({
      name: 'caddy', argv: ['caddy', 'run', '--adapter', 'caddyfile', '--config', config], ready: { port: caddyPort },
      env: { HOME: home, XDG_DATA_HOME: join(work, 'caddy-data'), XDG_CONFIG_HOME: join(work, 'caddy-config') },
    }),
    startServer({
      name: 'ptyd', ready: { port: ptydPort }, env: ptydEnv,
      argv: [join(BUILD, 'ptyd'), '--listen', `127.0.0.1:${ptydPort}`, '--allow-root', '--cwd', home,
        ...(typeof ptydArgs === 'function' ? ptydArgs({ caddyPort }) : ptydArgs), '--',
        ...(shell || ['/bin/bash', '--noprofile', '--rcfile', rc, '-i'])],
    }),
  ]);
  servers.push(...starts.filter((r) => r.status === 'fulfilled').map((r) => r.value));
  const failed = starts.find((r) => r.status === 'rejected');
  if (failed) {
    await stack.stop();
    throw failed.reason;
  }
  return stack;
}

/**
 * Debian's Chromium, headless, with a fresh profile under work; returns a browser context
 * (stack.context, closed by stack.stop()).
 */
export async function startBrowser(stack, { viewport = { width: 1100, height: 900 } } = {}) {
  const profile = join(stack.work, `chromium-profile-${Date.now()}`);
  stack.context = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    viewport,
    // Caddy's test CA is not in Chromium's trust store (the https stack only).
    ignoreHTTPSErrors: stack.pageUrl.startsWith('https:'),
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--no-first-run'],
  });
  return stack.context;
}

/** Opens url in a new page that records console errors and uncaught exceptions. */
export async function openPage(context, url) {
  const page = await context.newPage();
  page.problems = [];
  page.on('pageerror', (e) => page.problems.push(`pageerror: ${e.message}`));
  page.on('console', (m) => { if (m.type() === 'error') page.problems.push(`console: ${m.text()}`); });
  await page.goto(url);
  await page.waitForFunction(() => globalThis.webShellApp !== undefined);
  return page;
}

/** The visible text of the page's xterm.js buffer, lines trimmed, as one string. */
export function terminalText(page) {
  return page.evaluate(() => {
    const buf = globalThis.webShellApp.session.terminal.buffer.active;
    const lines = [];
    for (let i = 0; i < buf.length; i++) lines.push(buf.getLine(i).translateToString(true));
    return lines.join('\n');
  });
}

/**
 * Waits until the terminal text matches re; throws with the text on timeout. read: how to
 * get the text (the example app's terminal by default).
 */
export async function waitTerminal(page, re, ms = 10000, read = terminalText) {
  const deadline = Date.now() + ms;
  let text = '';
  while (Date.now() < deadline) {
    text = await read(page);
    if (re.test(text)) return text;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`terminal never matched ${re} in ${ms} ms; it shows:\n${text}`);
}
