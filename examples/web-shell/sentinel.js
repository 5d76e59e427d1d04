// sentinel.js: the fallback exec method for servers without the exec channel (ttyd, ptyd
// --no-exec): commands typed into an interactive shell over the ttyd protocol, their output
// framed by markers carrying fresh nonces. The line builder and the marker parser are pure and
// exported for tests; SentinelChannel owns its socket. Guarantees and limits: README.md,
// "The sentinel method".

import { concatBytes, utf8 } from './encoding.js';
import { WebShellError } from './keys.js';
import { SERVER, decodeServerMessage, describeEnd, encodeInit, encodeInput } from './ttyd.js';

// A private OSC number: xterm.js ignores it, and it cannot collide with OSC 133 setups.
const OSC = '\x1b]8487;';
const BEL = 0x07;
// Escaped command text per typed line: with its assignment around it a line stays under the
// 4,095-byte canonical-mode limit that applies while the shell starts (and always in dash).
const CHUNK = 3900;
// Input messages stay well under ptyd's 64 KiB message limit.
const MESSAGE_BYTES = 60000;
// Longest single argv string on Linux (MAX_ARG_STRLEN), with room to spare.
const ARGV_MAX = 120 * 1024;
/** Longest command (and string stdin) the sentinel method takes, in bytes. */
export const SENTINEL_MAX_COMMAND = 4 * 1024 * 1024;
// The shell's terminal is wide so that nothing it prints is wrapped.
export const EXEC_COLUMNS = 500;
export const EXEC_ROWS = 50;
const CANCEL_WAIT_MS = 4000;
// Settings that would otherwise make a command wait for a human.
const QUIET_ENV = 'PAGER=cat GIT_PAGER=cat MANPAGER=cat SYSTEMD_PAGER= SYSTEMD_PAGERSECUREPAGER= LESS=FRX ' +
  'DEBIAN_FRONTEND=noninteractive GIT_TERMINAL_PROMPT=0';

/** A fresh 128-bit nonce as 32 hex digits. */
export function makeNonce({ crypto = globalThis.crypto } = {}) {
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, '0')).join('');
}

/**
 * Bytes as a printf %b argument that is safe inside single quotes on a typed line:
 * printable ASCII other than ' \ and ! stays itself, every other byte (controls, ESC,
 * newlines, UTF-8) becomes \0NNN. Nothing in it can end the quotes, start a readline or
 * line-discipline action, or form a marker.
 */
export function printfEscape(bytes) {
  let out = '';
  for (const b of bytes) {
    out += b >= 0x20 && b <= 0x7e && b !== 0x27 && b !== 0x5c && b !== 0x21 ?
      String.fromCharCode(b) : `\\0${b.toString(8).padStart(3, '0')}`;
  }
  return out;
}

// Lines that set shell variable `name` to the printf-escaped bytes. In bash, array elements
// (each chunk escaped on its own, joined by printf %b at the end) so a long value costs linear
// time; in other shells a POSIX concatenation, which costs quadratic time in the length.
function assign(name, bytes, bash) {
  const lines = [];
  const step = Math.floor(CHUNK / 5); // bytes per line: an escaped byte takes at most 5 characters
  if (bash) {
    lines.push(` unset ${name}; ${name}=()`);
    for (let i = 0, n = 0; i < bytes.length; i += step, n++) lines.push(` ${name}[${n}]='${printfEscape(bytes.subarray(i, i + step))}'`);
    return lines;
  }
  const escaped = printfEscape(bytes);
  for (let i = 0; i < escaped.length || i === 0; i += CHUNK) {
    // POSIX assignment (no +=), so dash and other sh-compatible shells accept it too.
    lines.push(` ${name}=${i === 0 ? '' : `\${${name}}`}'${escaped.slice(i, i + CHUNK)}'`);
  }
  return lines;
}

/**
 * The line typed once per connection: history off (so no command can read a nonce back from
 * it), job control off (a command runs as a background job the shell waits for), output
 * post-processing off where stty exists (output arrives byte for byte; __ws_r says whether it
 * worked), and settings that would make a command wait for a human.
 */
export function setupLine(nonce) {
  if (!/^[0-9a-f]{32}$/.test(nonce)) throw new WebShellError('bad-argument', 'nonce must be 32 hex digits');
  return ` command set +o history 2>/dev/null; unset HISTFILE; set +m; if stty -opost 2>/dev/null; then __ws_r=1; else __ws_r=0; fi; export ${QUIET_ENV}; ` +
    `printf '\\033]8487;R;%s;%s\\007' ${nonce} "\${BASH_VERSION:+bash}"`;
}

/**
 * The input lines (each without its "\r") that run command in a bash-compatible shell,
 * framed by a start marker with nonce `start` and an end marker with nonce `end` that
 * carries the exit status. The markers are written with printf escapes, so the echoed lines
 * never contain them. The command travels as printf escapes (in short lines when long),
 * decoded by the printf builtin, and runs in a new session (setsid: no controlling terminal,
 * so opening /dev/tty fails at once) with stdin from /dev/null or from `stdin` (bytes), as a
 * background job the shell waits for, so that its process group can be killed on cancel.
 * Without setsid it runs with eval in a subshell. Between the start marker and the command
 * runs a no-op, so `$_` holds no nonce; the end nonce is never an argument the command sees.
 */
export function buildExecLines(command, { start, end }, stdin = null, { bash = false } = {}) {
  for (const n of [start, end]) if (!/^[0-9a-f]{32}$/.test(n)) throw new WebShellError('bad-argument', 'nonce must be 32 hex digits');
  const lines = assign('__ws_e', utf8(command), bash);
  const all = (name) => (bash ? `"\${${name}[@]}"` : `"$${name}"`);
  let feed = '</dev/null';
  let pipe = '';
  if (stdin) {
    lines.push(...assign('__ws_i', stdin, bash));
    pipe = `printf %b ${all('__ws_i')} | `;
    feed = '';
  }
  // A command longer than one argv string may be (Linux: 128 KiB) goes to bash on fd 3.
  const runner = bash && utf8(command).length > ARGV_MAX ?
    `"$BASH" -c 'IFS= read -r -d "" __ws_c <&3; exec 3<&-; eval "$__ws_c"' bash 3<<<"$__ws_c"` :
    '"${BASH:-sh}" -c "$__ws_c"';
  lines.push(` __ws_p=; if [ -n "\${BASH_VERSION-}" ]; then printf -v __ws_c %b ${all('__ws_e')}; ` +
    `else __ws_c=$(printf %b ${all('__ws_e')}); fi; ` +
    `printf '\\033]8487;S;%s;%s\\007' ${start} "\${__ws_r:-0}"; ` +
    // The brace group's stderr is /dev/null so an interactive shell's "[1] PID" notice is not
    // printed into the output; the command gets the real stderr back through fd 4.
    `if command -v setsid >/dev/null 2>&1; then { ${pipe}setsid ${runner} ${feed} 2>&4 4>&- & } 4>&2 2>/dev/null; ` +
    '__ws_p=$!; wait "$__ws_p"; ' +
    `else :; ${pipe}(eval "$__ws_c") ${feed}; fi; ` +
    `printf '\\033]8487;E;%s;%s\\007' ${end} "$?"`);
  return lines;
}

/** The line typed after Ctrl-C to stop a command's process group: TERM, up to 2 s, KILL; then a marker. */
export function cancelLine(nonce) {
  // Only with a pid: `kill -- -0` would signal the shell's own process group.
  return ' if [ -n "${__ws_p-}" ]; then kill -TERM -- -"$__ws_p" 2>/dev/null; __ws_k=0; ' +
    'while kill -0 "$__ws_p" 2>/dev/null && [ "$__ws_k" -lt 20 ]; do sleep 0.1; __ws_k=$((__ws_k+1)); done; ' +
    `kill -KILL -- -"$__ws_p" 2>/dev/null; fi; printf '\\033]8487;K;%s\\007' ${nonce}`;
}

/** Input messages (ttyd INPUT) for lines, each message under 64 KiB. */
export function inputMessages(lines) {
  const out = [];
  let batch = '';
  for (const line of lines) {
    if (batch && batch.length + line.length + 1 > MESSAGE_BYTES) {
      out.push(encodeInput(batch));
      batch = '';
    }
    batch += line + '\r';
  }
  if (batch) out.push(encodeInput(batch));
  return out;
}

function indexOfBytes(hay, needle, from) {
  const first = needle[0];
  const last = hay.length - needle.length;
  outer: for (let i = hay.indexOf(first, from); i !== -1 && i <= last; i = hay.indexOf(first, i + 1)) {
    for (let j = 1; j < needle.length; j++) if (hay[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

// Length of the longest tail of data that is a proper prefix of marker (what may still turn
// into the marker when more bytes come); everything before it is output for sure.
function markerPrefixLength(data, marker) {
  for (let n = Math.min(data.length, marker.length - 1); n > 0; n--) {
    let ok = true;
    for (let j = 0; j < n && ok; j++) ok = data[data.length - n + j] === marker[j];
    if (ok) return n;
  }
  return 0;
}

/** a then b; b itself when a is empty (the usual case: nothing held back). */
function appendBytes(a, b) {
  return a.length === 0 ? b : concatBytes([a, b], a.length + b.length);
}

/**
 * Streaming parser of one command's terminal output: feed it every OUTPUT payload in order
 * with push(); it skips everything up to the start marker of its start nonce, hands the
 * bytes up to the end marker of its end nonce to onData (with CRLF turned back into LF when
 * the shell could not switch output processing off), and then sets `done` and `exitCode`.
 * Markers split across frames are found whole; markers with other nonces are plain output.
 */
export class MarkerParser {
  constructor({ start, end }, { onData = () => {} } = {}) {
    this.start = utf8(`${OSC}S;${start};`);
    this.end = utf8(`${OSC}E;${end};`);
    this.onData = onData;
    this.started = false;
    this.raw = false;
    this.done = false;
    this.exitCode = null;
    this.pending = new Uint8Array(0); // bytes not yet known to be free of a marker
    this.cr = false; // cooked output ended in a CR whose LF may follow
  }

  /** Feeds bytes; returns true once the end marker has been seen. Throws 'protocol' on a bad marker. */
  push(chunk) {
    if (this.done) return true;
    let data = appendBytes(this.pending, chunk);
    if (!this.started) {
      const at = indexOfBytes(data, this.start, 0);
      if (at === -1 || data.length < at + this.start.length + 2) {
        this.pending = at === -1 ? data.slice(Math.max(0, data.length - (this.start.length - 1))) : data.slice(at);
        return false;
      }
      const flag = data[at + this.start.length];
      if ((flag !== 0x30 && flag !== 0x31) || data[at + this.start.length + 1] !== BEL) {
        throw new WebShellError('protocol', 'malformed start marker from the shell');
      }
      this.started = true;
      this.raw = flag === 0x31;
      data = data.subarray(at + this.start.length + 2);
    }
    const at = indexOfBytes(data, this.end, 0);
    if (at !== -1) {
      const tail = data.subarray(at + this.end.length);
      const bel = tail.indexOf(BEL);
      if (bel === -1 && tail.length < 4) {
        this.emit(data.subarray(0, at));
        this.pending = data.slice(at);
        return false;
      }
      const status = bel === -1 ? '' : new TextDecoder().decode(tail.subarray(0, bel));
      if (!/^\d{1,3}$/.test(status)) throw new WebShellError('protocol', 'malformed end marker from the shell');
      this.emit(data.subarray(0, at), true);
      this.exitCode = Number(status);
      this.done = true;
      return true;
    }
    const keep = markerPrefixLength(data, this.end);
    this.emit(data.subarray(0, data.length - keep));
    this.pending = data.slice(data.length - keep);
    return false;
  }

  emit(bytes, last = false) {
    if (this.raw) {
      if (bytes.length) this.onData(bytes.slice());
      return;
    }
    // Undo the terminal's ONLCR: every CRLF back to LF; a CR at the end waits for the next byte.
    const out = [];
    if (this.cr && bytes.length && bytes[0] !== 0x0a) out.push(0x0d);
    if (this.cr && !bytes.length && last) out.push(0x0d);
    if (bytes.length || last) this.cr = false;
    for (let i = 0; i < bytes.length; i++) {
      const b = bytes[i];
      if (b === 0x0d) {
        if (i + 1 < bytes.length) {
          if (bytes[i + 1] !== 0x0a) out.push(0x0d);
        } else if (last) {
          out.push(0x0d);
        } else {
          this.cr = true;
        }
      } else {
        out.push(b);
      }
    }
    if (out.length) this.onData(Uint8Array.from(out));
  }
}

/**
 * A connection speaking ttyd's protocol used for commands: one interactive shell that runs
 * them one at a time (exec() calls queue). stdout carries the command's stdout and stderr
 * together (a terminal has one stream); `stderr` is always empty. Created by connect() when
 * the server does not offer the exec channel.
 */
export class SentinelChannel extends EventTarget {
  constructor(ws, { url, crypto } = {}) {
    super();
    this.ws = ws;
    this.url = url;
    this.crypto = crypto;
    this.method = 'sentinel';
    this.hello = { version: 0, maxCommands: 1, maxCommand: SENTINEL_MAX_COMMAND };
    this.closed = false;
    this.current = null;
    this.bash = false;
    // The setup line answers with a marker once the shell reads input, naming bash or not.
    const nonce = makeNonce({ crypto });
    this.readyMarker = utf8(`${OSC}R;${nonce};`);
    this.readyTail = new Uint8Array(0);
    this.ready = new Promise((resolve, reject) => {
      this.onReady = resolve;
      this.onReadyFail = reject;
    });
    this.ready.catch(() => {});
    this.tail = this.ready;
    ws.addEventListener('message', (ev) => this.onMessage(ev));
    ws.addEventListener('close', (ev) => this.onClose(ev));
    ws.send(encodeInit(EXEC_COLUMNS, EXEC_ROWS));
    this.sendLines([setupLine(nonce)]);
  }

  // Looks for the ready marker in the shell's first output.
  findReady(payload) {
    const data = appendBytes(this.readyTail, payload);
    const at = indexOfBytes(data, this.readyMarker, 0);
    const bel = at === -1 ? -1 : data.indexOf(BEL, at + this.readyMarker.length);
    if (bel === -1) {
      this.readyTail = data.slice(Math.max(0, (at === -1 ? data.length - this.readyMarker.length : at)));
      return;
    }
    this.bash = new TextDecoder().decode(data.subarray(at + this.readyMarker.length, bel)) === 'bash';
    this.readyTail = null;
    this.onReady(this.hello);
  }

  sendLines(lines) {
    if (this.ws.readyState !== 1) return;
    for (const m of inputMessages(lines)) this.ws.send(m);
  }

  onMessage(ev) {
    if (typeof ev.data === 'string') return;
    const msg = decodeServerMessage(ev.data);
    if (msg.type !== SERVER.OUTPUT) return;
    if (this.readyTail) this.findReady(msg.payload);
    else if (this.current) this.current.onOutput(msg.payload);
  }

  onClose(ev) {
    this.closed = true;
    this.onReadyFail(new WebShellError('connection-lost', `the shell's connection closed (code ${ev.code}${ev.reason ? ', ' + ev.reason : ''}) before it was ready`));
    if (this.current) {
      const end = describeEnd(ev.reason);
      const how = end !== null ? `the shell ${end}` : `the connection closed (code ${ev.code}${ev.reason ? ', ' + ev.reason : ''})`;
      this.current.fail(new WebShellError('connection-lost', `${how} before the command's end marker arrived: it did not finish`));
    }
    this.dispatchEvent(new CustomEvent('close', { detail: { code: ev.code, reason: ev.reason } }));
  }

  /** Runs command (a string, or an argv array quoted for the shell); see execCommand. */
  exec(command, options = {}) {
    const turn = this.tail.then(() => this.run(command, options));
    this.tail = turn.catch(() => {});
    return turn;
  }

  async run(command, options) {
    if (Array.isArray(command)) command = command.map(shellQuote).join(' ');
    if (typeof command !== 'string') throw new WebShellError('bad-argument', 'command must be a string or an array of strings');
    if (this.closed) throw new WebShellError('closed', 'this connection is closed');
    if (options.signal && options.signal.aborted) throw new WebShellError('cancelled', 'cancelled before it started');
    if (options.cwd !== undefined) command = `cd ${shellQuote(options.cwd)} || exit 1\n${command}`;
    if (options.env) {
      const env = Object.entries(options.env).map(([k, v]) => {
        if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k)) throw new WebShellError('bad-argument', `not an environment variable name: ${k}`);
        return `export ${k}=${shellQuote(String(v))}`;
      });
      command = `${env.join('; ')}\n${command}`;
    }
    let stdin = null;
    if (options.stdin !== undefined && options.stdin !== null) {
      stdin = typeof options.stdin.getReader === 'function' ? await readAll(options.stdin) : toBytes(options.stdin);
    }
    const size = utf8(command).length + (stdin ? stdin.length : 0);
    if (size > SENTINEL_MAX_COMMAND) {
      throw new WebShellError('bad-argument', `the command and its stdin are ${size} bytes, above the sentinel method's limit of ${SENTINEL_MAX_COMMAND}`);
    }
    return new Promise((resolve, reject) => {
      const job = new SentinelJob(this, options, resolve, reject);
      this.current = job;
      job.begin(command, stdin);
    });
  }

  async sessions() {
    throw new WebShellError('unsupported', 'this server has no exec channel (listing sessions needs webshell-exec.v1)');
  }

  async endSession() {
    throw new WebShellError('unsupported', 'this server has no exec channel (ending sessions needs webshell-exec.v1)');
  }

  close() {
    if (this.ws.readyState <= 1) this.ws.close(1000);
  }
}

/** One command of a SentinelChannel. */
class SentinelJob {
  constructor(channel, options, resolve, reject) {
    this.channel = channel;
    this.options = options;
    this.resolve = resolve;
    this.reject = reject;
    this.done = false;
    this.outputBytes = 0;
    this.maxOutputBytes = options.maxOutputBytes !== undefined ? options.maxOutputBytes : 64 * 1024 * 1024;
    this.binary = options.encoding === 'binary';
    this.parts = [];
    this.decoder = this.binary ? null : new TextDecoder('utf-8');
    this.nonces = { start: makeNonce(channel), end: makeNonce(channel) };
    this.parser = new MarkerParser(this.nonces, { onData: (b) => this.onData(b) });
  }

  begin(command, stdin) {
    const { options } = this;
    this.started = performance.now();
    if (options.signal) {
      this.onAbort = () => this.stop('cancelled');
      options.signal.addEventListener('abort', this.onAbort, { once: true });
    }
    if (options.timeoutMs) this.timer = setTimeout(() => this.stop('timedOut'), options.timeoutMs);
    this.channel.sendLines(buildExecLines(command, this.nonces, stdin, { bash: this.channel.bash }));
  }

  onData(bytes) {
    this.outputBytes += bytes.length;
    if (this.outputBytes > this.maxOutputBytes) {
      this.stop(null);
      this.fail(new WebShellError('output-limit', `the command printed more than ${this.maxOutputBytes} bytes (maxOutputBytes); stopped it`));
      return;
    }
    const chunk = this.binary ? bytes : this.decoder.decode(bytes, { stream: true });
    const cb = this.options.onStdout;
    if (cb) {
      if (chunk.length) cb(chunk);
    } else {
      this.parts.push(chunk);
    }
  }

  onOutput(payload) {
    if (this.stopping) {
      if (this.killMarker && indexOfBytes(appendBytes(this.killTail, payload), this.killMarker, 0) !== -1) this.stopped();
      else this.killTail = payload.slice(Math.max(0, payload.length - this.killMarker.length));
      return;
    }
    try {
      if (this.parser.push(payload)) this.complete(this.parser.exitCode);
    } catch (e) {
      this.fail(e);
    }
  }

  // Ctrl-C stops the shell's wait (the command has no terminal, so it never sees it); the
  // typed line then signals the command's process group, and its marker says when it is done.
  stop(reason) {
    if (this.done || this.stopping) return;
    this.stopping = reason || 'limit';
    const nonce = makeNonce(this.channel);
    this.killMarker = utf8(`${OSC}K;${nonce}\x07`);
    this.killTail = new Uint8Array(0);
    if (this.channel.ws.readyState === 1) {
      this.channel.ws.send(encodeInput('\x03'));
      this.channel.sendLines([cancelLine(nonce)]);
    }
    this.killTimer = setTimeout(() => {
      // The shell did not answer: hang it up (ending the connection ends its session).
      this.stopped();
      this.channel.close();
    }, CANCEL_WAIT_MS);
  }

  stopped() {
    clearTimeout(this.killTimer);
    if (this.stopping === 'limit') return this.finish();
    const { stopping } = this;
    this.complete(null, { timedOut: stopping === 'timedOut', cancelled: stopping === 'cancelled', signal: 'TERM' });
    return undefined;
  }

  complete(exitCode, extra = {}) {
    if (this.done) return;
    let stdout;
    if (this.binary) {
      const total = this.parts.reduce((n, p) => n + p.length, 0);
      stdout = new Uint8Array(total);
      let off = 0;
      for (const p of this.parts) {
        stdout.set(p, off);
        off += p.length;
      }
    } else {
      const tail = this.decoder.decode();
      if (this.options.onStdout) {
        if (tail) this.options.onStdout(tail);
        stdout = '';
      } else {
        stdout = this.parts.join('') + tail;
      }
    }
    this.finish();
    this.resolve({
      stdout,
      stderr: this.binary ? new Uint8Array(0) : '',
      exitCode,
      signal: extra.signal || null,
      timedOut: extra.timedOut === true,
      cancelled: extra.cancelled === true,
      endedBy: null,
      durationMs: Math.round(performance.now() - this.started),
      method: 'sentinel',
    });
  }

  finish() {
    this.done = true;
    clearTimeout(this.timer);
    clearTimeout(this.killTimer);
    if (this.onAbort) this.options.signal.removeEventListener('abort', this.onAbort);
    if (this.channel.current === this) this.channel.current = null;
  }

  fail(error) {
    if (this.done) return;
    this.finish();
    this.reject(error);
  }
}

/** s in single quotes for a POSIX shell. */
export function shellQuote(s) {
  return `'${String(s).replace(/'/g, `'\\''`)}'`;
}

function toBytes(stdin) {
  if (typeof stdin === 'string') return utf8(stdin);
  if (stdin instanceof ArrayBuffer) return new Uint8Array(stdin);
  return stdin;
}

async function readAll(stream) {
  const parts = [];
  let total = 0;
  const reader = stream.getReader();
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    const bytes = typeof value === 'string' ? utf8(value) : toBytes(value);
    total += bytes.length;
    if (total > SENTINEL_MAX_COMMAND) {
      reader.cancel().catch(() => {});
      throw new WebShellError('bad-argument', `stdin is above the sentinel method's limit of ${SENTINEL_MAX_COMMAND} bytes`);
    }
    parts.push(bytes);
  }
  return concatBytes(parts, total);
}
