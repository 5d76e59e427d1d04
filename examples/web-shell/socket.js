// socket.js: where to connect, with which token, and why a connection failed.
// The only place that opens WebSockets. The token travels in the subprotocol list
// (`webshell.bearer.<JWT>`, docs/protocol.md) unless the caller asks for `?token=`; it is never
// put into an error message, and a failed handshake is never retried with it to find out why.

import { createJwt } from './jwt.js';
import { WebShellError, keyThumbprint } from './keys.js';

/** Subprotocol prefix that carries the bearer token (jwt-verify reads it; Caddy strips it). */
export const BEARER_PREFIX = 'webshell.bearer.';
// How long a probe may take: longer than Caddy's 5 s response_header_timeout towards the
// verifier, so that a hung verifier shows up as the gateway's 504 rather than as silence.
const PROBE_TIMEOUT_MS = 8000;
const DEFAULT_CONNECT_TIMEOUT_MS = 15000;
// The token's default place: the subprotocol list (jwt-verify reads it there, Caddy drops it).
const DEFAULT_TOKEN_IN = 'protocol';

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

const thumbprints = new WeakMap();
// A key's thumbprint, computed once per key.
function thumbprintOf(publicKey, crypto) {
  if (!thumbprints.has(publicKey)) thumbprints.set(publicKey, keyThumbprint(publicKey, { crypto }));
  return thumbprints.get(publicKey);
}

/**
 * A fresh token for url: from options.token() (a function returning a string or a promise
 * of one) or signed now with options.privateKey (audience = the URL's hostname unless
 * options.audience is given; lifetimeSec, subject as for createJwt; kid from options.keyId or
 * the thumbprint of options.publicKey).
 */
export async function freshToken(url, options) {
  const { privateKey, token, lifetimeSec, subject } = options;
  let jwt;
  if (typeof token === 'function') {
    jwt = await token();
  } else if (privateKey) {
    const audience = options.audience !== undefined ? options.audience : audienceFor(url);
    const kid = options.keyId || (options.publicKey ? await thumbprintOf(options.publicKey, options.crypto) : undefined);
    jwt = await createJwt(privateKey, { lifetimeSec, audience, subject, kid, crypto: options.crypto });
  } else {
    throw new WebShellError('bad-argument', 'pass privateKey or a token() function');
  }
  if (typeof jwt !== 'string' || jwt === '') throw new WebShellError('bad-argument', 'token() gave no token');
  return jwt;
}

/** url with a fresh ?token= (for clients that cannot offer subprotocols; see tokenIn). */
export async function withToken(url, options) {
  const u = new URL(url);
  u.searchParams.set('token', await freshToken(url, options));
  return u.toString();
}

/**
 * The URL and subprotocol list for one connection with a fresh token: the token as the
 * subprotocol `webshell.bearer.<JWT>` after the wanted ones (tokenIn 'protocol', the default),
 * or as `?token=` (tokenIn 'query').
 */
export async function authorize(url, protocols, options) {
  const tokenIn = options.tokenIn || DEFAULT_TOKEN_IN;
  if (tokenIn === 'query') return { url: await withToken(url, options), protocols: [...protocols] };
  if (tokenIn !== 'protocol') throw new WebShellError('bad-argument', "tokenIn must be 'protocol' or 'query'");
  const jwt = await freshToken(url, options);
  // A compact JWS is base64url and dots only: every character is a valid protocol token.
  if (!/^[A-Za-z0-9_.-]+$/.test(jwt)) throw new WebShellError('bad-argument', 'the token is not a compact JWS');
  return { url, protocols: [...protocols, BEARER_PREFIX + jwt] };
}

function originOf(page) {
  try {
    const origin = page ? new URL(page).origin : null;
    return origin === 'null' ? null : origin; // file:// pages have an opaque origin
  } catch {
    return null;
  }
}

/**
 * Why a WebSocket failed before opening. Browsers report every refused handshake as close
 * code 1006, so the same URL is probed with a plain GET *without* the token (a token is
 * never sent twice: with jwt-verify --single-use a replay would be refused for that alone).
 * The probe tells which part answers: 401 (the verifier is up: it refused the token, or the
 * token was good and ptyd refused something else, such as the page's origin), 403 "origin"
 * (origin not allowed), 502/503/504 (the gateway cannot reach the verifier or ptyd, or the
 * verifier hangs), nothing (refused), or silence past the probe timeout (something accepts
 * connections and never answers). Resolves to a WebShellError whose code is
 * 'unauthorized', 'origin', 'gateway', 'timeout', 'handshake' or 'refused'.
 * options.page: the page's URL (its origin is named in the message when it differs).
 */
export async function diagnoseHandshake(url, { fetch = globalThis.fetch, page, elapsedMs, probeTimeoutMs = PROBE_TIMEOUT_MS } = {}) {
  const where = redactUrl(url);
  const httpUrl = where.replace(/^ws/, 'http');
  const init = { cache: 'no-store', credentials: 'omit', redirect: 'manual' };
  const origin = originOf(page);
  const crossOrigin = origin && origin !== new URL(httpUrl).origin;
  const originNote = crossOrigin ? ` or this page's origin ${origin} is not allowed (ptyd --check-origin)` : '';
  const slow = elapsedMs !== undefined && elapsedMs >= 4000 ? ` after ${Math.round(elapsedMs / 1000)} s` : '';
  let timedOut = false;
  try {
    const res = await fetch(httpUrl, { ...init, signal: AbortSignal.timeout(probeTimeoutMs) });
    const body = (await res.text()).replace(/\s+/g, ' ').trim().slice(0, 200);
    const detail = `HTTP ${res.status}${body ? ': ' + body : ''}`;
    if (res.status === 403 && /origin/i.test(body)) {
      return new WebShellError('origin', `origin not allowed: ${where} does not accept connections from ${origin || 'this page'} (${detail})`);
    }
    if (res.status === 401 || res.status === 403) {
      return new WebShellError('unauthorized',
        `the handshake was refused by ${where}: the token was rejected${originNote} ` +
        `(the verifier answers a request without a token with ${detail}; its log says why the token failed)`);
    }
    if (res.status >= 502 && res.status <= 504) {
      return new WebShellError('gateway',
        `the gateway at ${where} answered ${detail}${slow}: the verifier or terminal server behind it is down or not answering`);
    }
    return new WebShellError('handshake', `the WebSocket handshake to ${where} failed (a plain request gets ${detail})`);
  } catch (e) {
    if (e && e.name === 'TimeoutError') timedOut = true;
    // Cross-origin without CORS headers (e.g. a page opened from file://): the status
    // cannot be read, but an opaque answer still proves something is listening.
  }
  if (!timedOut) {
    try {
      await fetch(httpUrl, { ...init, mode: 'no-cors', redirect: 'follow', signal: AbortSignal.timeout(probeTimeoutMs) });
      if (crossOrigin) {
        return new WebShellError('handshake',
          `the server at ${where} refused the WebSocket handshake: this page's origin ${origin} is not allowed there ` +
          '(ptyd --check-origin), or the token was rejected; a page on another origin cannot read which');
      }
      return new WebShellError('handshake',
        `the server at ${where} refused the WebSocket handshake; this page cannot read the HTTP status ` +
        '(most often the token was rejected: check the key, the audience and the clock)');
    } catch (e) {
      if (e && e.name === 'TimeoutError') timedOut = true;
    }
  }
  if (timedOut) {
    return new WebShellError('timeout',
      `the server at ${where} accepts connections but did not answer within ${Math.round(probeTimeoutMs / 1000)} s ` +
      '(a hung verifier or terminal server behind the gateway)');
  }
  // A browser reports an untrusted certificate the same way as a closed port.
  const tlsHint = where.startsWith('wss:') ? ' (or its TLS certificate is not trusted by this browser)' : '';
  return new WebShellError('refused', `connection refused: nothing answers at ${where}${tlsHint}`);
}

/**
 * A WebSocket to url, authorised with a fresh token (see authorize), offering protocols
 * (in order of preference), once open; ws.protocol says which one the server chose.
 * Rejects with a WebShellError from diagnoseHandshake() when it fails before opening,
 * or 'timeout' after options.connectTimeoutMs (default 15 s).
 */
export async function openSocket(url, protocols, options = {}) {
  const { WebSocket = globalThis.WebSocket, fetch = globalThis.fetch } = options;
  const connectTimeoutMs = options.connectTimeoutMs || DEFAULT_CONNECT_TIMEOUT_MS;
  const auth = await authorize(url, protocols, options);
  const started = Date.now();
  return new Promise((resolve, reject) => {
    let ws;
    try {
      ws = new WebSocket(auth.url, auth.protocols);
    } catch (e) {
      reject(new WebShellError('bad-argument', `cannot open ${redactUrl(url)}: ${e.message.split(auth.url).join(redactUrl(url))}`));
      return;
    }
    ws.binaryType = 'arraybuffer';
    const timer = setTimeout(() => {
      cleanup();
      ws.close();
      reject(new WebShellError('timeout', `no answer from ${redactUrl(url)} within ${connectTimeoutMs} ms (the gateway, the verifier or the terminal server hangs)`));
    }, connectTimeoutMs);
    const cleanup = () => {
      clearTimeout(timer);
      ws.removeEventListener('open', onOpen);
      ws.removeEventListener('close', onClose);
    };
    const onOpen = () => {
      cleanup();
      resolve(ws);
    };
    const onClose = () => {
      cleanup();
      diagnoseHandshake(url, { fetch, page: options.base, elapsedMs: Date.now() - started }).then(reject, reject);
    };
    ws.addEventListener('open', onOpen);
    ws.addEventListener('close', onClose);
  });
}

/**
 * The error for a connection the server closed right after opening it with a refusal
 * (close 1008 or 4003/4004 with a reason, e.g. "origin not allowed"); null otherwise.
 */
export function refusalFromClose(code, reason, url) {
  if (/origin/i.test(reason || '')) return new WebShellError('origin', `origin not allowed by ${redactUrl(url)} (${reason})`);
  if (code === 4003) return new WebShellError('forbidden', `refused by ${redactUrl(url)}: ${reason || 'session belongs to another identity'}`);
  if (code === 4004) return new WebShellError('no-session', `refused by ${redactUrl(url)}: ${reason || 'no such session'}`);
  return null;
}
