// web-shell.d.ts: types of web-shell.js (the ES module) and of globalThis.WebShell (its classic build).

/** Every failure of the module; `code` says which kind. */
export class WebShellError extends Error {
  readonly name: 'WebShellError';
  readonly code:
    | 'bad-argument' | 'bad-key' | 'no-storage' | 'closed'
    | 'unauthorized' // 401/403 at the WebSocket handshake (token refused)
    | 'refused'      // nothing answers at the URL
    | 'gateway'      // 502/503/504: the verifier or terminal server is down
    | 'handshake'    // any other refused handshake (status unreadable cross-origin)
    | 'timeout' | 'shell-gone' | 'output-limit' | 'protocol';
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
export function saveKeys(pair: Pick<KeyPair, 'privateKey' | 'publicKey'>, options?: StoreOptions): Promise<void>;
export function loadKeys(options?: StoreOptions): Promise<KeyPair | null>;
export function forgetKeys(options?: StoreOptions): Promise<void>;

export interface JwtOptions extends CryptoOption {
  /** Seconds from iat to exp, 1..86400; default 60. */
  lifetimeSec?: number;
  audience?: string;
  subject?: string;
  /** Default: 128 random bits, base64url. */
  jti?: string;
  /** iat in seconds since the epoch; default now. */
  now?: number;
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
  /** ...or supplies one. */
  token?: () => string | Promise<string>;
  lifetimeSec?: number;
  subject?: string;
  audience?: string;
  /** The page URL that an empty url and a scheme-less host are resolved against. */
  base?: string;
  WebSocket?: typeof WebSocket;
  fetch?: typeof fetch;
}

export interface TerminalOptions extends ConnectOptions {
  /** xterm.js classes; default the globals of vendor/xterm.js and vendor/addon-fit.js. */
  Terminal?: new (options?: object) => any;
  FitAddon?: new () => any;
  terminalOptions?: object;
}

export interface TerminalSession extends EventTarget {
  /** The xterm.js Terminal. */
  readonly terminal: any;
  readonly url: string;
  readonly state: 'connecting' | 'open' | 'closed';
  /** Settles when the first connection opens (or fails). */
  readonly ready: Promise<void>;
  reconnect(): Promise<void>;
  disconnect(): void;
  fit(): void;
  close(): void;
  // Events (CustomEvent detail): 'connecting' {url}, 'open' {url}, 'title' {title},
  // 'exit' {exitCode, code, reason}, 'close' {code, reason, exitCode}, 'error' {error}.
}
export function connectTerminal(element: HTMLElement, options?: TerminalOptions): TerminalSession;

export interface ExecOptions extends ConnectOptions {
  /** The whole call, connecting included; default 30000. */
  timeoutMs?: number;
  /** Bytes of output accepted; default 64 MiB. */
  maxOutputBytes?: number;
}
export function execCommand(command: string, options?: ExecOptions): Promise<{ stdout: string; exitCode: number }>;

declare global {
  /** The classic-script build (vendor/web-shell.classic.js) defines the same API here. */
  var WebShell: typeof import('./web-shell.js');
}
