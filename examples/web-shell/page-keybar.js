// page-keybar.js: the on-screen key bar for phones and tablets: Esc, Tab, arrows and a few
// symbols as one tap each, and sticky Ctrl and Alt that apply to the next key, whether it comes
// from the bar, a hardware keyboard or the phone's own keyboard. encodeKey() is pure.
'use strict';

(function keybarModule() {
  const KEYS = [
    { label: 'Esc', name: 'Escape' },
    { label: 'Ctrl', mod: 'ctrl', title: 'Control: applies to the next key' },
    { label: 'Alt', mod: 'alt', title: 'Alt: applies to the next key' },
    { label: 'Tab', name: 'Tab' },
    { label: '\u2190', name: 'ArrowLeft', aria: 'Left arrow' },
    { label: '\u2191', name: 'ArrowUp', aria: 'Up arrow' },
    { label: '\u2193', name: 'ArrowDown', aria: 'Down arrow' },
    { label: '\u2192', name: 'ArrowRight', aria: 'Right arrow' },
    { label: '|', name: '|', aria: 'Vertical bar' },
    { label: '~', name: '~', aria: 'Tilde' },
  ];
  const ARROWS = { ArrowUp: 'A', ArrowDown: 'B', ArrowRight: 'C', ArrowLeft: 'D' };
  const CTRL_SYMBOLS = { '@': 0, ' ': 0, '[': 27, '\\': 28, ']': 29, '^': 30, _: 31, '/': 31, '?': 127 };

  /** The byte Ctrl+ch sends in a terminal (ch itself when Ctrl does nothing to it). */
  function ctrlChar(ch) {
    const code = ch.charCodeAt(0);
    if (ch.length === 1 && code >= 0x61 && code <= 0x7a) return String.fromCharCode(code - 0x60);
    if (ch.length === 1 && code >= 0x41 && code <= 0x5a) return String.fromCharCode(code - 0x40);
    if (Object.prototype.hasOwnProperty.call(CTRL_SYMBOLS, ch)) return String.fromCharCode(CTRL_SYMBOLS[ch]);
    return ch;
  }

  /**
   * What a terminal sends for a key: name is 'Escape', 'Tab', 'ArrowUp'..., or a character.
   * mods: { ctrl, alt }; appCursor: the terminal's application cursor keys mode (DECCKM).
   */
  function encodeKey(name, mods = {}, appCursor = false) {
    const { ctrl = false, alt = false } = mods;
    if (ARROWS[name]) {
      const letter = ARROWS[name];
      if (ctrl || alt) return `\x1b[1;${1 + (alt ? 2 : 0) + (ctrl ? 4 : 0)}${letter}`;
      return appCursor ? `\x1bO${letter}` : `\x1b[${letter}`;
    }
    let s;
    if (name === 'Escape') s = '\x1b';
    else if (name === 'Tab') s = '\t';
    else s = ctrl ? ctrlChar(name) : name;
    return alt ? '\x1b' + s : s;
  }

  /**
   * The bar in container. hooks: send(data) delivers bytes as typed input; appCursor() tells
   * the current DECCKM; refocus() gives the focus back to the terminal after a tap.
   */
  class KeyBar {
    constructor(container, hooks) {
      this.container = container;
      this.hooks = hooks;
      this.mods = { ctrl: false, alt: false };
      this.buttons = new Map();
      for (const key of KEYS) {
        const b = document.createElement('button');
        b.type = 'button';
        b.textContent = key.label;
        // Words are their own names; symbols get one (a visible word must stay in the name).
        if (key.aria) b.setAttribute('aria-label', key.aria);
        if (key.title) b.title = key.title;
        b.dataset.key = key.mod || key.name;
        if (key.mod) b.setAttribute('aria-pressed', 'false');
        // Keep the focus (and the phone's keyboard) on the terminal while tapping.
        b.addEventListener('pointerdown', (e) => e.preventDefault());
        b.addEventListener('click', () => (key.mod ? this.toggle(key.mod) : this.press(key.name)));
        container.appendChild(b);
        this.buttons.set(b.dataset.key, b);
      }
    }

    get armed() {
      return this.mods.ctrl || this.mods.alt;
    }

    toggle(mod) {
      this.mods[mod] = !this.mods[mod];
      this.buttons.get(mod).setAttribute('aria-pressed', String(this.mods[mod]));
      this.hooks.refocus();
    }

    disarm() {
      for (const mod of ['ctrl', 'alt']) {
        this.mods[mod] = false;
        this.buttons.get(mod).setAttribute('aria-pressed', 'false');
      }
    }

    press(name) {
      const data = encodeKey(name, this.mods, this.hooks.appCursor());
      this.disarm();
      this.hooks.send(data);
      this.hooks.refocus();
    }

    /**
     * Applies armed modifiers to text typed elsewhere (one key's worth): returns the bytes to
     * send instead, or null when no modifier is armed.
     */
    apply(text) {
      if (!this.armed || !text) return null;
      const first = Array.from(text)[0];
      const data = encodeKey(first, this.mods, this.hooks.appCursor()) + text.slice(first.length);
      this.disarm();
      return data;
    }
  }

  globalThis.WebShellPage = Object.assign(globalThis.WebShellPage || {}, {
    keybar: { KEYS, KeyBar, encodeKey, ctrlChar },
  });
}());
