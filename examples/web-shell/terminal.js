// terminal.js: connectTerminal(): an xterm.js terminal attached to a shell over the ttyd protocol,
// with flow control, a fresh token per connection, the exit status shown, and reconnection.

import { WebShellError } from './keys.js';
import { openSocket, redactUrl, resolveUrl, withToken } from './socket.js';
import {
  PAUSE, RESUME, SERVER, decodeServerMessage, describeEnd, encodeInit, encodeInput, encodeResize, exitStatusFromClose,
} from './ttyd.js';

// Flow control as ttyd's own client does it (ttyd-protocol.md section 6): every FLOW_LIMIT
// bytes written, one write with a completion callback; more than HIGH_WATER of those
// outstanding pauses the server, fewer than LOW_WATER resumes it.
const FLOW_LIMIT = 100000; // bytes
const HIGH_WATER = 10; // outstanding callbacks
const LOW_WATER = 4;

/**
 * A live terminal session. Events (EventTarget, detail in event.detail):
 * 'open' {url}, 'title' {title}, 'exit' {exitCode, code, reason}, 'close' {code, reason,
 * exitCode}, 'error' {error}. state is 'connecting', 'open' or 'closed'.
 */
class TerminalSession extends EventTarget {
  constructor(element, options) {
    super();
    this.options = options;
    this.state = 'closed';
    this.ws = null;
    this.url = resolveUrl(options.url, { base: options.base });
    const Terminal = options.Terminal || (globalThis.Terminal);
    const FitAddon = options.FitAddon || (globalThis.FitAddon && globalThis.FitAddon.FitAddon);
    if (typeof Terminal !== 'function' || typeof FitAddon !== 'function') {
      throw new WebShellError('bad-argument',
        'xterm.js is not loaded: pass options.Terminal and options.FitAddon (or load vendor/xterm.js and vendor/addon-fit.js)');
    }
    this.terminal = new Terminal({ cursorBlink: true, convertEol: false, scrollback: 5000, ...(options.terminalOptions || {}) });
    this.fitAddon = new FitAddon();
    this.terminal.loadAddon(this.fitAddon);
    this.terminal.open(element);
    this.fit();
    this.disposables = [
      this.terminal.onData((data) => this.onUserInput(data)),
      this.terminal.onBinary((data) => this.send(encodeInput(Uint8Array.from(data, (c) => c.charCodeAt(0) & 0xff)))),
      this.terminal.onResize(({ cols, rows }) => this.send(encodeResize(cols, rows))),
    ];
    if (typeof ResizeObserver === 'function') {
      this.resizeObserver = new ResizeObserver(() => this.fit());
      this.resizeObserver.observe(element);
    }
  }

  /** Fits the terminal to its element (sends a resize when the size changes). */
  fit() {
    try {
      this.fitAddon.fit();
    } catch {
      // An element that is not laid out (display: none) has no size to fit to.
    }
  }

  send(bytes) {
    if (this.ws && this.ws.readyState === 1) this.ws.send(bytes);
  }

  onUserInput(data) {
    if (this.state === 'open') {
      this.send(encodeInput(data));
    } else if (this.state === 'closed' && data === '\r' && !this.disposed) {
      this.reconnect().catch(() => {}); // shown in the terminal and sent as an 'error' event
    }
  }

  /** Opens a new connection (a new shell) with a new token. Resolves once it is open. */
  async reconnect() {
    if (this.disposed) throw new WebShellError('closed', 'this terminal was closed');
    if (this.state !== 'closed') this.disconnect();
    this.state = 'connecting';
    const generation = (this.generation = (this.generation || 0) + 1);
    this.dispatch('connecting', { url: redactUrl(this.url) });
    let ws;
    try {
      ws = await openSocket(await withToken(this.url, this.options), this.options);
    } catch (error) {
      if (generation !== this.generation) return;
      this.state = 'closed';
      this.terminal.write(`\r\n\x1b[31m[${error.message}]\x1b[0m\r\n`);
      this.dispatch('error', { error });
      throw error;
    }
    if (generation !== this.generation || this.disposed) {
      ws.close();
      return;
    }
    this.ws = ws;
    this.written = 0;
    this.pending = 0;
    ws.addEventListener('message', (ev) => this.onMessage(ev));
    ws.addEventListener('close', (ev) => this.onClose(ws, ev));
    this.fit();
    ws.send(encodeInit(this.terminal.cols, this.terminal.rows));
    this.state = 'open';
    this.terminal.focus();
    this.dispatch('open', { url: redactUrl(this.url) });
  }

  onMessage(ev) {
    if (typeof ev.data === 'string') return; // ttyd servers send binary frames only
    const { type, payload } = decodeServerMessage(ev.data);
    if (type === SERVER.OUTPUT) {
      this.writeOutput(payload.slice());
    } else if (type === SERVER.TITLE) {
      this.dispatch('title', { title: new TextDecoder().decode(payload) });
    }
  }

  writeOutput(bytes) {
    this.written += bytes.length;
    if (this.written <= FLOW_LIMIT) {
      this.terminal.write(bytes);
      return;
    }
    this.written = 0;
    this.pending++;
    this.terminal.write(bytes, () => {
      this.pending = Math.max(0, this.pending - 1);
      if (this.pending < LOW_WATER) this.send(RESUME);
    });
    if (this.pending > HIGH_WATER) this.send(PAUSE);
  }

  onClose(ws, ev) {
    if (ws !== this.ws) return;
    this.ws = null;
    this.state = 'closed';
    const exitCode = exitStatusFromClose(ev.reason);
    if (!this.disposed) {
      const what = exitCode !== null ? `shell ${describeEnd(ev.reason)}` :
        `connection closed (code ${ev.code}${ev.reason ? ', ' + ev.reason : ''})`;
      this.terminal.write(`\r\n\x1b[1m[${what}; press Enter to reconnect]\x1b[0m\r\n`);
    }
    if (exitCode !== null) this.dispatch('exit', { exitCode, code: ev.code, reason: ev.reason });
    this.dispatch('close', { code: ev.code, reason: ev.reason, exitCode });
  }

  /** Closes the current connection (its shell ends); reconnect() opens a new one. */
  disconnect() {
    this.generation = (this.generation || 0) + 1;
    if (this.ws) {
      const ws = this.ws;
      this.ws = null;
      ws.close(1000);
    }
    this.state = 'closed';
  }

  /** Ends the session for good: closes the connection and disposes of the terminal. */
  close() {
    if (this.disposed) return;
    this.disconnect();
    this.disposed = true;
    for (const d of this.disposables) d.dispose();
    if (this.resizeObserver) this.resizeObserver.disconnect();
    this.terminal.dispose();
    this.dispatch('close', { code: 1000, reason: 'closed by the page', exitCode: null });
  }

  dispatch(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }
}

/**
 * Opens an xterm.js terminal in element and connects it. options: url (as for resolveUrl;
 * empty = the page's own host), privateKey or token() (a new token for every connection),
 * lifetimeSec, subject, audience, Terminal and FitAddon (xterm.js classes; default: the
 * globals of vendor/xterm.js and vendor/addon-fit.js), terminalOptions, base (page URL).
 * Returns the session at once; session.ready settles when the first connection opens or fails.
 */
export function connectTerminal(element, options = {}) {
  const base = options.base !== undefined ? options.base : globalThis.location && globalThis.location.href;
  const session = new TerminalSession(element, { ...options, base });
  session.ready = session.reconnect();
  session.ready.catch(() => {}); // reported through the 'error' event as well
  return session;
}
