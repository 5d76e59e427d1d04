// encoding.js: UTF-8, byte joining, base64, base64url and PEM armour helpers shared by the
// module's files (pure).

const textEncoder = new TextEncoder();

/** UTF-8 bytes of a string. */
export function utf8(text) {
  return textEncoder.encode(text);
}

/** The byte arrays of parts, joined; total is their summed length. */
export function concatBytes(parts, total) {
  const out = new Uint8Array(total);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/** Standard base64 of bytes (Uint8Array or ArrayBuffer). */
export function bytesToBase64(bytes) {
  const view = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  let binary = '';
  // Chunked so String.fromCharCode never gets more arguments than the engine allows.
  for (let i = 0; i < view.length; i += 0x8000) {
    binary += String.fromCharCode.apply(null, view.subarray(i, i + 0x8000));
  }
  return btoa(binary);
}

/** Bytes of a standard base64 string; throws SyntaxError on anything else. */
export function base64ToBytes(text) {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4 === 1) {
    throw new SyntaxError('invalid base64');
  }
  const binary = atob(text);
  const out = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i);
  return out;
}

/** base64url without padding (RFC 7515 section 2) of bytes or of a string's UTF-8. */
export function base64urlEncode(data) {
  const bytes = typeof data === 'string' ? utf8(data) : data;
  return bytesToBase64(bytes).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** Bytes of unpadded base64url; throws SyntaxError on padding or foreign characters. */
export function base64urlDecode(text) {
  if (!/^[A-Za-z0-9_-]*$/.test(text)) throw new SyntaxError('invalid base64url');
  const std = text.replace(/-/g, '+').replace(/_/g, '/');
  return base64ToBytes(std + '='.repeat((4 - (std.length % 4)) % 4));
}

/**
 * PEM armour exactly as OpenSSL writes it: BEGIN line, base64 in 64-character lines,
 * END line, each ending in "\n".
 */
export function pemEncode(label, der) {
  const b64 = bytesToBase64(der);
  const lines = b64.match(/.{1,64}/g) || [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

/**
 * The label and DER bytes of the first PEM block in text. Throws an Error naming
 * what is wrong (no block, mismatched END line, bad base64).
 */
export function pemDecode(text) {
  if (typeof text !== 'string') throw new TypeError('PEM must be a string');
  const m = /-----BEGIN ([A-Z0-9 ]+)-----\r?\n([\s\S]*?)-----END ([A-Z0-9 ]+)-----/.exec(text);
  if (!m) throw new Error('not a PEM block: no "-----BEGIN ...-----" / "-----END ...-----" lines found');
  if (m[1] !== m[3]) throw new Error(`malformed PEM: BEGIN ${m[1]} does not match END ${m[3]}`);
  const body = m[2].replace(/\s+/g, '');
  if (/:/.test(m[2])) throw new Error('encrypted PEM (Proc-Type header) is not supported: decrypt it first with openssl pkey');
  let der;
  try {
    der = base64ToBytes(body);
  } catch {
    throw new Error(`malformed PEM: the ${m[1]} body is not valid base64`);
  }
  return { label: m[1], der };
}
