// page-clipboard.js: the terminal's clipboard keys and mouse: copy on select (really into the
// system clipboard), Ctrl+Shift+C / Ctrl+Shift+V, paste by right-click. OSC 52 is web-shell.js's
// (writes through @xterm/addon-clipboard, reads never answered).
'use strict';

(function clipboardModule() {
  // Copies through a hidden textarea and the old execCommand: for pages that are not a secure
  // context (plain http to another host), where navigator.clipboard does not exist.
  function legacyCopy(text) {
    const ta = document.createElement('textarea');
    ta.value = text;
    ta.setAttribute('readonly', '');
    ta.style.cssText = 'position:fixed;top:0;left:0;opacity:0;pointer-events:none';
    const focused = document.activeElement;
    document.body.appendChild(ta);
    ta.select();
    let ok = false;
    try {
      ok = document.execCommand('copy');
    } finally {
      ta.remove();
      if (focused && typeof focused.focus === 'function') focused.focus();
    }
    if (!ok) throw new Error('the browser refused to copy: select the text and press Ctrl+C');
  }

  /** Puts text on the system clipboard. */
  async function copyText(text) {
    if (globalThis.navigator && navigator.clipboard && globalThis.isSecureContext) {
      try {
        await navigator.clipboard.writeText(text);
        return;
      } catch (e) {
        // Not focused or not allowed: the old way may still work within a user gesture.
        try {
          legacyCopy(text);
          return;
        } catch {
          throw e;
        }
      }
    }
    legacyCopy(text);
  }

  /** The clipboard's text (the browser may ask the user for permission once). */
  async function readText() {
    if (!globalThis.navigator || !navigator.clipboard || !navigator.clipboard.readText) {
      throw new Error('this page cannot read the clipboard here: paste with Ctrl+Shift+V');
    }
    return navigator.clipboard.readText();
  }

  /** 'copy', 'paste' or null for a keydown: Ctrl+Shift+C and Ctrl+Shift+V. */
  function shortcut(ev) {
    if (ev.type !== 'keydown' || !ev.ctrlKey || !ev.shiftKey || ev.altKey || ev.metaKey) return null;
    const k = ev.key.toLowerCase();
    if (k === 'c' || ev.code === 'KeyC') return 'copy';
    if (k === 'v' || ev.code === 'KeyV') return 'paste';
    return null;
  }

  /**
   * Copy on select for terminal (an xterm.js Terminal) inside element: a finished mouse
   * selection is copied at once (within the gesture, so even the old way works), a selection
   * made otherwise (select all, double click) shortly after. onError(e) hears failures.
   */
  function copyOnSelect(terminal, element, onError) {
    let last = '';
    let timer = 0;
    const copyNow = () => {
      clearTimeout(timer);
      if (!terminal.hasSelection()) return;
      const text = terminal.getSelection();
      if (!text || text === last) return;
      last = text;
      copyText(text).catch((e) => { last = ''; onError(e); });
    };
    const onMouseUp = () => setTimeout(copyNow, 0);
    element.addEventListener('mouseup', onMouseUp);
    const sub = terminal.onSelectionChange(() => {
      if (!terminal.hasSelection()) { last = ''; return; }
      clearTimeout(timer);
      timer = setTimeout(copyNow, 150);
    });
    return {
      dispose() {
        clearTimeout(timer);
        element.removeEventListener('mouseup', onMouseUp);
        sub.dispose();
      },
    };
  }

  globalThis.WebShellPage = Object.assign(globalThis.WebShellPage || {}, {
    clipboard: { copyText, readText, shortcut, copyOnSelect },
  });
}());
