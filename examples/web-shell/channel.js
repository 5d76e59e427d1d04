// channel.js: the client of ptyd's exec channel (subprotocol webshell-exec.v1, docs/protocol.md
// section 2): many commands at once over one WebSocket, stdout and stderr apart and binary-safe,
// stdin with end-of-input, a status each, cancel, and flow control both ways. The frame codec
// is pure and exported for tests; ExecChannel owns its socket's reads and writes.

import { concatBytes, utf8 } from './encoding.js';
import { WebShellError } from './keys.js';
import { refusalFromClose } from './socket.js';

export const EXEC_SUBPROTOCOL = 'webshell-exec.v1';

/** Channel numbers (0-4 as Kubernetes' v5.channel.k8s.io, the rest web-shell's own). */
export const CH = Object.freeze({
  STDIN: 0, STDOUT: 1, STDERR: 2, STATUS: 3, RESIZE: 4,
  START: 16, EOF: 17, CANCEL: 18, ACK: 19, HELLO: 32, SESSIONS: 33, END_SESSION: 34,
});

/** Largest payload of any message but start. */
export const MAX_PAYLOAD = 65536;
const DEFAULT_MAX_OUTPUT = 64 * 1024 * 1024;
const DEFAULT_WINDOW = 1024 * 1024;
// A start message this small fits every server's limit (--exec-max-command is at least 1024):
// it may go before the hello has told the limits (docs/protocol.md section 2, pipelining).
const EARLY_START_MAX = 1024;
// How long after its own timeoutMs a command may stay silent before the client cancels it
// itself (the server's timer normally fires first and reports timedOut).
const TIMEOUT_GRACE_MS = 5000;

/** One message: channel byte, 32-bit big-endian command id, payload. */
export function encodeFrame(channel, id, payload = new Uint8Array(0)) {
  const body = typeof payload === 'string' ? utf8(payload) : payload;
  const out = new Uint8Array(5 + body.length);
  out[0] = channel;
  new DataView(out.buffer).setUint32(1, id >>> 0);
  out.set(body, 5);
  return out;
}

/** { channel, id, payload } of a message (ArrayBuffer or Uint8Array); payload is a view. */
export function decodeFrame(data) {
  const bytes = data instanceof Uint8Array ? data : new Uint8Array(data);
  if (bytes.length < 5) throw new WebShellError('protocol', `exec frame of ${bytes.length} bytes (at least 5 expected)`);
  const id = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(1);
  return { channel: bytes[0], id, payload: bytes.subarray(5) };
}

/** An ack of n more bytes consumed for command id (an increment, 32-bit big-endian). */
export function encodeAck(id, n) {
  const p = new Uint8Array(4);
  new DataView(p.buffer).setUint32(0, n >>> 0);
  return encodeFrame(CH.ACK, id, p);
}

function readU32(payload) {
  if (payload.length !== 4) throw new WebShellError('protocol', 'an ack must carry 4 bytes');
  return new DataView(payload.buffer, payload.byteOffset, 4).getUint32(0);
}

function parseJson(payload, what) {
  try {
    return JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(payload));
  } catch {
    throw new WebShellError('protocol', `malformed ${what} message from the server`);
  }
}

/**
 * The start message's JSON for command: a string runs in the account's shell with -c, an
 * array of strings runs directly (argv). Options: login, env, cwd, timeoutMs, pty, and
 * whether stdin comes (else stdin is /dev/null).
 */
export function startRequest(command, options = {}, hasStdin = false) {
  const req = {};
  if (typeof command === 'string') {
    req.shell = command;
    if (options.login) req.login = true;
  } else if (Array.isArray(command) && command.length > 0 && command.every((a) => typeof a === 'string')) {
    req.argv = [...command];
  } else {
    throw new WebShellError('bad-argument', 'command must be a string (run by the shell) or a non-empty array of strings (argv)');
  }
  if (options.env !== undefined) {
    if (!options.env || typeof options.env !== 'object' || Object.values(options.env).some((v) => typeof v !== 'string')) {
      throw new WebShellError('bad-argument', 'env must be an object of strings');
    }
    req.env = { ...options.env };
  }
  if (options.cwd !== undefined) {
    if (typeof options.cwd !== 'string' || options.cwd === '') throw new WebShellError('bad-argument', 'cwd must be a path');
    req.cwd = options.cwd;
  }
  if (options.timeoutMs) req.timeoutMs = options.timeoutMs; // 0: no limit of the command's own
  if (options.pty) req.pty = { columns: options.pty.columns || 80, rows: options.pty.rows || 24 };
  if (!hasStdin) req.stdin = false;
  return req;
}

/** Checks the options shared by both exec methods; throws 'bad-argument'. */
export function checkExecOptions(options) {
  const { timeoutMs, maxOutputBytes, encoding } = options;
  if (timeoutMs !== undefined && (!Number.isFinite(timeoutMs) || timeoutMs < 0)) {
    throw new WebShellError('bad-argument', 'timeoutMs must be a number of milliseconds (0: no limit)');
  }
  if (maxOutputBytes !== undefined && (!Number.isSafeInteger(maxOutputBytes) || maxOutputBytes < 0)) {
    throw new WebShellError('bad-argument', 'maxOutputBytes must be a whole number of bytes');
  }
  if (encoding !== undefined && encoding !== 'utf8' && encoding !== 'binary') {
    throw new WebShellError('bad-argument', "encoding must be 'utf8' or 'binary'");
  }
  const s = options.stdin;
  if (s !== undefined && s !== null && typeof s !== 'string' && !(s instanceof Uint8Array) &&
      !(s instanceof ArrayBuffer) && !(typeof s.getReader === 'function')) {
    throw new WebShellError('bad-argument', 'stdin must be a string, a Uint8Array, an ArrayBuffer or a ReadableStream');
  }
}

/** The bytes of a string or bytes stdin (a ReadableStream is read as it goes). */
export function stdinBytes(stdin) {
  if (typeof stdin === 'string') return utf8(stdin);
  if (stdin instanceof ArrayBuffer) return new Uint8Array(stdin);
  return stdin;
}

/** What a command printed on one stream: kept (bytes or decoded text), streamed, or both. */
class StreamSink {
  constructor(encoding, callback) {
    this.binary = encoding === 'binary';
    this.callback = callback;
    this.keep = !callback;
    this.parts = [];
    this.bytes = 0;
    this.decoder = this.binary ? null : new TextDecoder('utf-8');
  }

  // The chunk as the consumer sees it (text decoded statefully, so characters split
  // across messages arrive whole).
  convert(bytes, last = false) {
    if (this.binary) return bytes.slice();
    return this.decoder.decode(bytes, { stream: !last });
  }

  take(bytes) {
    const chunk = this.convert(bytes);
    if (this.keep) {
      this.parts.push(chunk);
      this.bytes += bytes.length;
      return undefined;
    }
    return chunk === '' ? undefined : this.callback(chunk);
  }

  result() {
    if (this.binary) return concatBytes(this.keep ? this.parts : [], this.bytes);
    const tail = this.decoder.decode();
    if (!this.keep) {
      if (tail) this.callback(tail);
      return '';
    }
    return this.parts.join('') + tail;
  }
}

/** One command on the channel: its streams, stdin pump, timers and the promise it settles. */
class Run {
  constructor(channel, id, command, options) {
    this.channel = channel;
    this.id = id;
    this.options = options;
    this.maxOutputBytes = options.maxOutputBytes !== undefined ? options.maxOutputBytes : DEFAULT_MAX_OUTPUT;
    this.outputBytes = 0;
    this.stdout = new StreamSink(options.encoding, options.onStdout);
    this.stderr = new StreamSink(options.encoding, options.onStderr);
    this.chain = Promise.resolve(); // consumer callbacks, in arrival order
    this.unacked = 0; // bytes consumed and not yet acknowledged
    this.stdinInFlight = 0;
    this.stdinWaiter = null;
    this.done = false;
    this.cancelSent = false;
    this.hasStdin = options.stdin !== undefined && options.stdin !== null;
    this.request = startRequest(command, options, this.hasStdin);
    this.json = utf8(JSON.stringify(this.request));
    // Without stdin (whose window the hello gives) and small: sent without waiting for the hello.
    this.early = !this.hasStdin && this.json.length <= EARLY_START_MAX;
    this.promise = new Promise((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
  }

  start() {
    const { options, json } = this;
    const limit = this.channel.hello.maxCommand;
    if (limit && json.length > limit) {
      this.fail(new WebShellError('bad-argument', `the command's start message is ${json.length} bytes, above the server's limit of ${limit} (--exec-max-command)`));
      return;
    }
    this.channel.send(encodeFrame(CH.START, this.id, json));
    this.started = performance.now();
    if (options.signal) {
      this.onAbort = () => this.cancel();
      options.signal.addEventListener('abort', this.onAbort, { once: true });
    }
    if (options.timeoutMs) {
      // A backstop: the server enforces timeoutMs and reports timedOut; if nothing comes,
      // cancel on the machine, and give up a little later.
      this.timer = setTimeout(() => {
        this.clientTimedOut = true;
        this.cancel();
        this.timer = setTimeout(() => this.fail(new WebShellError('timeout',
          `no status ${options.timeoutMs} ms + ${2 * TIMEOUT_GRACE_MS} ms after the start of the command; cancelled it`)), TIMEOUT_GRACE_MS);
      }, options.timeoutMs + TIMEOUT_GRACE_MS);
    }
    if (this.hasStdin) this.pumpStdin().catch((e) => this.fail(e));
  }

  cancel() {
    if (this.done || this.cancelSent) return;
    this.cancelSent = true;
    this.channel.send(encodeFrame(CH.CANCEL, this.id));
  }

  async pumpStdin() {
    const { stdin } = this.options;
    const window = this.channel.hello.window || DEFAULT_WINDOW;
    const sendBytes = async (bytes) => {
      for (let off = 0; off < bytes.length && !this.done;) {
        while (this.stdinInFlight >= window && !this.done) {
          await new Promise((r) => { this.stdinWaiter = r; });
        }
        const n = Math.min(MAX_PAYLOAD, bytes.length - off, window - this.stdinInFlight);
        this.stdinInFlight += n;
        this.channel.send(encodeFrame(CH.STDIN, this.id, bytes.subarray(off, off + n)));
        off += n;
      }
    };
    if (typeof stdin.getReader === 'function') {
      const reader = stdin.getReader();
      this.reader = reader;
      try {
        for (;;) {
          const { value, done } = await reader.read();
          if (done || this.done) break;
          const bytes = typeof value === 'string' ? utf8(value) : value instanceof ArrayBuffer ? new Uint8Array(value) : value;
          if (!(bytes instanceof Uint8Array)) throw new WebShellError('bad-argument', 'a stdin stream must give strings or bytes');
          await sendBytes(bytes);
        }
      } finally {
        if (this.done) reader.cancel().catch(() => {});
        reader.releaseLock();
      }
    } else {
      await sendBytes(stdinBytes(stdin));
    }
    if (!this.done) this.channel.send(encodeFrame(CH.EOF, this.id));
  }

  onAck(n) {
    this.stdinInFlight = Math.max(0, this.stdinInFlight - n);
    if (this.stdinWaiter) {
      const w = this.stdinWaiter;
      this.stdinWaiter = null;
      w();
    }
  }

  onOutput(sink, payload) {
    if (this.done) return;
    this.outputBytes += payload.length;
    if (this.outputBytes > this.maxOutputBytes) {
      this.cancel();
      this.fail(new WebShellError('output-limit', `the command printed more than ${this.maxOutputBytes} bytes (maxOutputBytes); cancelled it`));
      return;
    }
    const n = payload.length;
    // The consumer takes the chunk (a callback may return a promise: its bytes count as
    // taken once it settles); only then is it acknowledged, so a slow consumer slows the
    // command on the machine instead of filling memory here.
    this.chain = this.chain.then(() => sink.take(payload)).then(() => this.consumed(n), (e) => {
      this.cancel();
      this.fail(e);
    });
  }

  consumed(n) {
    if (this.done) return;
    this.unacked += n;
    const window = this.channel.hello.window || DEFAULT_WINDOW;
    if (this.unacked >= window / 4) {
      this.channel.send(encodeAck(this.id, this.unacked));
      this.unacked = 0;
    }
  }

  onStatus(payload) {
    const status = parseJson(payload, 'status');
    this.chain.then(() => {
      if (this.done) return;
      if (typeof status.error === 'string') {
        this.fail(new WebShellError('exec-refused', `the server refused the command: ${status.error}`));
        return;
      }
      let stdout;
      let stderr;
      try {
        stdout = this.stdout.result();
        stderr = this.stderr.result();
      } catch (e) {
        this.fail(e);
        return;
      }
      this.finish();
      this.resolve({
        stdout,
        stderr,
        exitCode: Number.isInteger(status.exitCode) ? status.exitCode : null,
        signal: typeof status.signal === 'string' ? status.signal : null,
        timedOut: status.timedOut === true,
        cancelled: status.cancelled === true,
        endedBy: status.endedBy === 'operator' ? 'operator' : null,
        durationMs: typeof status.durationMs === 'number' ? status.durationMs : Math.round(performance.now() - this.started),
        method: 'channel',
      });
    });
  }

  finish() {
    this.done = true;
    clearTimeout(this.timer);
    if (this.onAbort) this.options.signal.removeEventListener('abort', this.onAbort);
    if (this.stdinWaiter) this.stdinWaiter();
    this.channel.forget(this);
  }

  fail(error) {
    if (this.done) return;
    this.finish();
    this.reject(error);
  }
}

/**
 * A connection speaking webshell-exec.v1. Created by connect() once the socket is open;
 * `ready` resolves with the server's hello. exec() runs a command (at most hello.maxCommands
 * at once: more wait their turn here), sessions() lists the caller's terminal sessions,
 * endSession(id) ends one, close() ends the connection (running commands are killed by
 * the server and their promises reject).
 */
export class ExecChannel extends EventTarget {
  constructor(ws, { url } = {}) {
    super();
    this.ws = ws;
    this.url = url;
    this.method = 'channel';
    this.hello = {};
    this.runs = new Map();
    this.requests = new Map(); // id -> { resolve, reject, channel } for sessions/end-session
    this.queue = [];
    this.nextId = 1;
    this.closed = false;
    this.ready = new Promise((resolve, reject) => {
      this.onHello = resolve;
      this.onHelloFail = reject;
    });
    this.ready.catch(() => {});
    ws.addEventListener('message', (ev) => this.onMessage(ev));
    ws.addEventListener('close', (ev) => this.onClose(ev));
  }

  send(bytes) {
    if (this.ws.readyState === 1) this.ws.send(bytes);
  }

  newId() {
    for (;;) {
      const id = this.nextId;
      this.nextId = this.nextId >= 0xffffffff ? 1 : this.nextId + 1;
      if (!this.runs.has(id) && !this.requests.has(id)) return id;
    }
  }

  protocolError(message) {
    this.ws.close(1002, 'protocol error');
    this.failAll(new WebShellError('protocol', message));
  }

  onMessage(ev) {
    if (typeof ev.data === 'string') return this.protocolError('a text frame on the exec channel');
    let frame;
    try {
      frame = decodeFrame(ev.data);
      this.dispatchFrame(frame);
    } catch (e) {
      this.protocolError(e.message);
    }
    return undefined;
  }

  dispatchFrame({ channel, id, payload }) {
    if (channel === CH.HELLO) {
      this.hello = parseJson(payload, 'hello');
      this.onHello(this.hello);
      this.pump();
      return;
    }
    if (channel === CH.SESSIONS || (channel === CH.STATUS && this.requests.has(id))) {
      const req = this.requests.get(id);
      if (!req) return;
      this.requests.delete(id);
      const answer = parseJson(payload, channel === CH.SESSIONS ? 'sessions' : 'status');
      if (answer && typeof answer.error === 'string') req.reject(new WebShellError('exec-refused', answer.error));
      else req.resolve(answer);
      return;
    }
    const run = this.runs.get(id);
    if (!run) return; // a late message for a command that is over: races are normal
    switch (channel) {
      case CH.STDOUT: run.onOutput(run.stdout, payload); break;
      case CH.STDERR: run.onOutput(run.stderr, payload); break;
      case CH.STATUS: run.onStatus(payload); break;
      case CH.ACK: run.onAck(readU32(payload)); break;
      default: throw new WebShellError('protocol', `unknown exec channel ${channel} from the server`);
    }
  }

  onClose(ev) {
    this.closed = true;
    this.closeCode = ev.code;
    this.closeReason = ev.reason;
    const how = `code ${ev.code}${ev.reason ? ', ' + ev.reason : ''}`;
    // Closed with a refusal right after the upgrade (e.g. an origin rule): say which, also to
    // a command that was sent before the hello.
    const refusal = !this.hello.version && this.url ? refusalFromClose(ev.code, ev.reason, this.url) : null;
    this.onHelloFail(refusal || new WebShellError('connection-lost', `the exec connection closed before the server's hello (${how})`));
    this.failAll(refusal || new WebShellError('connection-lost',
      `the connection closed (${how}) before the command's status arrived: it did not finish (the server kills what it ran)`));
    this.dispatchEvent(new CustomEvent('close', { detail: { code: ev.code, reason: ev.reason } }));
  }

  failAll(error) {
    for (const run of [...this.runs.values(), ...this.queue]) run.fail(error);
    this.queue = [];
    for (const req of this.requests.values()) req.reject(error);
    this.requests.clear();
  }

  forget(run) {
    this.runs.delete(run.id);
    const i = this.queue.indexOf(run);
    if (i >= 0) this.queue.splice(i, 1);
    this.pump();
  }

  // Starts queued commands up to the server's maxCommands. Before its hello, one small command
  // without stdin may go at once (pipelined behind the upgrade: it saves the wait for the hello).
  pump() {
    const helloSeen = Boolean(this.hello.version);
    const max = helloSeen ? this.hello.maxCommands || 16 : 1;
    while (this.queue.length && this.runs.size < max && !this.closed && (helloSeen || this.queue[0].early)) {
      const run = this.queue.shift();
      this.runs.set(run.id, run);
      run.start();
    }
  }

  /** Runs command; resolves to { stdout, stderr, exitCode, signal, timedOut, cancelled, endedBy, durationMs }. */
  exec(command, options = {}) {
    try {
      checkExecOptions(options);
      if (this.closed) throw new WebShellError('closed', 'this connection is closed');
      if (options.signal && options.signal.aborted) throw new WebShellError('cancelled', 'cancelled before it started');
      const run = new Run(this, this.newId(), command, options);
      // Queued until the hello says how many may run at once (but see pump()).
      this.queue.push(run);
      if (options.signal) {
        options.signal.addEventListener('abort', () => {
          if (this.queue.includes(run)) run.fail(new WebShellError('cancelled', 'cancelled before it started'));
        }, { once: true });
      }
      this.pump();
      return run.promise;
    } catch (e) {
      return Promise.reject(e);
    }
  }

  request(channel, payload) {
    if (this.closed) return Promise.reject(new WebShellError('closed', 'this connection is closed'));
    return this.ready.then(() => new Promise((resolve, reject) => {
      const id = this.newId();
      this.requests.set(id, { resolve, reject });
      this.send(encodeFrame(channel, id, payload));
    }));
  }

  /** The caller's own terminal sessions: [{ id, state, started, lastInput, title }]. */
  async sessions() {
    const list = await this.request(CH.SESSIONS);
    if (!Array.isArray(list)) throw new WebShellError('protocol', 'the sessions answer is not a list');
    return list;
  }

  /** Ends one of the caller's own sessions (its shell is hung up). */
  async endSession(id) {
    await this.request(CH.END_SESSION, utf8(JSON.stringify({ id: String(id) })));
  }

  close() {
    if (this.ws.readyState <= 1) this.ws.close(1000);
  }
}
