// keys.js: WebCrypto signing keys: generate, PEM import/export, and an IndexedDB key store.

import { base64urlEncode, pemDecode, pemEncode } from './encoding.js';

// Content bytes of the DER object identifiers we recognise in a PKCS#8 AlgorithmIdentifier.
const OID = {
  ed25519: '2b6570', // 1.3.101.112
  ed448: '2b6571', // 1.3.101.113
  x25519: '2b656e', // 1.3.101.110
  ecPublicKey: '2a8648ce3d0201', // 1.2.840.10045.2.1
  p256: '2a8648ce3d030107', // 1.2.840.10045.3.1.7
  p384: '2b81040022', // 1.3.132.0.34
  rsaEncryption: '2a864886f70d010101', // 1.2.840.113549.1.1.1
};

const ED25519 = { name: 'Ed25519' };
const P256 = { name: 'ECDSA', namedCurve: 'P-256' };

const FALLBACK_NOTICE =
  'This browser has no Ed25519 in WebCrypto; generated an ECDSA P-256 key (JWT alg ES256) instead.';

/** An Error with a machine-readable code, used for every failure this module reports. */
export class WebShellError extends Error {
  constructor(code, message) {
    super(message);
    this.name = 'WebShellError';
    this.code = code;
  }
}

function hex(bytes) {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

// One DER tag-length-value at off: { tag, start, end } (content bounds). Throws on truncation.
function derRead(der, off) {
  if (off + 2 > der.length) throw new Error('truncated DER');
  const tag = der[off];
  let len = der[off + 1];
  let start = off + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n < 1 || n > 3 || start + n > der.length) throw new Error('bad DER length');
    len = 0;
    for (let i = 0; i < n; i++) len = (len << 8) | der[start + i];
    start += n;
  }
  if (start + len > der.length) throw new Error('truncated DER');
  return { tag, start, end: start + len };
}

/**
 * The algorithm of a PKCS#8 PrivateKeyInfo: { oid, curve } as hex strings (curve may be null).
 * Throws when der is not a PKCS#8 structure.
 */
export function pkcs8Algorithm(der) {
  try {
    const outer = derRead(der, 0);
    if (outer.tag !== 0x30) throw new Error('not a SEQUENCE');
    const version = derRead(der, outer.start);
    if (version.tag !== 0x02) throw new Error('no version');
    const algId = derRead(der, version.end);
    if (algId.tag !== 0x30) throw new Error('no AlgorithmIdentifier');
    const oid = derRead(der, algId.start);
    if (oid.tag !== 0x06) throw new Error('no algorithm OID');
    let curve = null;
    if (oid.end < algId.end) {
      const param = derRead(der, oid.end);
      if (param.tag === 0x06) curve = hex(der.subarray(param.start, param.end));
    }
    return { oid: hex(der.subarray(oid.start, oid.end)), curve };
  } catch (e) {
    throw new WebShellError('bad-key', `not a PKCS#8 private key (${e.message})`);
  }
}

// WebCrypto import parameters for a PKCS#8 key, or a WebShellError saying why not.
function importParams({ oid, curve }) {
  if (oid === OID.ed25519) return ED25519;
  if (oid === OID.ecPublicKey && curve === OID.p256) return P256;
  if (oid === OID.ecPublicKey && curve === OID.p384) return { name: 'ECDSA', namedCurve: 'P-384' };
  if (oid === OID.ecPublicKey) throw new WebShellError('bad-key', 'unsupported EC curve: use P-256 (or P-384)');
  if (oid === OID.rsaEncryption) return { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' };
  if (oid === OID.ed448) throw new WebShellError('bad-key', 'Ed448 keys are not supported by WebCrypto: use Ed25519');
  if (oid === OID.x25519) throw new WebShellError('bad-key', 'X25519 is a key-agreement key and cannot sign: use Ed25519');
  throw new WebShellError('bad-key', `unsupported private key algorithm (OID bytes ${oid})`);
}

/**
 * A new signing key pair { privateKey, publicKey, algorithm, notice }.
 * options.algorithm: 'Ed25519' (default) or 'ES256'. Where the browser has no Ed25519 the
 * pair is ECDSA P-256 and notice says so. The private key is non-extractable unless
 * options.extractable is true; the public key is always exportable.
 */
export async function generateKeyPair({ algorithm = 'Ed25519', extractable = false, crypto = globalThis.crypto } = {}) {
  const usages = ['sign', 'verify'];
  if (algorithm === 'Ed25519' || algorithm === 'EdDSA') {
    try {
      const pair = await crypto.subtle.generateKey(ED25519, extractable, usages);
      return { privateKey: pair.privateKey, publicKey: pair.publicKey, algorithm: 'EdDSA', notice: null };
    } catch (e) {
      if (e && e.name !== 'NotSupportedError' && e.name !== 'TypeError') throw e;
      const pair = await crypto.subtle.generateKey(P256, extractable, usages);
      return { privateKey: pair.privateKey, publicKey: pair.publicKey, algorithm: 'ES256', notice: FALLBACK_NOTICE };
    }
  }
  if (algorithm === 'ES256' || algorithm === 'P-256') {
    const pair = await crypto.subtle.generateKey(P256, extractable, usages);
    return { privateKey: pair.privateKey, publicKey: pair.publicKey, algorithm: 'ES256', notice: null };
  }
  throw new WebShellError('bad-argument', `unknown algorithm ${JSON.stringify(algorithm)}: use 'Ed25519' or 'ES256'`);
}

/** SPKI PEM of a public CryptoKey, byte for byte what `openssl pkey -pubout` writes. */
export async function exportPublicKeyPem(publicKey, { crypto = globalThis.crypto } = {}) {
  if (!publicKey || publicKey.type !== 'public') {
    throw new WebShellError('bad-argument', 'exportPublicKeyPem needs the public CryptoKey of a pair');
  }
  return pemEncode('PUBLIC KEY', new Uint8Array(await crypto.subtle.exportKey('spki', publicKey)));
}

/**
 * The RFC 7638 JWK thumbprint (SHA-256, base64url) of a public key: the `kid` jwt-verify
 * knows each --key by (`jwt-verify --check` prints it).
 */
export async function keyThumbprint(publicKey, { crypto = globalThis.crypto } = {}) {
  if (!publicKey || publicKey.type !== 'public') {
    throw new WebShellError('bad-argument', 'keyThumbprint needs the public CryptoKey of a pair');
  }
  const jwk = await crypto.subtle.exportKey('jwk', publicKey);
  // The required members only, in lexicographic order, no whitespace (RFC 7638 section 3).
  let members;
  if (jwk.kty === 'OKP') members = { crv: jwk.crv, kty: jwk.kty, x: jwk.x };
  else if (jwk.kty === 'EC') members = { crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y };
  else if (jwk.kty === 'RSA') members = { e: jwk.e, kty: jwk.kty, n: jwk.n };
  else throw new WebShellError('bad-key', `no thumbprint for key type ${jwk.kty}`);
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(JSON.stringify(members)));
  return base64urlEncode(new Uint8Array(digest));
}

/**
 * Imports a PKCS#8 "PRIVATE KEY" PEM (as `openssl genpkey` writes it: Ed25519, EC P-256 or
 * P-384, RSA) and returns { privateKey, publicKey, algorithm, notice: null }. The public key
 * is derived from the private one. The private key is non-extractable unless asked for.
 */
export async function importPrivateKeyPem(pem, { extractable = false, crypto = globalThis.crypto } = {}) {
  let block;
  try {
    block = pemDecode(pem);
  } catch (e) {
    throw new WebShellError('bad-key', e.message);
  }
  if (block.label === 'RSA PRIVATE KEY' || block.label === 'EC PRIVATE KEY') {
    throw new WebShellError('bad-key',
      `"${block.label}" is the traditional format: convert it with "openssl pkcs8 -topk8 -nocrypt -in KEY"`);
  }
  if (block.label === 'ENCRYPTED PRIVATE KEY') {
    throw new WebShellError('bad-key', 'encrypted private key: decrypt it first with "openssl pkey -in KEY"');
  }
  if (block.label !== 'PRIVATE KEY') {
    throw new WebShellError('bad-key', `expected a "PRIVATE KEY" PEM block, got "${block.label}"`);
  }
  const params = importParams(pkcs8Algorithm(block.der));
  const subtle = crypto.subtle;
  let full;
  try {
    full = await subtle.importKey('pkcs8', block.der, params, true, ['sign']);
  } catch (e) {
    throw new WebShellError('bad-key', `the browser refused the key (${e.name}: ${e.message})`);
  }
  // WebCrypto cannot hand out the public half directly; the private JWK carries it.
  const jwk = await subtle.exportKey('jwk', full);
  for (const k of ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth']) delete jwk[k];
  jwk.key_ops = ['verify'];
  const publicKey = await subtle.importKey('jwk', jwk, params, true, ['verify']);
  const privateKey = extractable ? full : await subtle.importKey('pkcs8', block.der, params, false, ['sign']);
  return { privateKey, publicKey, algorithm: jwsAlgorithm(privateKey), notice: null };
}

/** The JWS alg for a signing key: 'EdDSA', 'ES256', 'ES384' or 'RS256'/'RS384'/'RS512'. */
export function jwsAlgorithm(key) {
  const a = key && key.algorithm;
  if (!a) throw new WebShellError('bad-argument', 'not a CryptoKey');
  if (a.name === 'Ed25519') return 'EdDSA';
  if (a.name === 'ECDSA' && a.namedCurve === 'P-256') return 'ES256';
  if (a.name === 'ECDSA' && a.namedCurve === 'P-384') return 'ES384';
  if (a.name === 'RSASSA-PKCS1-v1_5') return 'RS' + a.hash.name.replace('SHA-', '');
  throw new WebShellError('bad-argument', `no JWS algorithm for a ${a.name} key`);
}

const DB_NAME = 'web-shell';
const STORE = 'keys';

function idbRequest(req) {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

async function withStore(indexedDB, mode, fn) {
  if (!indexedDB) throw new WebShellError('no-storage', 'IndexedDB is not available in this context');
  const open = indexedDB.open(DB_NAME, 1);
  open.onupgradeneeded = () => open.result.createObjectStore(STORE);
  const db = await idbRequest(open);
  try {
    const tx = db.transaction(STORE, mode);
    const done = new Promise((resolve, reject) => {
      tx.oncomplete = resolve;
      tx.onerror = () => reject(tx.error);
      tx.onabort = () => reject(tx.error);
    });
    const result = await idbRequest(fn(tx.objectStore(STORE)));
    await done;
    return result;
  } finally {
    db.close();
  }
}

/**
 * Stores a key pair in IndexedDB under options.name ('default'). CryptoKey objects are
 * stored as they are, so a non-extractable private key stays non-extractable at rest.
 */
export async function saveKeys(pair, { name = 'default', indexedDB = globalThis.indexedDB } = {}) {
  if (!pair || !pair.privateKey || !pair.publicKey) {
    throw new WebShellError('bad-argument', 'saveKeys needs { privateKey, publicKey }');
  }
  const record = { privateKey: pair.privateKey, publicKey: pair.publicKey, savedAt: Date.now() };
  await withStore(indexedDB, 'readwrite', (s) => s.put(record, name));
}

/** The pair saved under options.name, as { privateKey, publicKey, algorithm, notice }, or null. */
export async function loadKeys({ name = 'default', indexedDB = globalThis.indexedDB } = {}) {
  const record = await withStore(indexedDB, 'readonly', (s) => s.get(name));
  if (!record) return null;
  return { privateKey: record.privateKey, publicKey: record.publicKey, algorithm: jwsAlgorithm(record.privateKey), notice: null };
}

/** Deletes the pair saved under options.name (no error when there is none). */
export async function forgetKeys({ name = 'default', indexedDB = globalThis.indexedDB } = {}) {
  await withStore(indexedDB, 'readwrite', (s) => s.delete(name));
}
