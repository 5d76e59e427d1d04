// tests/webshell-js/protocol.test.mjs: the pure client parts of the wire: ttyd message encoding and
// decoding (ttyd-protocol.md section 3), close reasons, URL resolution and token audience, and
// the handshake diagnosis against real HTTP servers on loopback.
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { test } from 'node:test';
import { MODULE, freePort } from './helpers.mjs';

const mod = (name) => import(new URL(name, `file://${MODULE}`).href);
const ttyd = await mod('ttyd.js');
const socket = await mod('socket.js');
const text = (b) => new TextDecoder().decode(b);

test('ttyd messages: ASCII type bytes, JSON init and resize, raw input', () => {
  assert.equal(text(ttyd.encodeInit(120, 40)), '{"AuthToken":"","columns":120,"rows":40}');
  assert.equal(text(ttyd.encodeResize(80, 24)), '1{"columns":80,"rows":24}');
  assert.equal(text(ttyd.encodeInput('ls -l\r')), '0ls -l\r');
  assert.deepEqual([...ttyd.encodeInput('é')], [0x30, 0xc3, 0xa9]);
  assert.deepEqual([...ttyd.encodeInput(Uint8Array.of(0xff, 0))], [0x30, 0xff, 0]);
  assert.deepEqual([...ttyd.PAUSE], [0x32]);
  assert.deepEqual([...ttyd.RESUME], [0x33]);
  assert.equal(ttyd.SUBPROTOCOL, 'tty');
  const out = ttyd.decodeServerMessage(new TextEncoder().encode('0hello').buffer);
  assert.equal(out.type, ttyd.SERVER.OUTPUT);
  assert.equal(text(out.payload), 'hello');
  assert.equal(ttyd.decodeServerMessage(new TextEncoder().encode('1bash (vm)')).type, ttyd.SERVER.TITLE);
  assert.equal(ttyd.decodeServerMessage(new ArrayBuffer(0)).type, -1);
});

test('close reasons: exit N, signal N (128+N), anything else null', () => {
  assert.equal(ttyd.exitStatusFromClose('exit 0'), 0);
  assert.equal(ttyd.exitStatusFromClose('exit 42'), 42);
  assert.equal(ttyd.exitStatusFromClose('signal 9'), 137);
  assert.equal(ttyd.exitStatusFromClose('client closed'), null);
  assert.equal(ttyd.exitStatusFromClose(''), null);
  assert.equal(ttyd.exitStatusFromClose('exit 1234'), null);
  assert.equal(ttyd.describeEnd('signal 15'), 'was killed by signal 15');
  assert.equal(ttyd.describeEnd('exit 3'), 'exited with status 3');
  assert.equal(ttyd.describeEnd('idle timeout'), null);
});

test('resolveUrl: page host by default, schemes, ports, /ws path, token dropped', () => {
  const r = socket.resolveUrl;
  assert.equal(r('', { base: 'https://shell.example.com/' }), 'wss://shell.example.com/ws');
  assert.equal(r('', { base: 'http://127.0.0.1:8080/index.html' }), 'ws://127.0.0.1:8080/ws');
  assert.equal(r('shell.example.com', { base: 'file:///home/me/index.html' }), 'wss://shell.example.com/ws');
  assert.equal(r('127.0.0.1:8080', { base: 'http://127.0.0.1:8080/' }), 'ws://127.0.0.1:8080/ws');
  assert.equal(r('https://h.example/term/ws'), 'wss://h.example/term/ws');
  assert.equal(r('http://h.example:81'), 'ws://h.example:81/ws');
  assert.equal(r('ws://h.example/ws?token=old&x=1'), 'ws://h.example/ws?x=1');
  assert.equal(r('[::1]:9000', { base: 'http://[::1]:9000/' }), 'ws://[::1]:9000/ws');
  assert.throws(() => r('', { base: 'file:///x' }), /no URL given/);
  assert.throws(() => r('ftp://h'), /unsupported scheme ftp:/);
  assert.throws(() => r('http://'), /not a valid host or URL/);
});

test('audienceFor: the hostname without port or brackets', () => {
  assert.equal(socket.audienceFor('wss://shell.example.com:8443/ws'), 'shell.example.com');
  assert.equal(socket.audienceFor('ws://127.0.0.1:8080/ws'), '127.0.0.1');
  assert.equal(socket.audienceFor('ws://[::1]:8080/ws'), '::1');
});

test('withToken: a fresh token() per call, or one signed for the URL host; never a missing token', async () => {
  let n = 0;
  const u = await socket.withToken('ws://h.example/ws', { token: () => `t${++n}` });
  assert.equal(u, 'ws://h.example/ws?token=t1');
  assert.equal(await socket.withToken('ws://h.example/ws', { token: async () => `t${++n}` }), 'ws://h.example/ws?token=t2');
  const { privateKey } = await crypto.subtle.generateKey({ name: 'Ed25519' }, false, ['sign', 'verify']);
  const signed = new URL(await socket.withToken('wss://shell.example.com:8443/ws', { privateKey, subject: 'bob' }));
  const claims = JSON.parse(Buffer.from(signed.searchParams.get('token').split('.')[1], 'base64url'));
  assert.equal(claims.aud, 'shell.example.com');
  assert.equal(claims.sub, 'bob');
  await assert.rejects(socket.withToken('ws://h/ws', {}), /pass privateKey or a token\(\) function/);
  await assert.rejects(socket.withToken('ws://h/ws', { token: () => '' }), /token\(\) gave no token/);
});

test('authorize: the token as the subprotocol webshell.bearer.<JWT> by default, ?token= only when asked', async () => {
  let n = 0;
  const token = () => `aaa.bbb.c${++n}`;
  const a = await socket.authorize('ws://h.example/ws', ['webshell-exec.v1', 'tty'], { token });
  assert.equal(a.url, 'ws://h.example/ws', 'nothing in the URL');
  assert.deepEqual(a.protocols, ['webshell-exec.v1', 'tty', 'webshell.bearer.aaa.bbb.c1']);
  const q = await socket.authorize('ws://h.example/ws', ['tty'], { token, tokenIn: 'query' });
  assert.deepEqual(q, { url: 'ws://h.example/ws?token=aaa.bbb.c2', protocols: ['tty'] });
  await assert.rejects(socket.authorize('ws://h/ws', ['tty'], { token, tokenIn: 'cookie' }), /tokenIn must be 'protocol' or 'query'/);
  await assert.rejects(socket.authorize('ws://h/ws', ['tty'], { token: () => 'a b', tokenIn: 'protocol' }), /not a compact JWS/);
});

// A real HTTP server answering every request with status and body; records what it was sent.
async function server(status, body) {
  const port = await freePort();
  const seen = [];
  const s = http.createServer((req, res) => {
    seen.push(`${req.url} ${JSON.stringify(req.headers)}`);
    res.writeHead(status, { 'Content-Type': 'text/plain' }).end(body);
  });
  await new Promise((r) => s.listen(port, '127.0.0.1', r));
  return { port, seen, close: () => new Promise((r) => s.close(r)) };
}

test('diagnoseHandshake: probes without the token; 401, origin 403, 502, other status, nothing listening, a hung server', async () => {
  const cases = [
    [401, 'no token\n', 'unauthorized', /handshake was refused by ws:\/\/127\.0\.0\.1:\d+\/ws: the token was rejected or this page's origin https:\/\/app\.example is not allowed \(ptyd --check-origin\) \(the verifier answers a request without a token with HTTP 401: no token; its log says why/],
    [403, 'origin not allowed', 'origin', /^origin not allowed: ws:\/\/127\.0\.0\.1:\d+\/ws does not accept connections from https:\/\/app\.example/],
    [403, 'forbidden', 'unauthorized', /token was rejected or this page's origin https:\/\/app\.example is not allowed/],
    [502, '', 'gateway', /answered HTTP 502: the verifier or terminal server behind it is down or not answering/],
    [504, '', 'gateway', /answered HTTP 504 after 5 s/],
    [404, 'nope', 'handshake', /failed \(a plain request gets HTTP 404: nope\)/],
  ];
  for (const [status, body, code, re] of cases) {
    const s = await server(status, body);
    try {
      const e = await socket.diagnoseHandshake(`ws://127.0.0.1:${s.port}/ws?token=SECRET`, { page: 'https://app.example/x', elapsedMs: 5200 - (status === 504 ? 0 : 5000) });
      assert.equal(e.code, code, `${status}`);
      assert.match(e.message, re);
      assert.ok(!e.message.includes('SECRET'));
      assert.ok(s.seen.length >= 1 && s.seen.every((r) => !r.includes('SECRET')), 'the probe never carries the token');
    } finally {
      await s.close();
    }
  }
  const port = await freePort();
  const e = await socket.diagnoseHandshake(`ws://127.0.0.1:${port}/ws?token=SECRET`);
  assert.equal(e.code, 'refused');
  assert.equal(e.message, `connection refused: nothing answers at ws://127.0.0.1:${port}/ws`);
  const tls = await socket.diagnoseHandshake(`wss://127.0.0.1:${port}/ws`);
  assert.equal(tls.code, 'refused');
  assert.match(tls.message, /nothing answers at wss:\/\/127\.0\.0\.1:\d+\/ws \(or its TLS certificate is not trusted/);
  // Accepts connections and never answers (a hung verifier behind a gateway without timeouts).
  const hung = net.createServer(() => {});
  await new Promise((r) => hung.listen(0, '127.0.0.1', r));
  try {
    const h = await socket.diagnoseHandshake(`ws://127.0.0.1:${hung.address().port}/ws`, { probeTimeoutMs: 300 });
    assert.equal(h.code, 'timeout');
    assert.match(h.message, /accepts connections but did not answer within 0 s \(a hung verifier or terminal server/);
  } finally {
    hung.close();
  }
});
