// tests/lib/server.mjs: the Node tests' one way to start a server and wait for it.
//
//   import { startServer, freePort, waitUntil } from '../lib/server.mjs';
//   const v = await startServer({ name: 'jwt-verify', argv: [BIN, '--listen', '127.0.0.1:{port}'] });
//   const p = await startServer({ argv: [PTYD, '--listen', `unix:${path}`], ready: { socket: path } });
//   const c = await startServer({ argv: ['caddy', 'run', ...], ready: { log: /serving initial/ } });
//   v.output(); await v.waitLog(/decision/); await v.stop();
//
// '{port}' in argv is replaced by a free loopback port (server.port); if the process exits
// before it is ready because another took that port in between, it is started again on a new
// one. ready: { port } (default: the server's own {port}), { socket: path }, { log: RegExp },
// { file: path }, or a function returning truthy. Every wait polls its condition until a
// deadline: never a fixed sleep.
import { spawn } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import net from 'node:net';
import { basename } from 'node:path';

const pause = (ms) => new Promise((r) => setTimeout(r, ms));

/** Polls cond() (may be async) until truthy (returned) or ms pass (throws, naming what). */
export async function waitUntil(cond, { ms = 10000, step = 25, what = 'condition' } = {}) {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await cond();
    if (v) return v;
    if (Date.now() >= deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await pause(step);
  }
}

function tryPort(port) {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.on('error', () => resolve(null));
    s.listen(port, '127.0.0.1', () => {
      const got = s.address().port;
      s.close(() => resolve(got));
    });
  });
}

const handedOut = new Set();

/**
 * A TCP port on 127.0.0.1 that nothing is bound to right now and that this process has not
 * handed out before. Under tests/run.sh it comes from $WS_PORTS ("LO-HI"), the running suite's
 * own range below the kernel's ephemeral ports (as tests/lib/server.py's free_port).
 */
export async function freePort() {
  const [lo, hi] = (process.env.WS_PORTS || '').split('-').map(Number);
  for (let i = 0; i < 500; i++) {
    const port = await tryPort(hi ? lo + Math.floor(Math.random() * (hi - lo + 1)) : 0);
    if (port && !handedOut.has(port)) {
      handedOut.add(port);
      return port;
    }
  }
  throw new Error(`no free port in ${process.env.WS_PORTS || 'the ephemeral range'}`);
}

/** Whether something accepts a connection now: { port, host } or { path } (unix socket). */
export function canConnect(opts) {
  return new Promise((resolve) => {
    const c = net.connect(opts.path ? { path: opts.path } : { port: opts.port, host: opts.host || '127.0.0.1' });
    c.once('connect', () => { c.destroy(); resolve(true); });
    c.once('error', () => resolve(false));
  });
}

/** Resolves once something accepts on 127.0.0.1:port; rejects after ms. */
export function waitPort(port, ms = 10000, host = '127.0.0.1') {
  return waitUntil(() => canConnect({ port, host }), { ms, what: `a listener on ${host}:${port}` });
}

/** Resolves once something accepts on the unix socket path; rejects after ms. */
export function waitSocket(path, ms = 10000) {
  return waitUntil(() => canConnect({ path }), { ms, what: `a listener on unix:${path}` });
}

const IN_USE = /address already in use|EADDRINUSE|bind.*(failed|error)/i;

function readyCheck(ready, server) {
  if (typeof ready === 'function') return [() => ready(server), 'the ready condition'];
  if (ready.socket) return [() => canConnect({ path: ready.socket }), `a listener on unix:${ready.socket}`];
  if (ready.log) return [() => ready.log.test(server.output()), `output matching ${ready.log}`];
  if (ready.file) {
    return [() => existsSync(ready.file) && statSync(ready.file).size > 0, `the file ${ready.file}`];
  }
  const port = ready.port || server.port;
  return [() => canConnect({ port, host: ready.host }), `a listener on 127.0.0.1:${port}`];
}

function launch(name, argv, env, cwd) {
  const proc = spawn(argv[0], argv.slice(1), {
    stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env }, cwd, detached: true,
  });
  let output = '';
  const collect = (d) => { output += d; };
  proc.stdout.on('data', collect);
  proc.stderr.on('data', collect);
  const exited = new Promise((resolve) => proc.once('exit', (code, sig) => resolve(sig || code)));
  const gone = () => proc.exitCode !== null || proc.signalCode !== null;
  return {
    name,
    proc,
    pid: proc.pid,
    argv,
    exited,
    output: () => output,
    alive: () => !gone(),
    /** Waits for the regex in the output; resolves the match, rejects after ms. */
    waitLog: (re, ms = 5000) => waitUntil(() => output.match(re), { ms, what: `${name} output matching ${re}` }),
    /** SIGTERM (or sig), SIGKILL to its process group after ms; resolves the exit code or signal. */
    async stop({ sig = 'SIGTERM', ms = 5000 } = {}) {
      if (!gone()) {
        proc.kill(sig);
        const t = setTimeout(() => { try { process.kill(-proc.pid, 'SIGKILL'); } catch { /* gone */ } }, ms);
        await exited;
        clearTimeout(t);
      }
      return exited;
    },
  };
}

/**
 * Starts argv and waits until it is ready (see the file's header); rejects, with the
 * server's output, when it exits first or is not ready within ms. Returns the server:
 * { name, proc, pid, port, argv, output(), waitLog(re, ms), alive(), stop(), exited }.
 */
export async function startServer({ argv, name = basename(argv[0]), ready = {}, env = {}, cwd,
  ms = 15000, attempts = 3 }) {
  const usesPort = argv.some((a) => String(a).includes('{port}'));
  for (let attempt = 1; ; attempt++) {
    const port = usesPort ? await freePort() : undefined;
    const argvNow = usesPort ? argv.map((a) => String(a).replaceAll('{port}', String(port))) : argv;
    const server = launch(name, argvNow, env, cwd);
    server.port = port;
    const [check, what] = readyCheck(ready, server);
    const died = server.exited.then((c) => ({ died: c }));
    try {
      const r = await Promise.race([waitUntil(check, { ms, what }).then(() => null), died]);
      if (!r) return server;
      const out = server.output();
      if (usesPort && IN_USE.test(out) && attempt < attempts) continue;
      throw new Error(`${name} exited (${r.died}) before ${what}: ${argvNow.join(' ')}\n${out.slice(-3000)}`);
    } catch (e) {
      await server.stop();
      if (e.message.startsWith('timed out')) {
        throw new Error(`${name}: ${e.message}: ${argvNow.join(' ')}\n${server.output().slice(-3000)}`);
      }
      throw e;
    }
  }
}
