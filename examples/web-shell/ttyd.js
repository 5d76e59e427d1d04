// ttyd.js: the ttyd wire protocol, client side (pure). Mirrors services/ptyd/proto.h and the
// README's ptyd "Protocol" table: one WebSocket message per command, first byte an ASCII type
// character, subprotocol "tty", binary frames both ways; plus the resumable-session extension
// of docs/protocol.md section 1 (init member "webshell", server 'S', client 'X').

import { utf8 } from './encoding.js';
import { WebShellError } from './keys.js';

export const SUBPROTOCOL = 'tty';

/** Client -> server message types (ASCII). */
export const CLIENT = Object.freeze({ INPUT: 0x30, RESIZE: 0x31, PAUSE: 0x32, RESUME: 0x33, END_SESSION: 0x58, INIT: 0x7b });
/** Server -> client message types (ASCII); SESSION ('S') only after a "webshell" init. */
export const SERVER = Object.freeze({ OUTPUT: 0x30, TITLE: 0x31, PREFERENCES: 0x32, SESSION: 0x53 });

function tagged(type, payload) {
  const out = new Uint8Array(1 + payload.length);
  out[0] = type;
  out.set(payload, 1);
  return out;
}

/** INPUT message: '0' + UTF-8 of text (or the given bytes). */
export function encodeInput(data) {
  return tagged(CLIENT.INPUT, typeof data === 'string' ? utf8(data) : data);
}

/** RESIZE message: '1' + {"columns":C,"rows":R}. */
export function encodeResize(columns, rows) {
  return tagged(CLIENT.RESIZE, utf8(JSON.stringify({ columns, rows })));
}

/**
 * The first message of a connection (its '{' is the type byte): starts the shell at that size.
 * session: undefined (ttyd's plain init), 'new' (a resumable session), or { id, offset } to
 * attach to session id having seen its output bytes 0..offset-1.
 */
export function encodeInit(columns, rows, session) {
  const init = { AuthToken: '', columns, rows };
  if (session === 'new') init.webshell = { session: 'new' };
  else if (session) init.webshell = { session: session.id, offset: session.offset };
  return utf8(JSON.stringify(init));
}

/** 'X': ends the session for good (a plain close only detaches a resumable one). */
export const END_SESSION = Uint8Array.of(CLIENT.END_SESSION);

/** { id, offset, reset, lost } of an 'S' payload; throws 'protocol' on anything else. */
export function decodeSession(payload) {
  let s;
  try {
    s = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(payload));
  } catch {
    s = null;
  }
  if (!s || typeof s.id !== 'string' || !/^[0-9a-f]{32}$/.test(s.id) || !Number.isSafeInteger(s.offset) || s.offset < 0) {
    throw new WebShellError('protocol', 'malformed session message from the server');
  }
  const end = Number.isSafeInteger(s.end) && s.end >= s.offset ? s.end : null;
  return { id: s.id, offset: s.offset, end, reset: s.reset === true, lost: Number.isSafeInteger(s.lost) ? s.lost : 0 };
}

/**
 * Whether a connection that closed with this code should be resumed by itself
 * (docs/protocol.md: lost without a close frame, going away, server error, restart, try again).
 */
export function isResumableClose(code) {
  return code === 1006 || code === 1001 || code === 1011 || code === 1012 || code === 1013;
}

export const PAUSE = Uint8Array.of(CLIENT.PAUSE);
export const RESUME = Uint8Array.of(CLIENT.RESUME);

/** { type, payload } of a server message (ArrayBuffer or Uint8Array); payload is a view, not a copy. */
export function decodeServerMessage(data) {
  const bytes = data instanceof Uint8Array ? data : new Uint8Array(data);
  if (bytes.length === 0) return { type: -1, payload: bytes };
  return { type: bytes[0], payload: bytes.subarray(1) };
}

/**
 * The shell's exit status from ptyd's close reason: "exit N" gives N, "signal N" gives
 * 128+N as a shell would report it; null when the reason says nothing about it.
 */
export function exitStatusFromClose(reason) {
  const exit = /^exit (\d{1,3})$/.exec(reason || '');
  if (exit) return Number(exit[1]);
  const signal = /^signal (\d{1,2})$/.exec(reason || '');
  return signal ? 128 + Number(signal[1]) : null;
}

/** Words for how a shell ended, from the close reason: "exited with status N" or "was killed by signal N". */
export function describeEnd(reason) {
  const signal = /^signal (\d{1,2})$/.exec(reason || '');
  if (signal) return `was killed by signal ${signal[1]}`;
  const status = exitStatusFromClose(reason);
  return status === null ? null : `exited with status ${status}`;
}
