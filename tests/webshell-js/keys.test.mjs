// tests/webshell-js/keys.test.mjs: key generation, PEM export and PKCS#8 import of web-shell.js,
// cross-checked with the openssl CLI (what OpenSSL writes and reads is the reference).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MODULE, openssl } from './helpers.mjs';

const W = await import(MODULE);

// Private keys as `openssl genpkey` writes them, per algorithm.
const GENPKEY = {
  Ed25519: ['-algorithm', 'ed25519'],
  'P-256': ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256'],
  'P-384': ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-384'],
  RSA: ['-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048'],
};
const keys = {};
for (const [name, args] of Object.entries(GENPKEY)) keys[name] = openssl(['genpkey', ...args]).toString();

test('generateKeyPair gives an Ed25519 pair with a non-extractable private key', async () => {
  const pair = await W.generateKeyPair();
  assert.equal(pair.algorithm, 'EdDSA');
  assert.equal(pair.notice, null);
  assert.equal(pair.privateKey.algorithm.name, 'Ed25519');
  assert.equal(pair.privateKey.extractable, false);
  await assert.rejects(crypto.subtle.exportKey('pkcs8', pair.privateKey));
  const extractable = await W.generateKeyPair({ extractable: true });
  assert.equal(extractable.privateKey.extractable, true);
});

test('generateKeyPair ES256 and unknown algorithms', async () => {
  const pair = await W.generateKeyPair({ algorithm: 'ES256' });
  assert.equal(pair.algorithm, 'ES256');
  assert.equal(pair.privateKey.algorithm.namedCurve, 'P-256');
  await assert.rejects(W.generateKeyPair({ algorithm: 'DSA' }), /unknown algorithm "DSA"/);
});

test('generateKeyPair falls back to P-256 with a notice where Ed25519 is missing', async () => {
  // A WebCrypto whose generateKey refuses Ed25519 the way older browsers do.
  const subtle = {
    generateKey: (alg, ...rest) => (alg.name === 'Ed25519'
      ? Promise.reject(Object.assign(new Error('Unrecognized name'), { name: 'NotSupportedError' }))
      : crypto.subtle.generateKey(alg, ...rest)),
  };
  const pair = await W.generateKeyPair({ crypto: { subtle } });
  assert.equal(pair.algorithm, 'ES256');
  assert.match(pair.notice, /no Ed25519/);
});

test('exportPublicKeyPem of a generated key is what openssl pkey -pubout writes', async () => {
  for (const algorithm of ['Ed25519', 'ES256']) {
    const pair = await W.generateKeyPair({ algorithm });
    const pem = await W.exportPublicKeyPem(pair.publicKey);
    const again = openssl(['pkey', '-pubin', '-pubout'], pem).toString();
    assert.equal(pem, again, algorithm);
  }
  await assert.rejects(W.exportPublicKeyPem(null), /needs the public CryptoKey/);
});

for (const name of Object.keys(GENPKEY)) {
  test(`importPrivateKeyPem reads an openssl genpkey ${name} key; public PEM matches openssl`, async () => {
    const pair = await W.importPrivateKeyPem(keys[name]);
    assert.equal(pair.privateKey.extractable, false);
    assert.equal(pair.privateKey.type, 'private');
    const want = openssl(['pkey', '-pubout'], keys[name]).toString();
    assert.equal(await W.exportPublicKeyPem(pair.publicKey), want);
    assert.equal(pair.algorithm, { Ed25519: 'EdDSA', 'P-256': 'ES256', 'P-384': 'ES384', RSA: 'RS256' }[name]);
  });
}

test('importPrivateKeyPem: extractable only when asked for', async () => {
  const pair = await W.importPrivateKeyPem(keys.Ed25519, { extractable: true });
  const der = new Uint8Array(await crypto.subtle.exportKey('pkcs8', pair.privateKey));
  const want = openssl(['pkey', '-outform', 'DER'], keys.Ed25519);
  assert.deepEqual(Buffer.from(der), want);
});

test('importPrivateKeyPem accepts CRLF line ends and surrounding text', async () => {
  const pem = 'my key:\r\n' + keys.Ed25519.replace(/\n/g, '\r\n') + 'trailer\r\n';
  const pair = await W.importPrivateKeyPem(pem);
  assert.equal(pair.algorithm, 'EdDSA');
});

test('importPrivateKeyPem refuses other formats with specific messages', async () => {
  const rsa1 = openssl(['pkey', '-traditional'], keys.RSA).toString();
  assert.match(rsa1, /BEGIN RSA PRIVATE KEY/);
  await assert.rejects(W.importPrivateKeyPem(rsa1), /traditional format: convert it with "openssl pkcs8 -topk8/);
  const ec1 = openssl(['ec'], keys['P-256']).toString();
  await assert.rejects(W.importPrivateKeyPem(ec1), /"EC PRIVATE KEY" is the traditional format/);
  const enc = openssl(['pkcs8', '-topk8', '-v2', 'aes-256-cbc', '-passout', 'pass:secret'], keys.Ed25519).toString();
  await assert.rejects(W.importPrivateKeyPem(enc), /encrypted private key/);
  const x25519 = openssl(['genpkey', '-algorithm', 'x25519']).toString();
  await assert.rejects(W.importPrivateKeyPem(x25519), /X25519 is a key-agreement key/);
  const ed448 = openssl(['genpkey', '-algorithm', 'ed448']).toString();
  await assert.rejects(W.importPrivateKeyPem(ed448), /Ed448 keys are not supported/);
  const p521 = openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-521']).toString();
  await assert.rejects(W.importPrivateKeyPem(p521), /unsupported EC curve/);
  const pub = openssl(['pkey', '-pubout'], keys.Ed25519).toString();
  await assert.rejects(W.importPrivateKeyPem(pub), /expected a "PRIVATE KEY" PEM block, got "PUBLIC KEY"/);
  await assert.rejects(W.importPrivateKeyPem('hello'), /not a PEM block/);
  await assert.rejects(W.importPrivateKeyPem('-----BEGIN PRIVATE KEY-----\n@@@@\n-----END PRIVATE KEY-----\n'),
    /not valid base64/);
  await assert.rejects(W.importPrivateKeyPem('-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PUBLIC KEY-----\n'),
    /does not match/);
  await assert.rejects(W.importPrivateKeyPem('-----BEGIN PRIVATE KEY-----\nMAA=\n-----END PRIVATE KEY-----\n'),
    /not a PKCS#8 private key/);
  // A truncated key: DER lengths that run past the end.
  const der = openssl(['pkey', '-outform', 'DER'], keys.Ed25519);
  const cut = `-----BEGIN PRIVATE KEY-----\n${der.subarray(0, 20).toString('base64')}\n-----END PRIVATE KEY-----\n`;
  await assert.rejects(W.importPrivateKeyPem(cut), /not a PKCS#8 private key \(truncated DER\)/);
});
