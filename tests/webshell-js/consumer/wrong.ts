// wrong.ts: mistakes the types must catch (tsc --strict has to fail on every marked line).
import { connectTerminal, execCommand, WebShellError } from 'web-shell';

export async function wrong(host: HTMLElement): Promise<void> {
  const session = connectTerminal(host, {});
  session.addEventListener('exit', (e) => console.log(e.detail.exitcode)); // ERROR 1: no such member
  const r = await execCommand('true', { encoding: 'binary' });
  const s: string = r.stdout; // ERROR 2: Uint8Array is not a string
  new WebShellError('took too long'); // ERROR 3: the code comes first
  console.log(s);
}
