// exec.js: execCommand(): run one command in a fresh shell over the ttyd protocol and get back
// { stdout, exitCode }. The wrapper line and the marker parser are pure and exported for tests.
// Why it is built this way: README.md, "execCommand: protocol and guarantees".

import { utf8 } from './encoding.js';
import { WebShellError } from './keys.js';
import { openSocket, redactUrl, resolveUrl, withToken } from './socket.js';
import { SERVER, decodeServerMessage, describeEnd, encodeInit, encodeInput } from './ttyd.js';

// A private OSC number: xterm.js ignores it, and it cannot collide with OSC 133 setups.
const OSC = '\x1b]8487;';
const BEL = '\x07';
// The command travels in lines of at most this many characters: far below the 4095-byte
// canonical-mode line limit that applies while the shell is still starting (typeahead).
const CHUNK = 1000;
// The shell's terminal is wide so that nothing it prints is wrapped.
const EXEC_COLUMNS = 500;
const EXEC_ROWS = 50;
const DEFAULT_MAX_OUTPUT = 64 * 1024 * 1024; // bytes between the markers
// Settings that would otherwise make a command wait for a human.
const QUIET_ENV = 'PAGER=cat GIT_PAGER=cat MANPAGER=cat SYSTEMD_PAGER= SYSTEMD_PAGERSECUREPAGER= LESS=FRX ' +
  'DEBIAN_FRONTEND=noninteractive GIT_TERMINAL_PROMPT=0';

/** A fresh 128-bit nonce as 32 hex digits. */
export function makeNonce({ crypto = globalThis.crypto } = {}) {
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, '0')).join('');
}

/**
 * The command's bytes as a printf %b argument that is safe inside single quotes on a typed
 * line: printable ASCII other than ' \ and ! stays itself, every other byte (controls, ESC,
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

/**
 * The input lines (each without its "\r") that run command in a bash-compatible shell,
 * framed by the markers of nonce. The markers are written with printf escapes, so the
 * echoed lines never contain them; the command travels as printf escapes (in short lines
 * when long), is decoded by the printf builtin (in bash into a variable, without a fork;
 * decoding base64 would exec base64(1), a third of a call's time), and runs with eval in
 * a subshell with stdin from /dev/null, so that quotes, newlines, heredocs, `exit N`,
 * `set -e` and `trap` are all safe. History is switched off first (the leading spaces
 * also keep lines out of it where ignorespace is set), so neither the history file nor
 * the command itself can read the nonce back.
 */
export function buildExecLines(command, nonce) {
  if (!/^[0-9a-f]{32}$/.test(nonce)) throw new WebShellError('bad-argument', 'nonce must be 32 hex digits');
  const escaped = printfEscape(utf8(command));
  // History off before the line with the nonce is read: the command must not find it there.
  const lines = [` set +o history; unset HISTFILE; export ${QUIET_ENV}`];
  for (let i = 0; i < escaped.length || i === 0; i += CHUNK) {
    // POSIX assignment (no +=), so dash and other sh-compatible shells accept it too.
    lines.push(` __ws_e=${i === 0 ? '' : '${__ws_e}'}'${escaped.slice(i, i + CHUNK)}'`);
  }
  lines.push(' if [ -n "${BASH_VERSION-}" ]; then printf -v __ws_c %b "$__ws_e"; ' +
    'else __ws_c=$(printf %b "$__ws_e"); fi; ' +
    `printf '\\033]8487;S;%s\\007' ${nonce}; (eval "$__ws_c") </dev/null; ` +
    `printf '\\033]8487;E;%s;%s\\007' ${nonce} "$?"`);
  return lines;
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

function concatBytes(a, b) {
  if (a.length === 0) return b;
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

/**
 * Streaming parser of one execCommand's output: feed it every OUTPUT payload in order with
 * push(); it skips everything up to the start marker of its nonce, collects the bytes up
 * to the end marker of the same nonce (which carries the exit status), and decodes UTF-8
 * statefully, so markers and characters split across frames are found whole. Markers
 * with another nonce are plain output. `done` turns true at the end marker; then `stdout`
 * (CRLF turned into LF) and `exitCode` are set.
 */
export class MarkerParser {
  constructor(nonce, { maxOutputBytes = DEFAULT_MAX_OUTPUT } = {}) {
    this.start = utf8(`${OSC}S;${nonce}${BEL}`);
    this.end = utf8(`${OSC}E;${nonce};`);
    this.maxOutputBytes = maxOutputBytes;
    this.started = false;
    this.done = false;
    this.exitCode = null;
    this.stdout = null;
    this.outputBytes = 0;
    this.pending = new Uint8Array(0); // bytes not yet known to be free of a marker
    this.decoder = new TextDecoder('utf-8');
    this.pieces = [];
  }

  /** Feeds bytes; returns true once the end marker has been seen. Throws on an output overflow. */
  push(chunk) {
    if (this.done) return true;
    let data = concatBytes(this.pending, chunk);
    if (!this.started) {
      const at = indexOfBytes(data, this.start, 0);
      if (at === -1) {
        this.pending = data.slice(Math.max(0, data.length - (this.start.length - 1)));
        return false;
      }
      this.started = true;
      data = data.subarray(at + this.start.length);
    }
    const at = indexOfBytes(data, this.end, 0);
    if (at !== -1) {
      const tail = data.subarray(at + this.end.length);
      const bel = tail.indexOf(0x07);
      if (bel === -1 && tail.length < 4) {
        this.emit(data.subarray(0, at));
        this.pending = data.slice(at);
        return false;
      }
      const status = bel === -1 ? '' : new TextDecoder().decode(tail.subarray(0, bel));
      if (!/^\d{1,3}$/.test(status)) throw new WebShellError('protocol', 'malformed end marker from the shell');
      this.emit(data.subarray(0, at));
      this.finish(Number(status));
      return true;
    }
    const keep = Math.min(data.length, this.end.length - 1);
    this.emit(data.subarray(0, data.length - keep));
    this.pending = data.slice(data.length - keep);
    return false;
  }

  emit(bytes) {
    if (bytes.length === 0) return;
    this.outputBytes += bytes.length;
    if (this.outputBytes > this.maxOutputBytes) {
      throw new WebShellError('output-limit', `the command printed more than ${this.maxOutputBytes} bytes`);
    }
    this.pieces.push(this.decoder.decode(bytes, { stream: true }));
  }

  finish(exitCode) {
    this.pieces.push(this.decoder.decode());
    this.stdout = this.pieces.join('').replace(/\r\n/g, '\n');
    this.pieces = [];
    this.exitCode = exitCode;
    this.done = true;
  }
}

/**
 * Runs command in a fresh shell on a fresh connection and resolves to { stdout, exitCode }
 * (stderr is merged into stdout by the terminal). options: url (as for resolveUrl; empty =
 * the page's host), privateKey or token(), lifetimeSec, subject, audience, timeoutMs
 * (30000; the whole call including connecting), maxOutputBytes. Rejects with a
 * WebShellError whose code is 'unauthorized', 'refused', 'gateway', 'handshake',
 * 'timeout', 'shell-gone', 'output-limit' or 'bad-argument'.
 */
export async function execCommand(command, options = {}) {
  if (typeof command !== 'string') throw new WebShellError('bad-argument', 'command must be a string');
  const { timeoutMs = 30000, maxOutputBytes, WebSocket, fetch } = options;
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) {
    throw new WebShellError('bad-argument', 'timeoutMs must be a positive number of milliseconds');
  }
  const base = options.base !== undefined ? options.base : globalThis.location && globalThis.location.href;
  const url = resolveUrl(options.url, { base });
  const nonce = makeNonce({ crypto: options.crypto });
  const parser = new MarkerParser(nonce, { maxOutputBytes });
  const lines = buildExecLines(command, nonce);

  let ws = null;
  let timer = null;
  let settled = false;
  return new Promise((resolve, reject) => {
    const settle = (fn, value) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      fn(value);
    };
    const fail = (err) => {
      settle(reject, err);
      if (ws) ws.close();
    };
    timer = setTimeout(() => {
      if (settled) return;
      const err = new WebShellError('timeout',
        `execCommand timed out after ${timeoutMs} ms${ws ? ' (sent Ctrl-C and closed the connection)' : ' while connecting'}`);
      settle(reject, err);
      if (ws && ws.readyState === 1) {
        ws.send(encodeInput('\x03'));
        // Give the interrupt a moment to reach the shell before the close hangs it up.
        setTimeout(() => ws.close(), 50);
      }
    }, timeoutMs);

    withToken(url, options)
      .then((authUrl) => openSocket(authUrl, { WebSocket, fetch }))
      .then((socket) => {
        ws = socket;
        if (settled) {
          ws.close();
          return;
        }
        ws.addEventListener('message', (ev) => {
          if (settled || typeof ev.data === 'string') return;
          const msg = decodeServerMessage(ev.data);
          if (msg.type !== SERVER.OUTPUT) return;
          try {
            if (parser.push(msg.payload)) {
              settle(resolve, { stdout: parser.stdout, exitCode: parser.exitCode });
              ws.close(1000);
            }
          } catch (e) {
            if (e.code === 'output-limit') ws.send(encodeInput('\x03'));
            fail(e);
          }
        });
        ws.addEventListener('close', (ev) => {
          const end = describeEnd(ev.reason);
          const how = end !== null ? `the shell ${end}` :
            `the connection closed (code ${ev.code}${ev.reason ? ', ' + ev.reason : ''})`;
          settle(reject, new WebShellError('shell-gone',
            `shell gone: ${how} before the command finished, at ${redactUrl(url)}`));
        });
        ws.send(encodeInit(EXEC_COLUMNS, EXEC_ROWS));
        ws.send(encodeInput(lines.join('\r') + '\r'));
      })
      .catch(fail);
  });
}
