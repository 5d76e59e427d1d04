// jwt.js: compact JWS signing with a WebCrypto private key (RFC 7515/7519), and decoding for display.

import { base64urlDecode, base64urlEncode, utf8 } from './encoding.js';
import { WebShellError, jwsAlgorithm } from './keys.js';

// jwt-verify refuses a token whose exp - now exceeds --max-lifetime (default 3600 s): a
// longer token would only be refused later, so it is refused here, naming the limit.
export const MAX_LIFETIME_SEC = 3600;

// WebCrypto sign() parameters per JWS alg. ECDSA signatures come out as r||s, which is
// exactly the JWS form (RFC 7518 section 3.4), so no DER conversion is needed.
function signParams(alg) {
  switch (alg) {
    case 'EdDSA': return { name: 'Ed25519' };
    case 'ES256': return { name: 'ECDSA', hash: 'SHA-256' };
    case 'ES384': return { name: 'ECDSA', hash: 'SHA-384' };
    default: return { name: 'RSASSA-PKCS1-v1_5' };
  }
}

/** 128 random bits as base64url: the default jti. */
export function randomJti({ crypto = globalThis.crypto } = {}) {
  return base64urlEncode(crypto.getRandomValues(new Uint8Array(16)));
}

/**
 * A compact JWS "header.payload.signature" signed with privateKey. alg comes from the key
 * (EdDSA, ES256, ES384, RS256...); kid in the header when given (keyThumbprint() of the public
 * key: jwt-verify needs it when it holds more than 4 keys of one type). Claims: aud (when given), sub (when given), iat, exp =
 * iat + lifetimeSec, jti (random unless given). options.now (seconds) overrides the clock.
 */
export async function createJwt(privateKey, {
  lifetimeSec = 60, audience, subject, jti, now, kid, crypto = globalThis.crypto,
} = {}) {
  if (!privateKey || privateKey.type !== 'private') {
    throw new WebShellError('bad-argument', 'createJwt needs a private CryptoKey');
  }
  if (!Number.isInteger(lifetimeSec) || lifetimeSec < 1) {
    throw new WebShellError('bad-argument', `lifetimeSec must be a whole number of seconds, at least 1 (got ${lifetimeSec})`);
  }
  if (lifetimeSec > MAX_LIFETIME_SEC) {
    throw new WebShellError('bad-argument',
      `lifetimeSec ${lifetimeSec} is above ${MAX_LIFETIME_SEC} s, the longest lifetime jwt-verify accepts by default ` +
      '(--max-lifetime); a fresh token is signed for every connection, so a short one is enough');
  }
  const alg = jwsAlgorithm(privateKey);
  const iat = now === undefined ? Math.floor(Date.now() / 1000) : now;
  const claims = {};
  if (audience !== undefined && audience !== null && audience !== '') claims.aud = audience;
  if (subject !== undefined && subject !== null && subject !== '') claims.sub = subject;
  claims.iat = iat;
  claims.exp = iat + lifetimeSec;
  claims.jti = jti || randomJti({ crypto });
  const header = { alg, typ: 'JWT' };
  if (kid !== undefined && kid !== null && kid !== '') header.kid = String(kid);
  const input = base64urlEncode(JSON.stringify(header)) + '.' +
    base64urlEncode(JSON.stringify(claims));
  const sig = await crypto.subtle.sign(signParams(alg), privateKey, utf8(input));
  return input + '.' + base64urlEncode(new Uint8Array(sig));
}

/** { header, payload, signature } of a compact JWS, without verifying it (for display and tests). */
export function decodeJwt(token) {
  const parts = String(token).split('.');
  if (parts.length !== 3) throw new WebShellError('bad-argument', 'a compact JWS has three dot-separated parts');
  const text = (s) => new TextDecoder('utf-8', { fatal: true }).decode(base64urlDecode(s));
  return { header: JSON.parse(text(parts[0])), payload: JSON.parse(text(parts[1])), signature: base64urlDecode(parts[2]) };
}
