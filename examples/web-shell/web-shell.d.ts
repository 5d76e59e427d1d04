// web-shell.d.ts: types of the package entry (index.js), of web-shell.js (the same API without
// xterm.js defaults: 'web-shell/core') and of globalThis.WebShell (the classic build).

import type { ITerminalAddon, ITerminalOptions, Terminal } from '@xterm/xterm';

export type WebShellErrorCode =
  | 'bad-argument' | 'bad-key' | 'no-storage' | 'closed'
  | 'unauthorized'   // the handshake was refused and the verifier answers: the token was rejected
  | 'origin'         // 403 "origin not allowed": this page's origin may not connect (ptyd --check-origin)
  | 'refused'        // nothing answers at the URL (or its TLS certificate is not trusted)
  | 'gateway'        // 502/503/504: the verifier or terminal server behind Caddy is down or hangs
  | 'handshake'      // any other refused handshake (status unreadable cross-origin)
  | 'timeout'        // no answer in time (connecting, or a command with no status)
  | 'forbidden'      // 4003: the session belongs to another identity
  | 'no-session'     // 4004: no such session
  | 'connection-lost'// the connection ended before a command's status: it did not finish
  | 'exec-refused'   // the server refused to start a command (limits, bad cwd...)
  | 'cancelled'      // cancelled before it started (or an upload/download cancelled)
  | 'output-limit' | 'protocol' | 'unsupported' | 'file' | 'shell-gone';

/** Every failure of the module; `code` says which kind. Messages never contain the token. */
export class WebShellError extends Error {
  constructor(code: WebShellErrorCode, message: string);
  readonly name: 'WebShellError';
  readonly code: WebShellErrorCode;
}

export type JwsAlgorithm = 'EdDSA' | 'ES256' | 'ES384' | 'RS256' | 'RS384' | 'RS512';

export interface KeyPair {
  privateKey: CryptoKey;
  publicKey: CryptoKey;
  algorithm: JwsAlgorithm;
  /** Set when Ed25519 was asked for but the browser lacks it (the pair is ES256 then). */
  notice: string | null;
}

export interface CryptoOption { crypto?: Crypto }
export interface StoreOptions { name?: string; indexedDB?: IDBFactory }

export function generateKeyPair(options?: { algorithm?: 'Ed25519' | 'ES256'; extractable?: boolean } & CryptoOption): Promise<KeyPair>;
export function exportPublicKeyPem(publicKey: CryptoKey, options?: CryptoOption): Promise<string>;
export function importPrivateKeyPem(pem: string, options?: { extractable?: boolean } & CryptoOption): Promise<KeyPair>;
export function jwsAlgorithm(key: CryptoKey): JwsAlgorithm;
/** RFC 7638 thumbprint (SHA-256, base64url): the kid jwt-verify knows the key by. */
export function keyThumbprint(publicKey: CryptoKey, options?: CryptoOption): Promise<string>;
export function saveKeys(pair: Pick<KeyPair, 'privateKey' | 'publicKey'>, options?: StoreOptions): Promise<void>;
export function loadKeys(options?: StoreOptions): Promise<KeyPair | null>;
export function forgetKeys(options?: StoreOptions): Promise<void>;

/** The longest token lifetime createJwt signs: jwt-verify's default --max-lifetime (3600 s). */
export const MAX_LIFETIME_SEC: 3600;

export interface JwtOptions extends CryptoOption {
  /** Seconds from iat to exp, 1..3600 (jwt-verify's default --max-lifetime); default 60. */
  lifetimeSec?: number;
  audience?: string;
  subject?: string;
  /** Default: 128 random bits, base64url. */
  jti?: string;
  /** iat in seconds since the epoch; default now. */
  now?: number;
  /** Header kid: keyThumbprint(publicKey); jwt-verify needs it when it holds more than 4 keys of one type. */
  kid?: string;
}
export function createJwt(privateKey: CryptoKey, options?: JwtOptions): Promise<string>;
export function decodeJwt(token: string): { header: Record<string, unknown>; payload: Record<string, unknown>; signature: Uint8Array };

export function resolveUrl(input: string | undefined, options?: { base?: string | URL }): string;
export function audienceFor(url: string): string;

export interface ConnectOptions extends CryptoOption {
  /** "host", "host:port", "ws(s)://host/ws", "http(s)://host"; empty = the page's own host. */
  url?: string;
  /** Signs a fresh token for each connection (audience = the URL's hostname)... */
  privateKey?: CryptoKey;
  /** The pair's public key: its thumbprint goes in the token's kid (or give keyId). */
  publicKey?: CryptoKey;
  keyId?: string;
  /** ...or supplies one (called for every connection, reconnections included). */
  token?: () => string | Promise<string>;
  lifetimeSec?: number;
  subject?: string;
  audience?: string;
  /**
   * Where the token travels: 'protocol' (default: the WebSocket subprotocol
   * `webshell.bearer.<JWT>`, never in a URL) or 'query' (`?token=`, for gateways that need it).
   */
  tokenIn?: 'protocol' | 'query';
  /** Give up opening a connection after this long; default 15000 ms. */
  connectTimeoutMs?: number;
  /** The page URL that an empty url and a scheme-less host are resolved against. */
  base?: string;
  WebSocket?: typeof WebSocket;
  fetch?: typeof fetch;
}

/** Detail of each terminal event, by event name. */
export interface TerminalEventMap {
  connecting: { url: string };
  open: { url: string };
  title: { title: string };
  /** The shell ended (close 1000 "exit N" / "signal N"; a signal reads as 128+N). */
  exit: { exitCode: number; code: number; reason: string };
  /** The connection is over for good (exitCode null unless the shell ended). */
  close: { code: number; reason: string; exitCode: number | null };
  error: { error: WebShellError };
  /** The connection was lost abnormally; the session is being resumed. */
  disconnected: { code: number; reason: string };
  reconnecting: { attempt: number; delayMs: number };
  /** Back on the same shell; replayedBytes is the output missed while away. */
  resumed: { id: string | null; replayedBytes: number };
}

export type TerminalEvent<K extends keyof TerminalEventMap> = CustomEvent<TerminalEventMap[K]>;

/** xterm.js addon classes the app may pass; connectTerminal sets them up safely. */
export interface AddonClasses {
  FitAddon?: new () => ITerminalAddon & { fit(): void };
  /** Activated: emoji and CJK take two cells, as the shell counts them. */
  Unicode11Addon?: new () => ITerminalAddon;
  /** Constructed with a handler that opens only http and https links (new tab, no opener). */
  WebLinksAddon?: new (handler?: (event: MouseEvent, uri: string) => void) => ITerminalAddon;
  /** OSC 52 writes from the machine set the clipboard; OSC 52 reads are never answered. */
  ClipboardAddon?: new () => ITerminalAddon;
}

export interface TerminalOptions extends ConnectOptions, AddonClasses {
  /** An xterm.js Terminal the app made (opened or not); else one is made. */
  terminal?: Terminal;
  /** The Terminal class (the package entry passes @xterm/xterm's; web-shell.js alone uses the global). */
  Terminal?: new (options?: ITerminalOptions) => Terminal;
  /** A fit addon instance already loaded into options.terminal. */
  fitAddon?: ITerminalAddon & { fit(): void };
  terminalOptions?: ITerminalOptions;
  /** Resumable session (default true); false: the shell ends with its connection (ttyd's way). */
  resume?: boolean;
  /** Where the session id is kept so a reload in the same tab comes back (default sessionStorage; null: nowhere). */
  storage?: Storage | null;
  /** Attach to this session (an id from listSessions()) instead of starting a new one. */
  session?: string;
  /** Reconnection: attempts (default 40) and delays (first at once, then 200 ms doubling to 8000 ms, with jitter). */
  retry?: { maxAttempts?: number; baseDelayMs?: number; maxDelayMs?: number };
}

export interface TerminalSession extends EventTarget {
  readonly terminal: Terminal;
  readonly url: string;
  readonly state: 'connecting' | 'open' | 'reconnecting' | 'closed';
  /** The resumable session's id (null before the server named it, or without resume). */
  readonly id: string | null;
  /** Settles when the first connection opens (or fails). */
  readonly ready: Promise<void>;
  /** Connects again: to the same session while it lives, else a new shell. */
  reconnect(): Promise<void>;
  /** Closes the connection and leaves the shell running (resumable until ptyd's --detach-timeout). Emits 'close'. */
  detach(): void;
  /** Ends the session (its shell is hung up); the terminal stays for reconnect(). Emits 'close' ({reason: 'session ended'}). */
  disconnect(): void;
  fit(): void;
  /** Ends the session and disposes of the terminal (unless the app passed it). Emits 'close' ({reason: 'closed by the page'}). */
  close(): void;
  addEventListener<K extends keyof TerminalEventMap>(type: K, listener: (event: TerminalEvent<K>) => void, options?: boolean | AddEventListenerOptions): void;
  addEventListener(type: string, listener: EventListenerOrEventListenerObject | null, options?: boolean | AddEventListenerOptions): void;
  removeEventListener<K extends keyof TerminalEventMap>(type: K, listener: (event: TerminalEvent<K>) => void, options?: boolean | EventListenerOptions): void;
  removeEventListener(type: string, listener: EventListenerOrEventListenerObject | null, options?: boolean | EventListenerOptions): void;
}
export function connectTerminal(element: HTMLElement | null, options?: TerminalOptions): TerminalSession;

export interface ExecOptionsBase {
  /** Extra environment variables. */
  env?: Record<string, string>;
  /** Working directory (default the account's home). */
  cwd?: string;
  /** Stop the command after this long (it resolves with timedOut: true); 0: no limit; execCommand's default 30000. */
  timeoutMs?: number;
  /** Cancels the command on the machine (TERM to its process group, KILL after 2 s). */
  signal?: AbortSignal;
  /** Bytes of stdout+stderr accepted (default 64 MiB); more rejects with 'output-limit'. */
  maxOutputBytes?: number;
  /** stdin, ended (EOF) after the last byte; default none (/dev/null). */
  stdin?: string | Uint8Array | ArrayBuffer | ReadableStream<Uint8Array | string>;
  /** A string command through the account's shell as a login shell (rc files read). */
  login?: boolean;
  /** A terminal for the command (stdout then carries its output, stderr is empty). */
  pty?: { columns: number; rows: number };
}

export interface ExecStreamOptions<T> {
  /** Streams stdout here (the result's stdout is then empty); a returned promise slows the command until it settles. */
  onStdout?: (chunk: T) => void | Promise<void>;
  onStderr?: (chunk: T) => void | Promise<void>;
}

export interface ExecResult<T> {
  stdout: T;
  /** Always empty with the sentinel method (a terminal merges stderr into stdout). */
  stderr: T;
  /** null when the command died by a signal (exec channel) or was stopped. */
  exitCode: number | null;
  /** e.g. 'KILL' when it died by a signal (exec channel only: the sentinel method reports 128+N). */
  signal: string | null;
  timedOut: boolean;
  cancelled: boolean;
  /** 'operator' when an administrator ended it on the machine (`ptyd --end`); else null (always null with the sentinel method). */
  endedBy: 'operator' | null;
  durationMs: number;
  /** How it ran: 'sentinel' means stderr was merged into stdout. */
  method: 'channel' | 'sentinel';
}

export type TextExecOptions = ExecOptionsBase & ExecStreamOptions<string> & { encoding?: 'utf8' };
export type BinaryExecOptions = ExecOptionsBase & ExecStreamOptions<Uint8Array> & { encoding: 'binary' };

/** A command: a string runs in the account's shell with -c; an array runs directly (argv). */
export type Command = string | readonly string[];

export interface ExecConnection extends EventTarget {
  /** 'channel': ptyd's exec channel; 'sentinel': typed into a shell over ttyd's protocol. */
  readonly method: 'channel' | 'sentinel';
  readonly hello: { version: number; maxCommands: number; window?: number; maxCommand: number; user?: string };
  exec(command: Command, options: BinaryExecOptions): Promise<ExecResult<Uint8Array>>;
  exec(command: Command, options?: TextExecOptions): Promise<ExecResult<string>>;
  /** The caller's own terminal sessions (exec channel only). */
  sessions(): Promise<SessionInfo[]>;
  /** Ends one of the caller's sessions (exec channel only). */
  endSession(id: string): Promise<void>;
  close(): void;
}

export interface SessionInfo {
  id: string;
  state: 'attached' | 'detached';
  /** Unix seconds. */
  started: number;
  lastInput: number;
  title?: string;
}

export interface ExecConnectOptions extends ConnectOptions {
  /** 'auto' (default): the exec channel when the server offers it, else the sentinel method. */
  method?: 'auto' | 'channel' | 'sentinel';
}

export function connect(options?: ExecConnectOptions): Promise<ExecConnection>;
export function execCommand(command: Command, options: BinaryExecOptions & ExecConnectOptions): Promise<ExecResult<Uint8Array>>;
export function execCommand(command: Command, options?: TextExecOptions & ExecConnectOptions): Promise<ExecResult<string>>;
export function listSessions(options?: ConnectOptions): Promise<SessionInfo[]>;

export interface Progress { loaded: number; total: number | null }
export interface FileOptions extends ExecConnectOptions {
  onProgress?: (progress: Progress) => void;
  signal?: AbortSignal;
  /** An open connection to use (else one is opened with these options). */
  connection?: ExecConnection;
}
export function uploadFile(path: string, data: Uint8Array | ArrayBuffer | Blob | string | ReadableStream<Uint8Array>, options?: FileOptions): Promise<{ bytes: number }>;
export function downloadFile(path: string, options?: FileOptions): Promise<Blob>;

declare global {
  /** The classic-script build (vendor/web-shell.classic.js) defines the same API here. */
  var WebShell: typeof import('./web-shell.js');
}
