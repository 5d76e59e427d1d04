// exec.js: commands for programs. connect() opens one connection and picks the method the
// server offers: ptyd's exec channel (webshell-exec.v1: separate binary streams, stdin, many
// commands at once) or, against ttyd and a ptyd without it, the sentinel method over `tty`.
// execCommand() is connect + exec + close.

import { EXEC_SUBPROTOCOL, ExecChannel, checkExecOptions } from './channel.js';
import { WebShellError } from './keys.js';
import { SentinelChannel } from './sentinel.js';
import { openSocket, refusalFromClose, resolveUrl } from './socket.js';
import { SUBPROTOCOL } from './ttyd.js';

function pageBase(options) {
  return options.base !== undefined ? options.base : globalThis.location && globalThis.location.href;
}

// The connection for options; with the exec channel, resolved once the socket is open (early)
// or once the server's hello has come (the default: its limits are known, refusals reported).
async function open(options, { early = false } = {}) {
  const method = options.method || 'auto';
  if (!['auto', 'channel', 'sentinel'].includes(method)) {
    throw new WebShellError('bad-argument', "method must be 'auto', 'channel' or 'sentinel'");
  }
  const base = pageBase(options);
  const url = resolveUrl(options.url, { base });
  const protocols = method === 'sentinel' ? [SUBPROTOCOL] : [EXEC_SUBPROTOCOL, SUBPROTOCOL];
  const ws = await openSocket(url, protocols, { ...options, base });
  if (ws.protocol === EXEC_SUBPROTOCOL) {
    const conn = new ExecChannel(ws, { url });
    if (early) return conn;
    try {
      await conn.ready;
    } catch (e) {
      // Refused right after the upgrade (e.g. an origin or identity rule): say which.
      throw refusalFromClose(conn.closeCode, conn.closeReason, url) || e;
    }
    return conn;
  }
  if (method === 'channel') {
    ws.close(1000);
    throw new WebShellError('unsupported', `the server at ${url} has no exec channel (${EXEC_SUBPROTOCOL}): it chose "${ws.protocol}"`);
  }
  return new SentinelChannel(ws, { url, crypto: options.crypto });
}

/**
 * Opens a connection for commands. options: url, privateKey or token(), lifetimeSec, subject,
 * audience, tokenIn, connectTimeoutMs, method ('auto': the exec channel when the server
 * offers it, else the sentinel method; 'channel': the exec channel or an 'unsupported' error;
 * 'sentinel': always the sentinel method). Resolves to a connection with exec(), sessions(),
 * endSession(), close(), `method` ('channel' or 'sentinel') and `hello`.
 */
export function connect(options = {}) {
  return open(options);
}

/**
 * Runs one command on a connection of its own and resolves to { stdout, stderr, exitCode,
 * signal, timedOut, cancelled, durationMs } (stdout and stderr as strings, or Uint8Array with
 * encoding 'binary'). timeoutMs (default 30000; 0: no limit) bounds the command; connecting
 * is bounded by it too. See connect() and ExecOptions in web-shell.d.ts for the options.
 */
export async function execCommand(command, options = {}) {
  const opts = { timeoutMs: 30000, ...options };
  checkExecOptions(opts);
  if (typeof command !== 'string' && !Array.isArray(command)) {
    throw new WebShellError('bad-argument', 'command must be a string (run by the shell) or an array of strings (argv)');
  }
  if (opts.signal && opts.signal.aborted) throw new WebShellError('cancelled', 'cancelled before it started');
  const connectTimeoutMs = Math.min(opts.connectTimeoutMs || 15000, opts.timeoutMs || Infinity);
  // On the exec channel the command goes right behind the upgrade, without waiting for the
  // hello (one round trip less); a refusal still rejects with its reason.
  const conn = await open({ ...opts, connectTimeoutMs }, { early: true });
  try {
    return await conn.exec(command, opts);
  } finally {
    conn.close();
  }
}

/**
 * The caller's own terminal sessions on the server (over the exec channel's `sessions`
 * message): [{ id, state: 'attached' | 'detached', started, lastInput, title }]. Attach one
 * with connectTerminal(element, { ...options, session: id }).
 */
export async function listSessions(options = {}) {
  const conn = await connect({ ...options, method: 'channel' });
  try {
    return await conn.sessions();
  } finally {
    conn.close();
  }
}
