// consumer.ts: an app's use of the web-shell package, compiled with tsc --strict by
// tests/webshell-js/package.test.mjs against the packed module installed in a scratch project.
import {
  WebShellError, connect, connectTerminal, downloadFile, execCommand, generateKeyPair, listSessions, loadKeys,
  uploadFile, type ExecResult, type TerminalSession,
} from 'web-shell';
import { Terminal } from '@xterm/xterm';

export async function main(host: HTMLElement): Promise<void> {
  const pair = (await loadKeys()) ?? await generateKeyPair();
  const session: TerminalSession = connectTerminal(host, { url: 'shell.example.com', privateKey: pair.privateKey });
  session.addEventListener('exit', (e) => console.log('status', e.detail.exitCode.toFixed(0)));
  session.addEventListener('reconnecting', (e) => console.log(e.detail.attempt, e.detail.delayMs));
  session.addEventListener('resumed', (e) => console.log(e.detail.replayedBytes));
  session.addEventListener('close', (e) => console.log(e.detail.exitCode ?? 'no exit', e.detail.reason));
  session.addEventListener('error', (e) => console.log(e.detail.error.code));
  const cols: number = session.terminal.cols;
  console.log(cols, session.id?.length);

  // An app's own xterm.js Terminal.
  const own = new Terminal({ allowProposedApi: true });
  connectTerminal(null, { terminal: own, token: async () => 'jwt', resume: false, storage: null });

  const text: ExecResult<string> = await execCommand('uname -r', { url: 'shell.example.com', privateKey: pair.privateKey });
  console.log(text.stdout.trim(), text.stderr.length, text.exitCode, text.signal, text.timedOut);
  const bin = await execCommand(['head', '-c', '16', '/dev/urandom'], { privateKey: pair.privateKey, encoding: 'binary' });
  const first: number = bin.stdout[0];
  console.log(first);

  const conn = await connect({ privateKey: pair.privateKey });
  const ac = new AbortController();
  const r = await conn.exec('cat', { stdin: new Uint8Array([1, 2]), signal: ac.signal, timeoutMs: 1000, onStdout: (s) => console.log(s.length) });
  console.log(r.cancelled, conn.method);
  for (const s of await listSessions({ privateKey: pair.privateKey })) console.log(s.id, s.state);
  await uploadFile('/tmp/x', new Uint8Array(3), { connection: conn, onProgress: (p) => console.log(p.loaded, p.total) });
  const blob: Blob = await downloadFile('/tmp/x', { connection: conn });
  console.log(blob.size);
  conn.close();

  const err = new WebShellError('timeout', 'took too long');
  if (err.code === 'timeout') console.log(err.message);
}
