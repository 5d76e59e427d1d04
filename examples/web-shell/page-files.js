// page-files.js: the transfer list (a progress bar and a Cancel button per upload or download)
// and the path rules of the Files dialog. The bytes travel through the module's uploadFile() and
// downloadFile() over the exec channel: exactly as sent, whatever their size.
'use strict';

(function filesModule() {
  /**
   * A path as typed (absolute, relative to home, "~" or "~/...") to what the module's file
   * helpers take: absolute, or relative to the account's home directory.
   */
  function machinePath(path) {
    const p = String(path).trim();
    if (p === '~' || p === '~/') return '.';
    if (p.startsWith('~/')) return p.slice(2);
    return p;
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
    files: { machinePath, joinPath, baseName, formatBytes, Transfers },
  });
}());
