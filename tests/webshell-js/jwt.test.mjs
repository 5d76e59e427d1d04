// tests/webshell-js/jwt.test.mjs: createJwt() of web-shell.js: claims and header, signatures checked
// by the openssl CLI for every key type, and tokens checked by the real build/jwt-verify
// (accepted as signed, refused once altered, refused for another audience).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { BUILD, MODULE, freePort, openssl, opensslOk, scratch, startServer } from './helpers.mjs';

const W = await import(MODULE);
const b64url = (s) => Buffer.from(s, 'base64url');

// ECDSA JWS signatures are r||s; openssl wants a DER SEQUENCE of two INTEGERs.
function rawToDer(raw) {
  const int = (b) => {
    let i = 0;
    while (i < b.length - 1 && b[i] === 0) i++;
    b = b.subarray(i);
    if (b[0] & 0x80) b = Buffer.concat([Buffer.of(0), b]);
    return Buffer.concat([Buffer.of(0x02, b.length), b]);
  };
  const half = raw.length / 2;
  const body = Buffer.concat([int(raw.subarray(0, half)), int(raw.subarray(half))]);
  return Buffer.concat([Buffer.of(0x30, body.length), body]);
}

// true when openssl accepts the token's signature with the public key PEM.
function opensslVerifies(token, publicPem) {
  const [h, p, s] = token.split('.');
  const input = scratch('input', `${h}.${p}`);
  const pub = scratch('pub.pem', publicPem);
  const alg = JSON.parse(b64url(h)).alg;
  if (alg === 'EdDSA') {
    const sig = scratch('sig', b64url(s));
    return opensslOk(['pkeyutl', '-verify', '-pubin', '-inkey', pub, '-rawin', '-in', input, '-sigfile', sig]);
  }
  const digest = { ES256: '-sha256', ES384: '-sha384', RS256: '-sha256' }[alg];
  const sig = scratch('sig', alg.startsWith('ES') ? rawToDer(b64url(s)) : b64url(s));
  return opensslOk(['dgst', digest, '-verify', pub, '-signature', sig, input]);
}

// Flips one character of the given part (0 header, 1 payload, 2 signature) to another valid one.
function alter(token, part) {
  const parts = token.split('.');
  const s = parts[part];
  const i = Math.floor(s.length / 2);
  parts[part] = s.slice(0, i) + (s[i] === 'A' ? 'B' : 'A') + s.slice(i + 1);
  return parts.join('.');
}

const pairs = {
  EdDSA: await W.generateKeyPair(),
  ES256: await W.generateKeyPair({ algorithm: 'ES256' }),
  ES384: await W.importPrivateKeyPem(openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-384']).toString()),
  RS256: await W.importPrivateKeyPem(openssl(['genpkey', '-algorithm', 'RSA']).toString()),
};

test('createJwt: header alg from the key, claims iat/exp/aud/sub/jti', async () => {
  const now = 1700000000;
  const token = await W.createJwt(pairs.EdDSA.privateKey, { audience: 'shell.example.com', subject: 'alice', lifetimeSec: 90, now });
  assert.match(token, /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
  const { header, payload, signature } = W.decodeJwt(token);
  assert.deepEqual(header, { alg: 'EdDSA', typ: 'JWT' });
  assert.equal(payload.aud, 'shell.example.com');
  assert.equal(payload.sub, 'alice');
  assert.equal(payload.iat, now);
  assert.equal(payload.exp, now + 90);
  assert.match(payload.jti, /^[A-Za-z0-9_-]{22}$/);
  assert.equal(signature.length, 64);
});

test('createJwt: default lifetime 60 s from the clock, random jti, explicit jti kept', async () => {
  const before = Math.floor(Date.now() / 1000);
  const a = W.decodeJwt(await W.createJwt(pairs.EdDSA.privateKey)).payload;
  const b = W.decodeJwt(await W.createJwt(pairs.EdDSA.privateKey)).payload;
  assert.ok(a.iat >= before && a.iat <= before + 2);
  assert.equal(a.exp - a.iat, 60);
  assert.notEqual(a.jti, b.jti);
  assert.equal(a.aud, undefined);
  assert.equal(a.sub, undefined);
  const c = W.decodeJwt(await W.createJwt(pairs.EdDSA.privateKey, { jti: 'fixed-1' })).payload;
  assert.equal(c.jti, 'fixed-1');
});

test('createJwt: bad arguments are refused', async () => {
  await assert.rejects(W.createJwt(pairs.EdDSA.publicKey), /needs a private CryptoKey/);
  await assert.rejects(W.createJwt(null), /needs a private CryptoKey/);
  for (const lifetimeSec of [0, -5, 1.5, '60']) {
    await assert.rejects(W.createJwt(pairs.EdDSA.privateKey, { lifetimeSec }), /lifetimeSec must be a whole number of seconds/);
  }
  // The verifier's default --max-lifetime: the error names the limit and where it comes from.
  await assert.rejects(W.createJwt(pairs.EdDSA.privateKey, { lifetimeSec: 3601 }),
    /lifetimeSec 3601 is above 3600 s, the longest lifetime jwt-verify accepts by default \(--max-lifetime\)/);
  assert.ok(await W.createJwt(pairs.EdDSA.privateKey, { lifetimeSec: 3600 }), '3600 s is accepted');
});

for (const [alg, pair] of Object.entries(pairs)) {
  test(`createJwt ${alg}: openssl verifies the signature, and refuses it once altered`, async () => {
    const token = await W.createJwt(pair.privateKey, { audience: '127.0.0.1', subject: 'alice' });
    assert.equal(W.decodeJwt(token).header.alg, alg);
    const pem = await W.exportPublicKeyPem(pair.publicKey);
    assert.ok(opensslVerifies(token, pem), 'openssl accepts the signature');
    for (const part of [1, 2]) assert.ok(!opensslVerifies(alter(token, part), pem), `altered part ${part} refused`);
    const other = await W.exportPublicKeyPem((await W.generateKeyPair({ algorithm: alg === 'EdDSA' ? 'Ed25519' : 'ES256' })).publicKey);
    if (alg === 'EdDSA' || alg === 'ES256') assert.ok(!opensslVerifies(token, other), 'another key refuses it');
  });
}

// The real verifier, asked the way Caddy's forward_auth asks it.
const jwtVerify = join(BUILD, 'jwt-verify');
const servers = [];
after(async () => { await Promise.all(servers.map((s) => s.stop())); });

async function ask(port, token) {
  const res = await fetch(`http://127.0.0.1:${port}/verify?token=${token}`, {
    headers: { 'X-Forwarded-Uri': `/ws?token=${token}`, 'X-Forwarded-Method': 'GET' },
  });
  await res.arrayBuffer();
  return { status: res.status, user: res.headers.get('x-webshell-user') };
}

test('jwt-verify accepts tokens createJwt signs (every alg) and refuses altered ones', { skip: !existsSync(jwtVerify) && 'build/jwt-verify not built yet' }, async () => {
  const args = [];
  // Each key bound to the identity its tokens name (jwt-verify refuses a sub the key is not bound to).
  for (const pair of Object.values(pairs)) args.push('--key', `${scratch('pub.pem', await W.exportPublicKeyPem(pair.publicKey))}=alice`);
  const port = await freePort();
  const server = await startServer(jwtVerify, [...args, '--audience', '127.0.0.1', '--listen', `127.0.0.1:${port}`], port);
  servers.push(server);
  for (const [alg, pair] of Object.entries(pairs)) {
    const token = await W.createJwt(pair.privateKey, { audience: '127.0.0.1', subject: 'alice' });
    assert.deepEqual(await ask(port, token), { status: 200, user: 'alice' }, `${alg} accepted`);
    for (const part of [0, 1, 2]) assert.equal((await ask(port, alter(token, part))).status, 401, `${alg} altered part ${part}`);
    const wrongAud = await W.createJwt(pair.privateKey, { audience: 'other.example', subject: 'alice' });
    assert.equal((await ask(port, wrongAud)).status, 401, `${alg} wrong audience`);
    const expired = await W.createJwt(pair.privateKey, { audience: '127.0.0.1', subject: 'alice', now: Math.floor(Date.now() / 1000) - 3600 });
    assert.equal((await ask(port, expired)).status, 401, `${alg} expired`);
  }
  assert.ok(!server.log().includes((await W.createJwt(pairs.EdDSA.privateKey)).split('.')[0] + '.'), 'no token in the log');
});

test('keyThumbprint: RFC 7638 thumbprints as jwt-verify --check prints them; createJwt puts kid in the header', { skip: !existsSync(jwtVerify) && 'build/jwt-verify not built yet' }, async () => {
  for (const [alg, pair] of Object.entries(pairs)) {
    const kid = await W.keyThumbprint(pair.publicKey);
    assert.match(kid, /^[A-Za-z0-9_-]{43}$/, alg);
    const file = scratch('pub.pem', await W.exportPublicKeyPem(pair.publicKey));
    const check = spawnSync(jwtVerify, ['--key', file, '--check'], { encoding: 'utf8' });
    assert.ok((check.stdout + check.stderr).includes(kid), `${alg}: jwt-verify --check names ${kid}:\n${check.stdout}${check.stderr}`);
    const token = await W.createJwt(pair.privateKey, { kid });
    assert.equal(W.decodeJwt(token).header.kid, kid);
  }
  assert.equal(W.decodeJwt(await W.createJwt(pairs.EdDSA.privateKey)).header.kid, undefined, 'no kid unless given');
});
