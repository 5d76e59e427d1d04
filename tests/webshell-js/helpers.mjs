// tests/webshell-js/helpers.mjs: shared helpers of the node unit tests: the openssl CLI, scratch
// files under $WS_WORK, free loopback ports and starting build/jwt-verify.
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, waitPort } from '../lib/server.mjs';

// Free ports and port waits: the one harness in tests/lib/server.mjs.
export { freePort, waitPort };

export const ROOT = process.env.WS_ROOT || new URL('../..', import.meta.url).pathname;
export const BUILD = process.env.WS_BUILD || join(ROOT, 'build');
export const WORK = mkdtempSync(join(process.env.WS_WORK || tmpdir(), 'wsjs-'));
export const MODULE = join(ROOT, 'examples/web-shell/web-shell.js');

let counter = 0;
/** Writes data to a fresh file under WORK and returns its path. */
export function scratch(name, data) {
  const path = join(WORK, `${++counter}-${name}`);
  writeFileSync(path, data);
  return path;
}

/** Runs openssl with args; returns stdout as a Buffer (throws with stderr on failure). */
export function openssl(args, input) {
  return execFileSync('openssl', args, { input, stdio: ['pipe', 'pipe', 'pipe'] });
}

/** true when openssl exits 0. */
export function opensslOk(args, input) {
  try {
    openssl(args, input);
    return true;
  } catch {
    return false;
  }
}

/**
 * Starts a server binary with args and waits for its port; returns { proc, log() , stop() }.
 * stop() sends SIGTERM, then SIGKILL after 3 s, and resolves when it has exited.
 */
export async function startServer(binary, args, port, env = {}) {
  const proc = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  let output = '';
  proc.stdout.on('data', (d) => { output += d; });
  proc.stderr.on('data', (d) => { output += d; });
  const exited = new Promise((resolve) => proc.once('exit', resolve));
  const stop = async () => {
    if (proc.exitCode !== null || proc.signalCode !== null) return;
    proc.kill('SIGTERM');
    const t = setTimeout(() => proc.kill('SIGKILL'), 3000);
    await exited;
    clearTimeout(t);
  };
  try {
    await Promise.race([waitPort(port), exited.then((c) => { throw new Error(`${binary} exited (${c}): ${output}`); })]);
  } catch (e) {
    await stop();
    throw e;
  }
  return { proc, log: () => output, stop };
}
