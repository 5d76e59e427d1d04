// socket.js: where to connect, with which token, and why a connection failed.
// The only place that opens WebSockets; the token is never put into an error message.

import { createJwt } from './jwt.js';
import { WebShellError } from './keys.js';
import { SUBPROTOCOL } from './ttyd.js';

const PROBE_TIMEOUT_MS = 3000;

/**
 * The WebSocket URL (no token) for what a user typed: "host", "host:port", "host/path",
 * "ws(s)://...", "http(s)://..."; empty means the page's own host. The path defaults to /ws.
 * A scheme-less host gets ws: when base (the page's location) is http:, wss: otherwise.
 */
export function resolveUrl(input, { base } = {}) {
  let text = String(input || '').trim();
  const baseUrl = base ? new URL(String(base)) : null;
  const pageIsWeb = baseUrl && (baseUrl.protocol === 'http:' || baseUrl.protocol === 'https:');
  if (!text) {
    if (!pageIsWeb) throw new WebShellError('bad-argument', 'no URL given: type the host to connect to');
    text = baseUrl.host;
  }
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(text)) {
    text = (baseUrl && baseUrl.protocol === 'http:' ? 'ws://' : 'wss://') + text;
  }
  let url;
  try {
    url = new URL(text);
  } catch {
    throw new WebShellError('bad-argument', `not a valid host or URL: ${JSON.stringify(String(input))}`);
  }
  if (url.protocol === 'http:') url.protocol = 'ws:';
  if (url.protocol === 'https:') url.protocol = 'wss:';
  if (url.protocol !== 'ws:' && url.protocol !== 'wss:') {
    throw new WebShellError('bad-argument', `unsupported scheme ${url.protocol} (use wss://, ws://, https:// or http://)`);
  }
  if (url.pathname === '' || url.pathname === '/') url.pathname = '/ws';
  url.searchParams.delete('token');
  url.hash = '';
  return url.toString();
}

/** The JWT audience for a URL: its hostname without port (and without IPv6 brackets). */
export function audienceFor(url) {
  return new URL(url).hostname.replace(/^\[(.*)\]$/, '$1');
}

/** The URL with its query string removed: safe to show in messages and logs. */
export function redactUrl(url) {
  const u = new URL(url);
  u.search = '';
  return u.toString();
}

/**
 * url with a fresh ?token=: from options.token() (a function returning a string or a
 * promise of one) or signed now with options.privateKey (audience = the URL's hostname
 * unless options.audience is given; lifetimeSec, subject as for createJwt).
 */
export async function withToken(url, options) {
  const { privateKey, token, lifetimeSec, subject } = options;
  let jwt;
  if (typeof token === 'function') {
    jwt = await token();
  } else if (privateKey) {
    const audience = options.audience !== undefined ? options.audience : audienceFor(url);
    jwt = await createJwt(privateKey, { lifetimeSec, audience, subject, crypto: options.crypto });
  } else {
    throw new WebShellError('bad-argument', 'pass privateKey or a token() function');
  }
  if (typeof jwt !== 'string' || jwt === '') throw new WebShellError('bad-argument', 'token() gave no token');
  const u = new URL(url);
  u.searchParams.set('token', jwt);
  return u.toString();
}

/**
 * Why a WebSocket failed before opening. Browsers report every refused handshake as close
 * code 1006, so the same URL is probed with fetch(): Caddy answers a forward_auth 401 to a
 * plain GET just as to the handshake. Resolves to a WebShellError with code 'unauthorized',
 * 'gateway', 'handshake' or 'refused'.
 */
export async function diagnoseHandshake(url, { fetch = globalThis.fetch } = {}) {
  const where = redactUrl(url);
  const httpUrl = url.replace(/^ws/, 'http');
  const init = { cache: 'no-store', credentials: 'omit', redirect: 'manual' };
  try {
    const res = await fetch(httpUrl, { ...init, signal: AbortSignal.timeout(PROBE_TIMEOUT_MS) });
    const body = (await res.text()).replace(/\s+/g, ' ').trim().slice(0, 200);
    const detail = `HTTP ${res.status}${body ? ': ' + body : ''}`;
    if (res.status === 401 || res.status === 403) {
      return new WebShellError('unauthorized', `authentication refused at the handshake (${detail}) by ${where}`);
    }
    if (res.status >= 502 && res.status <= 504) {
      return new WebShellError('gateway', `the gateway at ${where} answered ${detail}: the verifier or terminal server behind it is not answering`);
    }
    return new WebShellError('handshake', `the WebSocket handshake to ${where} failed (a plain request gets ${detail})`);
  } catch {
    // Cross-origin without CORS headers (e.g. a page opened from file://): the status
    // cannot be read, but an opaque answer still proves something is listening.
  }
  try {
    await fetch(httpUrl, { ...init, mode: 'no-cors', redirect: 'follow', signal: AbortSignal.timeout(PROBE_TIMEOUT_MS) });
    return new WebShellError('handshake',
      `the server at ${where} refused the WebSocket handshake; this page's origin cannot read the HTTP status ` +
      '(most often 401: the token was rejected; check the key and the audience)');
  } catch {
    // A browser reports an untrusted certificate the same way as a closed port.
    const tlsHint = where.startsWith('wss:') ? ' (or its TLS certificate is not trusted by this browser)' : '';
    return new WebShellError('refused', `connection refused: nothing answers at ${where}${tlsHint}`);
  }
}

/**
 * A WebSocket to url (with token) speaking the ttyd subprotocol, once open. Rejects with
 * a WebShellError from diagnoseHandshake() when it fails before opening.
 */
export function openSocket(url, { WebSocket = globalThis.WebSocket, fetch = globalThis.fetch } = {}) {
  return new Promise((resolve, reject) => {
    let ws;
    try {
      ws = new WebSocket(url, [SUBPROTOCOL]);
    } catch (e) {
      reject(new WebShellError('bad-argument', `cannot open ${redactUrl(url)}: ${e.message}`));
      return;
    }
    ws.binaryType = 'arraybuffer';
    const onOpen = () => {
      ws.removeEventListener('close', onClose);
      resolve(ws);
    };
    const onClose = () => {
      ws.removeEventListener('open', onOpen);
      diagnoseHandshake(url, { fetch }).then(reject, reject);
    };
    ws.addEventListener('open', onOpen, { once: true });
    ws.addEventListener('close', onClose, { once: true });
  });
}
