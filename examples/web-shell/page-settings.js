// page-settings.js: the page's per-browser settings (font size, theme, key bar) in localStorage,
// and the terminal themes. Settings only: keys, tokens and session ids never go here.
'use strict';

(function settingsModule() {
  const STORAGE_KEY = 'web-shell.settings';
  const DEFAULTS = Object.freeze({ fontSize: 14, theme: 'system', keybar: 'auto' });
  const FONT_MIN = 8;
  const FONT_MAX = 32;

  // Terminal palettes. The light one darkens the ANSI colours that xterm.js's defaults
  // leave unreadable on white (yellow, cyan, white).
  const THEMES = Object.freeze({
    dark: {
      background: '#16181d', foreground: '#d8dee9', cursor: '#e5e9f0', cursorAccent: '#16181d',
      selectionBackground: '#3b4a63',
    },
    light: {
      background: '#fbfbfa', foreground: '#1d2129', cursor: '#1d2129', cursorAccent: '#fbfbfa',
      selectionBackground: '#b6d3f5',
      black: '#1d2129', red: '#b3261e', green: '#1e6b2e', yellow: '#7a5200', blue: '#1a56b8',
      magenta: '#7b3fa0', cyan: '#106b73', white: '#5f6670',
      brightBlack: '#4a5160', brightRed: '#d0352b', brightGreen: '#2b8a3e', brightYellow: '#8f6300',
      brightBlue: '#2f6fdb', brightMagenta: '#9350bd', brightCyan: '#147f88', brightWhite: '#3a3f47',
    },
  });

  function clampFont(n) {
    const v = Math.round(Number(n));
    return Number.isFinite(v) ? Math.min(FONT_MAX, Math.max(FONT_MIN, v)) : DEFAULTS.fontSize;
  }

  // Only known keys with valid values survive: whatever else is stored is dropped.
  function normalize(raw) {
    const s = { ...DEFAULTS };
    if (raw && typeof raw === 'object') {
      if (raw.fontSize !== undefined) s.fontSize = clampFont(raw.fontSize);
      if (['system', 'dark', 'light'].includes(raw.theme)) s.theme = raw.theme;
      if (['auto', 'on', 'off'].includes(raw.keybar)) s.keybar = raw.keybar;
    }
    return s;
  }

  function load() {
    try {
      return normalize(JSON.parse(globalThis.localStorage.getItem(STORAGE_KEY) || 'null'));
    } catch {
      return { ...DEFAULTS }; // storage disabled, or a value that is not JSON
    }
  }

  function save(settings) {
    const s = normalize(settings);
    try {
      globalThis.localStorage.setItem(STORAGE_KEY, JSON.stringify(s));
    } catch {
      // Storage disabled (private mode, file:// policies): settings last for this page only.
    }
    return s;
  }

  /** 'dark' or 'light' for a theme setting ('system' follows the browser's preference). */
  function resolveTheme(theme) {
    if (theme === 'dark' || theme === 'light') return theme;
    const mq = globalThis.matchMedia && globalThis.matchMedia('(prefers-color-scheme: light)');
    return mq && mq.matches ? 'light' : 'dark';
  }

  /** xterm.js options for settings. */
  function terminalOptions(settings) {
    return {
      fontSize: settings.fontSize,
      fontFamily: 'ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, "Liberation Mono", monospace',
      theme: { ...THEMES[resolveTheme(settings.theme)] },
    };
  }

  globalThis.WebShellPage = Object.assign(globalThis.WebShellPage || {}, {
    settings: { STORAGE_KEY, DEFAULTS, THEMES, load, save, normalize, resolveTheme, terminalOptions },
  });
}());
