// files.js: uploadFile() and downloadFile(): exact bytes of any size to and from a path on the
// machine, over the exec channel (stdin/stdout of a small sh script), with progress and cancel.

import { WebShellError } from './keys.js';
import { connect } from './exec.js';

// Written to a temporary file beside the target and renamed into place, so a cancelled or
// failed upload never leaves a half-written file under the target's name. The mode is what
// the account's umask gives a new file.
const UPLOAD_SCRIPT = 'set -e; t=$(mktemp -- "$1.upload.XXXXXX"); trap \'rm -f -- "$t"\' EXIT; ' +
  "trap 'exit 143' TERM HUP INT; cat > \"$t\"; m=$(umask); chmod \"$(printf %o $((0666 & ~0$m)))\" -- \"$t\"; " +
  'mv -f -- "$t" "$1"; trap - EXIT';
// The size first (on stderr, before any byte of stdout), then the bytes.
const DOWNLOAD_SCRIPT = 'if [ -d "$1" ]; then echo "$1: is a directory" >&2; exit 1; fi; ' +
  'size=$(stat -L -c %s -- "$1") || exit 1; echo "size $size" >&2; exec cat -- "$1"';

async function withConnection(options, fn) {
  if (options.connection) return fn(options.connection);
  const conn = await connect({ ...options, method: 'channel' });
  try {
    return await fn(conn);
  } finally {
    conn.close();
  }
}

function checkPath(path) {
  if (typeof path !== 'string' || path === '' || path.includes('\0')) {
    throw new WebShellError('bad-argument', 'path must be a non-empty string');
  }
}

function failure(what, path, result) {
  if (result.cancelled) return new WebShellError('cancelled', `${what} of ${path} cancelled`);
  const why = (typeof result.stderr === 'string' ? result.stderr : new TextDecoder().decode(result.stderr))
    .split('\n').filter((l) => l && !l.startsWith('size ')).join('; ') || `exit status ${result.exitCode}`;
  return new WebShellError('file', `${what} of ${path} failed: ${why}`);
}

/**
 * Writes data (Uint8Array, ArrayBuffer, Blob, string or ReadableStream of bytes) to path on the
 * machine (relative paths are from the account's home). options: onProgress({loaded, total}),
 * signal (AbortSignal), connection (an open connect() connection; else one is opened with
 * the connect options). Resolves to { bytes } once the file is in place.
 */
export async function uploadFile(path, data, options = {}) {
  checkPath(path);
  let stream;
  let total = null;
  if (typeof data === 'string') data = new TextEncoder().encode(data);
  if (data instanceof ArrayBuffer) data = new Uint8Array(data);
  if (data instanceof Uint8Array) {
    total = data.length;
    const bytes = data;
    let off = 0;
    stream = new ReadableStream({
      pull(controller) {
        if (off >= bytes.length) {
          controller.close();
          return;
        }
        const n = Math.min(65536, bytes.length - off);
        controller.enqueue(bytes.subarray(off, off + n));
        off += n;
      },
    });
  } else if (typeof Blob !== 'undefined' && data instanceof Blob) {
    total = data.size;
    stream = data.stream();
  } else if (data && typeof data.getReader === 'function') {
    stream = data;
  } else {
    throw new WebShellError('bad-argument', 'data must be bytes, a string, a Blob or a ReadableStream');
  }
  let loaded = 0;
  const { onProgress } = options;
  const counted = stream.pipeThrough(new TransformStream({
    transform(chunk, controller) {
      const bytes = chunk instanceof Uint8Array ? chunk : new Uint8Array(chunk);
      loaded += bytes.length;
      controller.enqueue(bytes);
      if (onProgress) onProgress({ loaded, total });
    },
  }));
  return withConnection(options, async (conn) => {
    const r = await conn.exec(['sh', '-c', UPLOAD_SCRIPT, 'sh', path], { stdin: counted, signal: options.signal, encoding: 'utf8' });
    if (r.exitCode !== 0) throw failure('upload', path, r);
    return { bytes: loaded };
  });
}

/**
 * Reads path on the machine and resolves to its exact bytes as a Blob. options: onProgress
 * ({loaded, total}), signal, connection (as for uploadFile).
 */
export async function downloadFile(path, options = {}) {
  checkPath(path);
  const parts = [];
  let loaded = 0;
  let total = null;
  let errText = '';
  return withConnection(options, async (conn) => {
    const r = await conn.exec(['sh', '-c', DOWNLOAD_SCRIPT, 'sh', path], {
      encoding: 'binary',
      signal: options.signal,
      maxOutputBytes: Number.MAX_SAFE_INTEGER,
      onStderr: (bytes) => {
        errText += new TextDecoder().decode(bytes);
        const m = /^size (\d+)$/m.exec(errText);
        if (m) total = Number(m[1]);
      },
      onStdout: (bytes) => {
        parts.push(bytes);
        loaded += bytes.length;
        if (options.onProgress) options.onProgress({ loaded, total });
      },
    });
    if (r.exitCode !== 0) throw failure('download', path, { ...r, stderr: errText });
    return new Blob(parts, { type: 'application/octet-stream' });
  });
}
