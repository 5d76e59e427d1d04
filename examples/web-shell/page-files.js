// page-files.js: uploads and downloads with a progress bar and a Cancel button each. The bytes
// travel over the module's exec channel (connect()/exec(): binary streams with flow control),
// so they arrive exactly as sent, whatever their size. Transfers is the UI list; upload() and
// download() do the work for one file.
'use strict';

(function filesModule() {
  /** A POSIX shell word for a path: '~' and '~/...' expand to the home directory, the rest is quoted. */
  function shellPath(path) {
    const quote = (s) => `'${s.replace(/'/g, "'\\''")}'`;
    if (path === '~' || path === '') return '"$HOME"';
    if (path.startsWith('~/')) return `"$HOME"/${quote(path.slice(2))}`;
    return quote(path);
  }

  /** dir joined with a file name (a name is never a path: browsers give base names only). */
  function joinPath(dir, name) {
    const base = String(name).replace(/[/\0]/g, '_');
    if (!dir) return `~/${base}`;
    return dir.endsWith('/') ? dir + base : `${dir}/${base}`;
  }

  function baseName(path) {
    const parts = String(path).replace(/\/+$/, '').split('/');
    return parts[parts.length - 1] || 'download';
  }

  function statusError(r, what) {
    if (r.exitCode === 0) return null;
    const err = new TextDecoder().decode(r.stderr || new Uint8Array()).trim();
    const how = r.signal ? `killed by signal ${r.signal}` : `status ${r.exitCode}`;
    return new Error(`${what} failed (${how})${err ? ': ' + err : ''}`);
  }

  /**
   * Uploads file (a File or Blob with .name) to path on the machine through conn (from the
   * module's connect()). It is written beside the target first and renamed into place once
   * complete, so a cancelled or failed upload leaves no partial file behind.
   * onProgress(bytesSent, total).
   */
  async function upload(conn, file, path, { signal, onProgress = () => {} } = {}) {
    const target = shellPath(path);
    const script = `f=${target}; t="$f.part.$$"; trap 'rm -f -- "$t"' EXIT; trap 'exit 143' HUP INT TERM; ` +
      'cat > "$t" && mv -f -- "$t" "$f" && trap - EXIT';
    let sent = 0;
    const total = file.size;
    onProgress(0, total);
    const counter = new TransformStream({
      transform(chunk, controller) {
        sent += chunk.byteLength;
        onProgress(sent, total);
        controller.enqueue(chunk);
      },
    });
    const r = await conn.exec(script, { stdin: file.stream().pipeThrough(counter), encoding: 'binary', signal, timeoutMs: 0 });
    const err = statusError(r, `upload of ${file.name}`);
    if (err) throw err;
    onProgress(total, total);
  }

  /**
   * Downloads path from the machine through conn: resolves to a Blob with exactly its bytes.
   * onProgress(bytesReceived, total) (total from stat before the transfer).
   */
  async function download(conn, path, { signal, onProgress = () => {} } = {}) {
    const target = shellPath(path);
    const st = await conn.exec(`stat -L -c %s -- ${target}`, { encoding: 'binary', signal });
    const stErr = statusError(st, `download of ${path}`);
    if (stErr) throw stErr;
    const total = Number(new TextDecoder().decode(st.stdout).trim());
    const parts = [];
    let received = 0;
    onProgress(0, total);
    const r = await conn.exec(`exec cat -- ${target}`, {
      encoding: 'binary',
      signal,
      timeoutMs: 0,
      maxOutputBytes: 0,
      onStdout(chunk) {
        parts.push(chunk.slice());
        received += chunk.byteLength;
        onProgress(received, total);
      },
    });
    const err = statusError(r, `download of ${path}`);
    if (err) throw err;
    // Without onStdout support the bytes come in the result instead.
    if (parts.length === 0 && r.stdout && r.stdout.byteLength) parts.push(r.stdout);
    return new Blob(parts, { type: 'application/octet-stream' });
  }

  function formatBytes(n) {
    if (!Number.isFinite(n)) return '?';
    if (n < 1024) return `${n} B`;
    const units = ['KiB', 'MiB', 'GiB', 'TiB'];
    let v = n;
    let i = -1;
    do { v /= 1024; i++; } while (v >= 1024 && i < units.length - 1);
    return `${v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
  }

  /** The list of transfers shown over the terminal, one row each with progress and Cancel. */
  class Transfers {
    constructor(container) {
      this.container = container;
      this.count = 0;
    }

    /** A new row: returns { signal, progress(done, total), done(text), fail(error) }. */
    add(label) {
      const controller = new AbortController();
      const row = document.createElement('div');
      row.className = 'transfer';
      const id = `transfer-${++this.count}`;
      const name = document.createElement('span');
      name.className = 'name';
      name.id = `${id}-name`;
      name.textContent = label;
      const bar = document.createElement('progress');
      bar.max = 1;
      bar.value = 0;
      bar.setAttribute('aria-labelledby', name.id);
      const info = document.createElement('span');
      info.className = 'info';
      const cancel = document.createElement('button');
      cancel.type = 'button';
      cancel.textContent = 'Cancel';
      cancel.setAttribute('aria-label', `Cancel ${label}`);
      cancel.addEventListener('click', () => {
        if (row.dataset.state === 'running') controller.abort(new DOMException('cancelled by the user', 'AbortError'));
        else this.remove(row);
      });
      row.append(name, bar, info, cancel);
      row.dataset.state = 'running';
      this.container.appendChild(row);
      this.container.hidden = false;
      const finish = (state, text) => {
        row.dataset.state = state;
        info.textContent = text;
        cancel.textContent = 'Dismiss';
        cancel.setAttribute('aria-label', `Dismiss ${label}`);
        if (state === 'done') setTimeout(() => this.remove(row), 8000);
      };
      return {
        row,
        signal: controller.signal,
        progress(done, total) {
          bar.max = Math.max(1, total);
          bar.value = Math.min(done, bar.max);
          info.textContent = `${formatBytes(done)} of ${formatBytes(total)}`;
        },
        done(text) { bar.value = bar.max; finish('done', text); },
        fail(error) {
          const aborted = controller.signal.aborted;
          finish(aborted ? 'cancelled' : 'failed', aborted ? 'Cancelled.' : error.message || String(error));
        },
      };
    }

    remove(row) {
      row.remove();
      if (!this.container.querySelector('.transfer')) this.container.hidden = true;
    }
  }

  globalThis.WebShellPage = Object.assign(globalThis.WebShellPage || {}, {
    files: { upload, download, shellPath, joinPath, baseName, formatBytes, Transfers },
  });
}());
