// terminal.js: connectTerminal(): an xterm.js terminal attached to a shell over the ttyd protocol,
// with flow control, a fresh token per connection, the exit status shown, and sessions that
// outlive connections (docs/protocol.md section 1): after an abnormal close it comes back by
// itself to the same shell and gets exactly the bytes it missed; a reload in the same tab comes
// back to the same shell through sessionStorage.

import { WebShellError } from './keys.js';
import { openSocket, redactUrl, refusalFromClose, resolveUrl } from './socket.js';
import {
  END_SESSION, PAUSE, RESUME, SERVER, SUBPROTOCOL, decodeServerMessage, decodeSession, describeEnd, encodeInit,
  encodeInput, encodeResize, exitStatusFromClose, isResumableClose,
} from './ttyd.js';

// Flow control as ttyd's own client does it (ttyd-protocol.md section 6): every FLOW_LIMIT
// bytes written, one write with a completion callback; more than HIGH_WATER of those
// outstanding pauses the server, fewer than LOW_WATER resumes it.
const FLOW_LIMIT = 100000; // bytes
const HIGH_WATER = 10; // outstanding callbacks
const LOW_WATER = 4;
// Reconnection: the first retry at once, then doubling up to the cap, each with jitter;
// after maxAttempts it gives up (ptyd keeps a detached shell for 300 s by default).
const DEFAULT_RETRY = { maxAttempts: 40, baseDelayMs: 200, maxDelayMs: 8000 };
const STORAGE_PREFIX = 'web-shell.session:';
// Without an "end" in the session message, the replay is taken as over after this much quiet.
const REPLAY_QUIET_MS = 100;

/** Delay before retry `attempt` (1-based): 0 for the first, then base * 2^(n-2) capped, times 0.5..1. */
export function retryDelay(attempt, { baseDelayMs, maxDelayMs } = DEFAULT_RETRY, random = Math.random) {
  if (attempt <= 1) return 0;
  const ceiling = Math.min(maxDelayMs, baseDelayMs * 2 ** (attempt - 2));
  return Math.round(ceiling * (0.5 + random() / 2));
}

function defaultStorage() {
  try {
    return globalThis.sessionStorage || null;
  } catch {
    return null; // storage disabled (e.g. opaque origins)
  }
}

/**
 * A live terminal session. Events (CustomEvent, detail in event.detail; see web-shell.d.ts):
 * 'connecting', 'open', 'title', 'exit', 'close', 'error', 'disconnected', 'reconnecting',
 * 'resumed'. state is 'connecting', 'open', 'reconnecting' or 'closed'.
 */
class TerminalSession extends EventTarget {
  constructor(element, options) {
    super();
    this.options = options;
    this.state = 'closed';
    this.ws = null;
    this.url = resolveUrl(options.url, { base: options.base });
    this.resume = options.resume !== false;
    this.retry = { ...DEFAULT_RETRY, ...(options.retry || {}) };
    this.storage = options.storage === undefined ? defaultStorage() : options.storage;
    this.storageKey = STORAGE_PREFIX + redactUrl(this.url);
    this.sessionState = null; // { id, offset } of the resumable session, once known
    this.attachTo = options.session ? { id: String(options.session), offset: 0, fromStorage: false } : this.storedSession();
    this.disposables = [];
    this.setUpTerminal(element, options);
  }

  setUpTerminal(element, options) {
    const Terminal = options.Terminal || globalThis.Terminal;
    if (options.terminal) {
      this.terminal = options.terminal;
      this.ownsTerminal = false;
    } else {
      if (typeof Terminal !== 'function') {
        throw new WebShellError('bad-argument',
          'xterm.js is not loaded: pass options.terminal (a Terminal) or options.Terminal (the class), ' +
          "import from the package entry ('web-shell'), or load vendor/xterm.js");
      }
      this.terminal = new Terminal({
        cursorBlink: true, convertEol: false, scrollback: 5000, allowProposedApi: true, ...(options.terminalOptions || {}),
      });
      this.ownsTerminal = true;
    }
    const term = this.terminal;
    const FitAddon = options.FitAddon || (globalThis.FitAddon && globalThis.FitAddon.FitAddon);
    this.fitAddon = options.fitAddon || (typeof FitAddon === 'function' ? new FitAddon() : null);
    if (this.fitAddon && !options.fitAddon) term.loadAddon(this.fitAddon);
    this.loadAddons(options);
    if (!term.element) {
      if (!element) throw new WebShellError('bad-argument', 'connectTerminal needs an element to open the terminal in');
      term.open(element);
    }
    this.element = element || term.element.parentElement;
    this.fit();
    this.disposables.push(
      term.onData((data) => this.onUserInput(data)),
      term.onBinary((data) => this.send(encodeInput(Uint8Array.from(data, (c) => c.charCodeAt(0) & 0xff)))),
      term.onResize(({ cols, rows }) => this.send(encodeResize(cols, rows))),
    );
    if (this.fitAddon && typeof ResizeObserver === 'function' && this.element) {
      this.resizeObserver = new ResizeObserver(() => this.fit());
      this.resizeObserver.observe(this.element);
    }
    this.onOnline = () => this.retryNow();
    if (typeof globalThis.addEventListener === 'function') globalThis.addEventListener('online', this.onOnline);
  }

  // The optional addons the app passes as classes, set up the safe way.
  loadAddons(options) {
    const term = this.terminal;
    if (options.Unicode11Addon) {
      term.loadAddon(new options.Unicode11Addon());
      // Emoji and CJK as two cells, as bash and every modern program count them.
      term.unicode.activeVersion = '11';
    }
    if (options.WebLinksAddon) {
      // Only http and https links open, in a new tab without access to this page.
      term.loadAddon(new options.WebLinksAddon((event, uri) => {
        if (!/^https?:\/\//i.test(uri)) return;
        const w = globalThis.open(uri, '_blank', 'noopener,noreferrer');
        if (w) w.opener = null;
      }));
    }
    if (options.ClipboardAddon) term.loadAddon(new options.ClipboardAddon());
    // OSC 52: a program may set the clipboard (through the clipboard addon, when given), but a
    // request to read it ("?") is swallowed here, before any other handler: answering it would
    // let any program's output read the user's clipboard. Registered last, so it runs first.
    this.disposables.push(term.parser.registerOscHandler(52, (data) => {
      const parts = data.split(';');
      return parts.length >= 2 && parts[1] === '?';
    }));
  }

  /** The id of the resumable session (null before the server named it, or without resume). */
  get id() {
    return this.sessionState ? this.sessionState.id : null;
  }

  storedSession() {
    if (!this.resume || !this.storage) return null;
    try {
      const saved = JSON.parse(this.storage.getItem(this.storageKey) || 'null');
      if (saved && typeof saved.id === 'string' && /^[0-9a-f]{32}$/.test(saved.id)) {
        // A new page has an empty terminal: ask for everything the server still holds.
        return { id: saved.id, offset: 0, fromStorage: true };
      }
    } catch {
      // unreadable entry: start a new session
    }
    return null;
  }

  remember() {
    if (!this.storage || !this.sessionState) return;
    try {
      this.storage.setItem(this.storageKey, JSON.stringify({ id: this.sessionState.id }));
    } catch {
      // storage full or disabled: a reload then starts a new shell
    }
  }

  forget() {
    this.sessionState = null;
    this.attachTo = null;
    if (!this.storage) return;
    try {
      this.storage.removeItem(this.storageKey);
    } catch {
      // nothing to do
    }
  }

  /** Fits the terminal to its element (sends a resize when the size changes). */
  fit() {
    if (!this.fitAddon) return;
    try {
      this.fitAddon.fit();
    } catch {
      // An element that is not laid out (display: none) has no size to fit to.
    }
  }

  send(bytes) {
    if (this.ws && this.ws.readyState === 1 && this.state === 'open') this.ws.send(bytes);
  }

  onUserInput(data) {
    if (this.state === 'open') {
      this.send(encodeInput(data));
    } else if (this.state === 'closed' && data === '\r' && !this.disposed) {
      this.reconnect().catch(() => {}); // shown in the terminal and sent as an 'error' event
    }
  }

  /**
   * Connects: attaches to the session this terminal had (or the one stored for this tab, or
   * options.session), else starts a new shell. Resolves once the connection is open.
   */
  async reconnect() {
    if (this.disposed) throw new WebShellError('closed', 'this terminal was closed');
    if (this.state === 'open' || this.state === 'connecting') this.drop();
    this.cancelRetry();
    this.attempt = 0;
    return this.open('connecting');
  }

  async open(state) {
    this.state = state;
    const generation = (this.generation = (this.generation || 0) + 1);
    if (state === 'connecting') this.dispatch('connecting', { url: redactUrl(this.url) });
    let ws;
    try {
      ws = await openSocket(this.url, [SUBPROTOCOL], this.options);
    } catch (error) {
      if (generation !== this.generation || this.disposed) return;
      if (state === 'reconnecting') {
        this.retryLater(error);
        return;
      }
      this.state = 'closed';
      this.terminal.write(`\r\n\x1b[31m[${error.message}]\x1b[0m\r\n`);
      this.dispatch('error', { error });
      throw error;
    }
    if (generation !== this.generation || this.disposed) {
      ws.close(1000);
      return;
    }
    this.ws = ws;
    this.written = 0;
    this.pending = 0;
    this.awaitingSession = false;
    ws.addEventListener('message', (ev) => this.onMessage(ws, ev));
    ws.addEventListener('close', (ev) => this.onClose(ws, ev));
    this.fit();
    let session;
    if (this.resume) {
      session = this.sessionState ? { id: this.sessionState.id, offset: this.sessionState.offset } : this.attachTo || 'new';
      this.awaitingSession = true;
      this.requested = session;
    }
    ws.send(encodeInit(this.terminal.cols, this.terminal.rows, session));
    const resumed = state === 'reconnecting';
    this.state = 'open';
    this.setStatus(null);
    if (!resumed) {
      this.terminal.focus();
      this.dispatch('open', { url: redactUrl(this.url) });
    }
  }

  onMessage(ws, ev) {
    if (ws !== this.ws || typeof ev.data === 'string') return; // ttyd servers send binary frames only
    const { type, payload } = decodeServerMessage(ev.data);
    if (type === SERVER.SESSION && this.awaitingSession) {
      this.onSession(payload);
    } else if (type === SERVER.OUTPUT) {
      if (this.awaitingSession) {
        // Output before any session message: a server without sessions (ttyd, older ptyd).
        this.awaitingSession = false;
        this.resume = false;
        this.forget();
      }
      if (this.sessionState) this.sessionState.offset += payload.length;
      this.countReplay(payload.length);
      this.writeOutput(payload.slice());
    } else if (type === SERVER.TITLE) {
      this.dispatch('title', { title: new TextDecoder().decode(payload) });
    }
  }

  onSession(payload) {
    this.awaitingSession = false;
    let s;
    try {
      s = decodeSession(payload);
    } catch (error) {
      this.dispatch('error', { error });
      this.drop();
      return;
    }
    const resuming = this.sessionState !== null || (this.requested && this.requested !== 'new');
    const fromStorage = this.attachTo && this.attachTo.fromStorage;
    if (s.reset && resuming) {
      // What we had is older than the server's buffer: start the screen over from what it holds.
      this.terminal.reset();
      if (s.lost > 0 && !fromStorage) this.setStatus(`${s.lost} bytes of output were lost while disconnected`, 4000);
    }
    this.sessionState = { id: s.id, offset: s.offset };
    this.attachTo = null;
    this.remember();
    if (resuming) {
      this.replay = { bytes: 0, remaining: Number.isSafeInteger(s.end) ? s.end - s.offset : null };
      if (this.replay.remaining === 0) this.finishReplay();
      else if (this.replay.remaining === null) this.replayTimer = setTimeout(() => this.finishReplay(), REPLAY_QUIET_MS);
    }
  }

  countReplay(n) {
    if (!this.replay) return;
    this.replay.bytes += n;
    if (this.replay.remaining !== null) {
      this.replay.remaining -= n;
      if (this.replay.remaining <= 0) this.finishReplay();
    } else {
      clearTimeout(this.replayTimer);
      this.replayTimer = setTimeout(() => this.finishReplay(), REPLAY_QUIET_MS);
    }
  }

  finishReplay() {
    clearTimeout(this.replayTimer);
    if (!this.replay) return;
    const { bytes } = this.replay;
    this.replay = null;
    this.dispatch('resumed', { id: this.id, replayedBytes: bytes });
  }

  writeOutput(bytes) {
    this.written += bytes.length;
    if (this.written <= FLOW_LIMIT) {
      this.terminal.write(bytes);
      return;
    }
    this.written = 0;
    this.pending++;
    const ws = this.ws;
    this.terminal.write(bytes, () => {
      this.pending = Math.max(0, this.pending - 1);
      if (this.pending < LOW_WATER && ws === this.ws) this.send(RESUME);
    });
    if (this.pending > HIGH_WATER) this.send(PAUSE);
  }

  onClose(ws, ev) {
    if (ws !== this.ws) return;
    this.ws = null;
    clearTimeout(this.replayTimer);
    this.replay = null;
    const exitCode = exitStatusFromClose(ev.reason);
    if (exitCode === null && this.resume && this.sessionState && isResumableClose(ev.code) && !this.disposed) {
      this.dispatch('disconnected', { code: ev.code, reason: ev.reason });
      this.attempt = 0;
      this.retryLater(null);
      return;
    }
    this.state = 'closed';
    const refusal = refusalFromClose(ev.code, ev.reason, this.url);
    if (refusal && this.attachTo && this.attachTo.fromStorage && ev.code === 4004) {
      // The shell this tab had is gone (ended or timed out while detached): start a new one.
      this.forget();
      this.reconnect().catch(() => {});
      return;
    }
    if (exitCode !== null || ev.code === 4001 || refusal || (ev.code === 1000 && ev.reason === 'session ended')) this.forget();
    if (!this.disposed) {
      let what;
      if (exitCode !== null) what = `shell ${describeEnd(ev.reason)}`;
      else if (ev.code === 4001) what = 'session taken over by another connection';
      else what = `connection closed (code ${ev.code}${ev.reason ? ', ' + ev.reason : ''})`;
      this.setStatus(null);
      this.terminal.write(`\r\n\x1b[1m[${what}; press Enter to ${ev.code === 4001 ? 'take it back' : 'reconnect'}]\x1b[0m\r\n`);
      if (ev.code === 4001 && this.sessionState === null) this.attachTo = null;
    }
    if (refusal) this.dispatch('error', { error: refusal });
    if (exitCode !== null) this.dispatch('exit', { exitCode, code: ev.code, reason: ev.reason });
    this.dispatch('close', { code: ev.code, reason: ev.reason, exitCode });
  }

  retryLater(error) {
    this.attempt = (this.attempt || 0) + 1;
    const fatal = error && (error.code === 'unauthorized' || error.code === 'origin' || error.code === 'bad-argument');
    if (fatal || this.attempt > this.retry.maxAttempts) {
      this.state = 'closed';
      const e = error || new WebShellError('refused', 'could not reconnect');
      this.setStatus(null);
      this.terminal.write(`\r\n\x1b[31m[reconnecting failed: ${e.message}; press Enter to try again]\x1b[0m\r\n`);
      this.dispatch('error', { error: e });
      this.dispatch('close', { code: 1006, reason: e.message, exitCode: null });
      return;
    }
    const delayMs = retryDelay(this.attempt, this.retry);
    this.state = 'reconnecting';
    this.setStatus(`connection lost; reconnecting${delayMs ? ` in ${(delayMs / 1000).toFixed(1)} s` : ''} (attempt ${this.attempt})`);
    this.dispatch('reconnecting', { attempt: this.attempt, delayMs });
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.open('reconnecting').catch(() => {});
    }, delayMs);
  }

  // The browser says the network is back: try at once instead of waiting out the delay.
  retryNow() {
    if (this.state !== 'reconnecting' || !this.retryTimer) return;
    clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.open('reconnecting').catch(() => {});
  }

  cancelRetry() {
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
  }

  // A short status line over the terminal (not in its buffer, so replayed output stays exact).
  setStatus(text, clearAfterMs) {
    clearTimeout(this.statusTimer);
    const doc = globalThis.document;
    const host = this.terminal.element;
    if (!text) {
      if (this.statusEl) this.statusEl.hidden = true;
      return;
    }
    if (!doc || !host) return;
    if (!this.statusEl) {
      this.statusEl = doc.createElement('div');
      this.statusEl.className = 'web-shell-status';
      this.statusEl.setAttribute('role', 'status');
      this.statusEl.style.cssText = 'position:absolute;right:8px;bottom:8px;z-index:10;padding:2px 8px;' +
        'border-radius:4px;background:rgba(40,40,40,.9);color:#ffd75f;font:12px/1.5 system-ui,sans-serif;pointer-events:none';
      host.appendChild(this.statusEl);
    }
    this.statusEl.textContent = text;
    this.statusEl.hidden = false;
    if (clearAfterMs) this.statusTimer = setTimeout(() => this.setStatus(null), clearAfterMs);
  }

  // Closes the current connection without a word to the server (a resumable session detaches).
  drop() {
    this.generation = (this.generation || 0) + 1;
    this.cancelRetry();
    if (this.ws) {
      const ws = this.ws;
      this.ws = null;
      ws.close(1000);
    }
    this.state = 'closed';
  }

  /**
   * Leaves the session running on the machine (resumable: reconnect() or a reload in this tab
   * comes back to it, until ptyd's --detach-timeout) and closes the connection. Emits 'close'.
   */
  detach() {
    const had = this.ws !== null || this.state !== 'closed';
    this.drop();
    this.setStatus(null);
    if (had) this.dispatch('close', { code: 1000, reason: 'detached', exitCode: null });
  }

  /** Ends the session (its shell is hung up) and closes the connection; reconnect() starts a new one. Emits 'close'. */
  disconnect(reason = 'session ended') {
    const had = this.ws !== null || this.state !== 'closed';
    if (this.ws && this.ws.readyState === 1 && this.sessionState) this.ws.send(END_SESSION);
    this.forget();
    this.drop();
    this.setStatus(null);
    if (had) this.dispatch('close', { code: 1000, reason, exitCode: null });
  }

  /** Ends the session for good and disposes of what this object made (the terminal, unless the app passed it). */
  close() {
    if (this.disposed) return;
    this.disconnect('closed by the page');
    this.disposed = true;
    for (const d of this.disposables) d.dispose();
    if (this.resizeObserver) this.resizeObserver.disconnect();
    if (typeof globalThis.removeEventListener === 'function') globalThis.removeEventListener('online', this.onOnline);
    if (this.statusEl) this.statusEl.remove();
    if (this.ownsTerminal) this.terminal.dispose();
  }

  dispatch(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }
}

/**
 * Opens an xterm.js terminal in element and connects it; see TerminalOptions in web-shell.d.ts.
 * Returns the session at once: the first event ('connecting') fires after the caller's code
 * has run, so listeners added right away see every event. session.ready settles when the
 * first connection opens or fails.
 */
export function connectTerminal(element, options = {}) {
  const base = options.base !== undefined ? options.base : globalThis.location && globalThis.location.href;
  const session = new TerminalSession(element, { ...options, base });
  session.ready = Promise.resolve().then(() => session.reconnect());
  session.ready.catch(() => {}); // reported through the 'error' event as well
  return session;
}
