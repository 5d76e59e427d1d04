// app.js: the page's glue for index.html: tabs of terminals, the toolbar and its menu, the key,
// files, run, sessions and settings dialogs. Classic script on top of globalThis.WebShell (the
// module's classic build, so the page works from file://) and globalThis.WebShellPage (page-*.js).
'use strict';

(function main() {
  const W = globalThis.WebShell;
  const P = globalThis.WebShellPage;
  const $ = (id) => document.getElementById(id);
  const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]', '::1']);
  const LIVE = new Set(['connecting', 'open', 'reconnecting']);
  const TABS_KEY = 'web-shell.page.tabs';

  const state = {
    pair: null,
    tabs: [],
    active: null,
    settings: P.settings.load(),
    // The active tab's terminal session (tests and the console use it).
    get session() {
      return this.active ? this.active.session : null;
    },
  };
  globalThis.webShellApp = state;

  // ---- small helpers -------------------------------------------------------------------

  function setText(el, text, isError = false) {
    el.textContent = text;
    el.classList.toggle('error', isError);
  }

  // Runs an async handler; a failure is shown by show(message).
  function guarded(show, fn) {
    return async (...args) => {
      try {
        await fn(...args);
      } catch (e) {
        show(e && e.message ? e.message : String(e));
      }
    };
  }

  const showConnectError = (message) => {
    setText($('welcome-error'), message, true);
    if (state.active) setStatus(state.active, 'error', message);
  };
  const showKeyError = (message) => setText($('key-status'), message, true);

  function describe(pair) {
    return `${pair.algorithm} key pair${pair.privateKey.extractable ? '' : ' (private key non-extractable)'}`;
  }

  function openLink(uri) {
    let url;
    try {
      url = new URL(uri);
    } catch {
      return;
    }
    // Links from a terminal are text anyone's output can print: only web pages open.
    if (url.protocol !== 'http:' && url.protocol !== 'https:') return;
    const w = window.open(url.href, '_blank', 'noopener,noreferrer');
    if (w) w.opener = null;
  }

  // ---- keys ---------------------------------------------------------------------------

  async function usePair(pair, how) {
    state.pair = pair;
    $('public-key').value = await W.exportPublicKeyPem(pair.publicKey);
    $('key-save').disabled = false;
    $('key-copy').disabled = false;
    setText($('key-status'), `${how}: ${describe(pair)}.${pair.notice ? ' ' + pair.notice : ''}`);
    setText($('key-summary'), `${how}: ${describe(pair)}.`);
    // Whatever complained about a missing or bad key is stale now.
    setText($('welcome-error'), '');
    for (const tab of state.tabs) if (tab.status.state === 'error') setStatus(tab, tab.session ? 'closed' : 'idle');
  }

  function wireKeys() {
    $('key-generate').addEventListener('click', guarded(showKeyError, async () => {
      await usePair(await W.generateKeyPair(), 'Generated');
    }));
    $('key-save').addEventListener('click', guarded(showKeyError, async () => {
      await W.saveKeys(state.pair);
      setText($('key-status'), `Saved in this browser: ${describe(state.pair)}.`);
    }));
    $('key-load').addEventListener('click', guarded(showKeyError, async () => {
      const pair = await W.loadKeys();
      if (!pair) throw new Error('No key saved in this browser.');
      await usePair(pair, 'Loaded');
    }));
    $('key-forget').addEventListener('click', guarded(showKeyError, async () => {
      await W.forgetKeys();
      setText($('key-status'), 'Forgot the saved key (the key in use stays until the page is closed).');
    }));
    $('key-import').addEventListener('click', guarded(showKeyError, async () => {
      await usePair(await W.importPrivateKeyPem($('import-pem').value), 'Imported');
      $('import-pem').value = '';
    }));
    $('import-file').addEventListener('change', guarded(showKeyError, async () => {
      const file = $('import-file').files[0];
      $('import-file').value = '';
      if (!file) return;
      if (file.size > 64 * 1024) throw new Error(`${file.name} is too large to be a private key PEM`);
      await usePair(await W.importPrivateKeyPem(await file.text()), `Imported ${file.name}`);
    }));
    $('key-copy').addEventListener('click', guarded(showKeyError, async () => {
      await P.clipboard.copyText($('public-key').value);
      setText($('key-status'), 'Public key copied to the clipboard.');
    }));
    $('welcome-keys').addEventListener('click', () => openDialog('keys-dialog'));
  }

  // On a loopback host, `make demo` may serve a demo private key next to the page.
  async function offerDemoKey() {
    if (!/^https?:$/.test(location.protocol) || !LOOPBACK.has(location.hostname)) return;
    let pem;
    try {
      const res = await fetch('demo-key.pem', { cache: 'no-store' });
      if (!res.ok) return;
      pem = await res.text();
    } catch {
      return;
    }
    if (!pem.includes('-----BEGIN PRIVATE KEY-----')) return;
    const button = $('key-demo');
    button.hidden = false;
    button.addEventListener('click', guarded(showConnectError, async () => {
      await usePair(await W.importPrivateKeyPem(pem), 'Demo key imported');
    }));
  }

  // The key saved in this browser, if any, is ready without a click.
  async function loadSavedKey() {
    try {
      const pair = await W.loadKeys();
      if (pair && !state.pair) await usePair(pair, 'Loaded the key saved in this browser');
    } catch {
      // No IndexedDB here (some file:// policies): the Keys dialog says so when used.
    }
  }

  // ---- connection options ---------------------------------------------------------------

  function connectOptions() {
    if (!state.pair) throw new Error('No key: generate, load or import one first (menu, Keys).');
    return {
      url: $('url').value,
      privateKey: state.pair.privateKey,
      // Tokens name their key (kid = its RFC 7638 thumbprint): a machine trusting several keys
      // of one type needs it.
      publicKey: state.pair.publicKey,
      lifetimeSec: Number($('lifetime').value),
      subject: $('subject').value.trim() || undefined,
    };
  }

  // ---- status --------------------------------------------------------------------------

  function statusText(tab) {
    const s = tab.status;
    if (s.state === 'open' && tab.latencyMs !== null) return `${s.text} \u00b7 ${Math.round(tab.latencyMs)} ms`;
    return s.text;
  }

  const STATUS_TEXT = {
    idle: 'Not connected.',
    connecting: 'Connecting\u2026',
    open: 'Connected',
    closed: 'Disconnected.',
  };

  function setStatus(tab, st, text = STATUS_TEXT[st]) {
    tab.status = { state: st, text };
    tab.button.dataset.state = st;
    if (tab === state.active) renderToolbar();
  }

  function renderToolbar() {
    const tab = state.active;
    if (!tab) return;
    const live = LIVE.has(tab.status.state);
    $('conn-state').dataset.state = tab.status.state;
    setText($('connect-status'), statusText(tab), tab.status.state === 'error');
    $('conn-state').title = tab.session ? `${tab.status.text} (${tab.session.url.replace(/\?.*$/, '')})` : tab.status.text;
    $('connect-btn').hidden = live;
    $('disconnect-btn').hidden = !live;
    $('reconnect-btn').disabled = !tab.session;
    $('welcome').hidden = !!tab.session;
    document.title = tab.session && tab.title ? `${tab.title} \u2013 web-shell` : 'web-shell';
  }

  // ---- tabs ----------------------------------------------------------------------------

  let tabCount = 0;

  function sessionStore() {
    try {
      return globalThis.sessionStorage || null;
    } catch {
      return null; // disabled (opaque origins)
    }
  }

  // Each tab keeps its own session in this browser tab's sessionStorage (the module stores the
  // id under a key of its own; the tab's number keeps tabs on the same machine apart), so a
  // reload brings every tab back to its shell. Nothing of it goes to localStorage or a URL.
  function tabStorage(tab) {
    const ss = sessionStore();
    if (!ss) return null;
    const k = (key) => `${key}#tab-${tab.n}`;
    return {
      getItem: (key) => ss.getItem(k(key)),
      setItem: (key, value) => ss.setItem(k(key), value),
      removeItem: (key) => ss.removeItem(k(key)),
    };
  }

  function hasStoredSession(n) {
    const ss = sessionStore();
    if (!ss) return false;
    for (let i = 0; i < ss.length; i++) if (ss.key(i).endsWith(`#tab-${n}`)) return true;
    return false;
  }

  function saveTabSlots() {
    const ss = sessionStore();
    try {
      if (ss) ss.setItem(TABS_KEY, JSON.stringify(state.tabs.map((t) => t.n)));
    } catch {
      // storage full or disabled: a reload then opens one tab
    }
  }

  function storedTabSlots() {
    try {
      const slots = JSON.parse((sessionStore() || { getItem: () => null }).getItem(TABS_KEY) || '[]');
      return Array.isArray(slots) ? slots.filter((n) => Number.isInteger(n) && n > 0 && n < 1000) : [];
    } catch {
      return [];
    }
  }

  function createTab(slot) {
    const n = slot || tabCount + 1;
    tabCount = Math.max(tabCount, n);
    const button = document.createElement('button');
    button.type = 'button';
    button.role = 'tab';
    button.setAttribute('role', 'tab');
    button.id = `tab-${n}`;
    button.className = 'tab';
    button.setAttribute('aria-controls', `pane-${n}`);
    const label = document.createElement('span');
    label.className = 'tab-label';
    const close = document.createElement('span');
    close.className = 'tab-close';
    close.textContent = '\u00d7';
    close.setAttribute('aria-hidden', 'true');
    close.title = 'Close tab (ends its shell)';
    button.append(label, close);
    const pane = document.createElement('div');
    pane.className = 'pane';
    pane.id = `pane-${n}`;
    pane.setAttribute('role', 'tabpanel');
    pane.setAttribute('aria-labelledby', button.id);
    const tab = {
      n, button, label, pane, session: null, title: '', search: null, cwd: null,
      latencyMs: null, inputAt: 0, status: { state: 'idle', text: STATUS_TEXT.idle }, disposables: [],
    };
    setTabTitle(tab, `Shell ${n}`);
    button.addEventListener('click', (e) => {
      if (e.target === close) closeTab(tab);
      else activateTab(tab);
    });
    button.addEventListener('auxclick', (e) => { if (e.button === 1) closeTab(tab); });
    button.addEventListener('keydown', (e) => onTabKey(e, tab));
    $('tabs').appendChild(button);
    $('terminals').appendChild(pane);
    state.tabs.push(tab);
    saveTabSlots();
    activateTab(tab);
    return tab;
  }

  function setTabTitle(tab, title) {
    tab.title = title;
    // A server's default title is the command line ("/bin/bash --login"): the program's name says it.
    const m = /^\/(?:[^\s/]+\/)*([^\s/]+)(\s|$)/.exec(title);
    const short = m ? m[1] : title;
    tab.label.textContent = short.length > 28 ? short.slice(0, 27) + '\u2026' : short;
    tab.button.title = title;
    if (tab === state.active) renderToolbar();
  }

  function activateTab(tab) {
    state.active = tab;
    for (const t of state.tabs) {
      const on = t === tab;
      t.button.setAttribute('aria-selected', String(on));
      t.button.tabIndex = on ? 0 : -1;
      t.pane.hidden = !on;
    }
    renderToolbar();
    closeSearch();
    if (tab.session) {
      requestAnimationFrame(() => {
        tab.session.fit();
        tab.session.terminal.focus();
      });
    }
    updateUploadHint();
  }

  function closeTab(tab) {
    if (tab.session) tab.session.close();
    for (const d of tab.disposables) d.dispose();
    tab.button.remove();
    tab.pane.remove();
    const i = state.tabs.indexOf(tab);
    state.tabs.splice(i, 1);
    saveTabSlots();
    if (state.tabs.length === 0) createTab();
    else if (state.active === tab) activateTab(state.tabs[Math.min(i, state.tabs.length - 1)]);
  }

  // Arrow keys move between tabs (the ARIA tabs pattern); Delete closes one.
  function onTabKey(e, tab) {
    const i = state.tabs.indexOf(tab);
    let next = null;
    if (e.key === 'ArrowRight') next = state.tabs[(i + 1) % state.tabs.length];
    else if (e.key === 'ArrowLeft') next = state.tabs[(i - 1 + state.tabs.length) % state.tabs.length];
    else if (e.key === 'Home') next = state.tabs[0];
    else if (e.key === 'End') next = state.tabs[state.tabs.length - 1];
    else if (e.key === 'Delete') { e.preventDefault(); closeTab(tab); return; }
    if (next) {
      e.preventDefault();
      activateTab(next);
      next.button.focus();
    }
  }

  // ---- terminals -----------------------------------------------------------------------

  // The addons web-shell.js sets up the safe way: wide characters as the shell counts them,
  // http(s) links only, OSC 52 writes to the clipboard (it swallows every OSC 52 read).
  function addonClasses() {
    return {
      Unicode11Addon: globalThis.Unicode11Addon.Unicode11Addon,
      WebLinksAddon: globalThis.WebLinksAddon.WebLinksAddon,
      ClipboardAddon: globalThis.ClipboardAddon.ClipboardAddon,
    };
  }

  function terminalOptions() {
    return { ...P.settings.terminalOptions(state.settings), allowProposedApi: true, linkHandler: {
      activate: (_ev, uri) => openLink(uri), allowNonHttpProtocols: false,
    } };
  }

  // Everything the page adds to a tab's xterm.js terminal: wide characters as bash counts them,
  // links, search, clipboard rules, the key bar's modifiers, latency and the shell's directory.
  function setupTerminal(tab, term) {
    const add = (d) => tab.disposables.push(d);
    tab.search = new globalThis.SearchAddon.SearchAddon();
    term.loadAddon(tab.search);
    add(tab.search.onDidChangeResults((r) => {
      if (tab === state.active) $('search-count').textContent = r.resultCount ? `${r.resultIndex + 1} of ${r.resultCount}` : 'No match';
    }));

    const copyError = (e) => setStatus(tab, tab.status.state, `Copy failed: ${e.message}`);
    add(P.clipboard.copyOnSelect(term, tab.pane, copyError));
    tab.pane.addEventListener('contextmenu', (e) => {
      e.preventDefault();
      P.clipboard.readText().then((text) => { if (text) term.paste(text); }, (err) => {
        setStatus(tab, tab.status.state, `Paste: ${err.message}`);
      });
    });
    term.attachCustomKeyEventHandler((ev) => {
      const shortcut = P.clipboard.shortcut(ev);
      if (shortcut === 'copy') {
        ev.preventDefault();
        if (term.hasSelection()) P.clipboard.copyText(term.getSelection()).catch(copyError);
        return false;
      }
      // The browser's own paste follows (a paste event into xterm.js's textarea, bracketed
      // when the shell asks for it): no clipboard permission needed.
      if (shortcut === 'paste') return false;
      if (ev.type === 'keydown' && ev.ctrlKey && ev.shiftKey && ev.code === 'KeyF') {
        ev.preventDefault();
        openSearch();
        return false;
      }
      if (ev.type === 'keydown' && keybar.armed && ev.key.length === 1 && !ev.ctrlKey && !ev.altKey && !ev.metaKey) {
        ev.preventDefault();
        term.input(keybar.apply(ev.key), true);
        return false;
      }
      return true;
    });
    // Phone keyboards send text through input events rather than keys.
    if (term.textarea) {
      term.textarea.addEventListener('beforeinput', (ev) => {
        if (!keybar.armed || ev.inputType !== 'insertText' || !ev.data) return;
        ev.preventDefault();
        ev.stopImmediatePropagation();
        term.input(keybar.apply(ev.data), true);
      }, true);
    }
    // Echo latency: from a keystroke to the machine's next output, as the user feels it.
    add(term.onData(() => { if (!tab.inputAt) tab.inputAt = performance.now(); }));
    add(term.onWriteParsed(() => {
      if (!tab.inputAt) return;
      const ms = performance.now() - tab.inputAt;
      tab.inputAt = 0;
      tab.latencyMs = tab.latencyMs === null ? ms : tab.latencyMs * 0.7 + ms * 0.3;
      if (tab === state.active && tab.status.state === 'open') renderToolbar();
    }));
    // Shells that report their directory (OSC 7, file://host/path) get uploads there.
    add(term.parser.registerOscHandler(7, (data) => {
      try {
        const u = new URL(data);
        if (u.protocol === 'file:') tab.cwd = decodeURIComponent(u.pathname);
      } catch {
        // not a URL: ignored
      }
      if (tab === state.active) updateUploadHint();
      return true;
    }));
  }

  function wireSession(tab, session) {
    const mine = (fn) => (e) => { if (tab.session === session) fn(e.detail || {}); };
    session.addEventListener('connecting', mine(() => setStatus(tab, 'connecting')));
    session.addEventListener('open', mine(() => {
      setText($('welcome-error'), '');
      setStatus(tab, 'open');
    }));
    session.addEventListener('title', mine((d) => setTabTitle(tab, d.title)));
    session.addEventListener('error', mine((d) => setStatus(tab, 'error', d.error.message)));
    session.addEventListener('disconnected', mine(() => setStatus(tab, 'reconnecting', 'Connection lost: reconnecting\u2026')));
    session.addEventListener('reconnecting', mine((d) => setStatus(tab, 'reconnecting',
      `Reconnecting (attempt ${d.attempt})\u2026`)));
    session.addEventListener('resumed', mine(() => setStatus(tab, 'open')));
    session.addEventListener('close', mine((d) => {
      if (tab.status.state === 'error' && d.code === undefined) return;
      setStatus(tab, 'closed', d.exitCode !== null && d.exitCode !== undefined ? `Shell exited with status ${d.exitCode}.` :
        d.code === 1000 && !d.reason ? 'Disconnected.' : `Disconnected (code ${d.code}${d.reason ? ', ' + d.reason : ''}).`);
    }));
  }

  /** Connects tab (a new session, or a new connection for its existing terminal). */
  async function connectTab(tab, extra = {}) {
    if (tab.session && !tab.session.disposed) {
      await tab.session.reconnect();
      return;
    }
    for (const d of tab.disposables.splice(0)) d.dispose();
    const options = connectOptions();
    const session = W.connectTerminal(tab.pane, {
      ...options, ...addonClasses(), ...extra, terminalOptions: terminalOptions(), storage: tabStorage(tab),
    });
    tab.session = session;
    setupTerminal(tab, session.terminal);
    wireSession(tab, session);
    if (session.state === 'connecting' || session.state === 'closed') setStatus(tab, 'connecting');
    renderToolbar();
    await session.ready;
  }

  function disconnectTab(tab) {
    if (!tab.session) return;
    tab.session.disconnect();
    setStatus(tab, 'closed', 'Disconnected.');
  }

  // Leaves the shell running on the machine (Sessions… attaches to it again).
  function detachTab(tab) {
    if (!tab.session || typeof tab.session.detach !== 'function') return;
    tab.session.detach();
    setStatus(tab, 'closed', 'Detached: the shell keeps running.');
  }

  // ---- search --------------------------------------------------------------------------

  const SEARCH_DECORATIONS = {
    matchBackground: '#5c4b00', matchBorder: '#ffd33d', matchOverviewRuler: '#ffd33d',
    activeMatchBackground: '#9e6a03', activeMatchBorder: '#ffdf5d', activeMatchColorOverviewRuler: '#ffdf5d',
  };

  function openSearch() {
    if (!state.active || !state.active.search) return;
    $('search-bar').hidden = false;
    $('search-input').focus();
    $('search-input').select();
  }

  function closeSearch() {
    if ($('search-bar').hidden) return;
    $('search-bar').hidden = true;
    $('search-count').textContent = '';
    for (const t of state.tabs) if (t.search) t.search.clearDecorations();
    if (state.active && state.active.session) state.active.session.terminal.focus();
  }

  function find(backwards, incremental = false) {
    const tab = state.active;
    const q = $('search-input').value;
    if (!tab || !tab.search) return;
    if (!q) {
      tab.search.clearDecorations();
      $('search-count').textContent = '';
      return;
    }
    const opts = { decorations: SEARCH_DECORATIONS, incremental };
    const found = backwards ? tab.search.findPrevious(q, opts) : tab.search.findNext(q, opts);
    if (!found) $('search-count').textContent = 'No match';
  }

  function wireSearch() {
    $('search-input').addEventListener('input', () => find(false, true));
    $('search-input').addEventListener('keydown', (e) => {
      if (e.key === 'Enter') { e.preventDefault(); find(e.shiftKey); }
      if (e.key === 'Escape') { e.preventDefault(); closeSearch(); }
    });
    $('search-next').addEventListener('click', () => find(false));
    $('search-prev').addEventListener('click', () => find(true));
    $('search-close').addEventListener('click', closeSearch);
  }

  // ---- dialogs and menu ----------------------------------------------------------------

  function openDialog(id) {
    closeMenu();
    const d = $(id);
    if (!d.open) d.showModal();
  }

  function wireDialogs() {
    for (const d of document.querySelectorAll('dialog')) {
      d.addEventListener('close', () => {
        if (state.active && state.active.session && !document.querySelector('dialog[open]')) state.active.session.terminal.focus();
      });
      // A click on the backdrop (outside the dialog's box) closes it.
      d.addEventListener('click', (e) => {
        if (e.target !== d) return;
        const r = d.getBoundingClientRect();
        if (e.clientX < r.left || e.clientX > r.right || e.clientY < r.top || e.clientY > r.bottom) d.close();
      });
    }
  }

  function menuItems() {
    return Array.from($('menu').querySelectorAll('[role=menuitem]')).filter((el) => !el.disabled);
  }

  function openMenu() {
    $('menu').hidden = false;
    $('menu-btn').setAttribute('aria-expanded', 'true');
    menuItems()[0].focus();
  }

  function closeMenu(refocus = false) {
    if ($('menu').hidden) return;
    $('menu').hidden = true;
    $('menu-btn').setAttribute('aria-expanded', 'false');
    if (refocus) $('menu-btn').focus();
  }

  const ACTIONS = {
    keys: () => openDialog('keys-dialog'),
    sessions: () => openSessions(),
    files: () => { updateUploadHint(); openDialog('files-dialog'); },
    run: () => openDialog('run-dialog'),
    search: () => openSearch(),
    reconnect: guarded(showConnectError, () => state.active && state.active.session && state.active.session.reconnect()),
    detach: () => state.active && detachTab(state.active),
    settings: () => openDialog('settings-dialog'),
  };

  function wireMenu() {
    $('menu-btn').addEventListener('click', () => ($('menu').hidden ? openMenu() : closeMenu(true)));
    $('menu').addEventListener('click', (e) => {
      const item = e.target.closest('[role=menuitem]');
      if (!item || item.disabled) return;
      closeMenu();
      const action = item.dataset.action;
      if (action) ACTIONS[action]();
    });
    $('menu').addEventListener('keydown', (e) => {
      const items = menuItems();
      const i = items.indexOf(document.activeElement);
      if (e.key === 'ArrowDown') { e.preventDefault(); items[(i + 1) % items.length].focus(); }
      else if (e.key === 'ArrowUp') { e.preventDefault(); items[(i - 1 + items.length) % items.length].focus(); }
      else if (e.key === 'Home') { e.preventDefault(); items[0].focus(); }
      else if (e.key === 'End') { e.preventDefault(); items[items.length - 1].focus(); }
      else if (e.key === 'Escape' || e.key === 'Tab') closeMenu(e.key === 'Escape');
    });
    document.addEventListener('pointerdown', (e) => {
      if (!$('menu').hidden && !e.target.closest('#menu, #menu-btn')) closeMenu();
    });
  }

  // ---- sessions (reattach) -------------------------------------------------------------

  async function openSessions() {
    openDialog('sessions-dialog');
    await refreshSessions();
  }

  function formatAge(unixSeconds) {
    if (!unixSeconds) return '';
    const s = Math.max(0, Math.round(Date.now() / 1000 - unixSeconds));
    if (s < 60) return `${s} s ago`;
    if (s < 3600) return `${Math.round(s / 60)} min ago`;
    return `${Math.round(s / 3600)} h ago`;
  }

  async function refreshSessions() {
    const list = $('sessions-list');
    list.textContent = '';
    setText($('sessions-status'), 'Asking the machine\u2026');
    try {
      const sessions = await W.listSessions(connectOptions());
      // Sessions shown in a live tab here are marked; a detached tab's session can be attached.
      const open = new Set(state.tabs.filter((t) => t.session && LIVE.has(t.status.state)).map((t) => t.session.id).filter(Boolean));
      setText($('sessions-status'), sessions.length ? '' : 'No sessions of yours on this machine.');
      for (const s of sessions) {
        const li = document.createElement('li');
        const what = document.createElement('span');
        what.textContent = `${s.title || 'shell'} \u2014 ${s.state}, started ${formatAge(s.started)}` +
          (s.lastInput ? `, last input ${formatAge(s.lastInput)}` : '');
        li.appendChild(what);
        if (open.has(s.id)) {
          const here = document.createElement('span');
          here.className = 'hint';
          here.textContent = 'open here';
          li.appendChild(here);
        } else {
          const attach = document.createElement('button');
          attach.type = 'button';
          attach.textContent = 'Attach';
          attach.setAttribute('aria-label', `Attach ${s.title || 'shell'} started ${formatAge(s.started)}`);
          attach.addEventListener('click', guarded((m) => setText($('sessions-status'), m, true), async () => {
            $('sessions-dialog').close();
            const tab = createTab();
            await connectTab(tab, { session: s.id });
          }));
          li.appendChild(attach);
          const end = document.createElement('button');
          end.type = 'button';
          end.textContent = 'End';
          end.setAttribute('aria-label', `End ${s.title || 'shell'} started ${formatAge(s.started)}`);
          end.addEventListener('click', guarded((m) => setText($('sessions-status'), m, true), async () => {
            const conn = await W.connect(connectOptions());
            try {
              await conn.endSession(s.id);
            } finally {
              conn.close();
            }
            await refreshSessions();
          }));
          li.appendChild(end);
        }
        list.appendChild(li);
      }
    } catch (e) {
      setText($('sessions-status'), e.message, true);
    }
  }

  // ---- files ---------------------------------------------------------------------------

  const transfers = new P.files.Transfers($('transfers'));

  function uploadDir() {
    return $('upload-dir').value.trim();
  }

  function updateUploadHint() {
    const tab = state.active;
    const input = $('upload-dir');
    if (!input.dataset.edited) input.value = tab && tab.cwd ? tab.cwd : '';
    $('upload-dir-hint').textContent = tab && tab.cwd ?
      'The shell\u2019s current directory (it reports it with OSC 7); change it to upload elsewhere.' :
      'Empty: your home directory. Shells that report their directory (OSC 7) fill it in.';
    $('drop-dir').textContent = uploadDir() ? `into ${uploadDir()}` : 'into your home directory';
  }

  async function execConnection() {
    return W.connect({ ...connectOptions(), method: 'channel' });
  }

  const progressOf = (item) => ({ loaded, total }) => item.progress(loaded, total);

  async function uploadFiles(files) {
    const list = Array.from(files);
    if (!list.length) return;
    const dir = uploadDir();
    const conn = await execConnection();
    try {
      await Promise.all(list.map(async (file) => {
        const path = P.files.joinPath(dir, file.name);
        const item = transfers.add(`\u2191 ${file.name}`);
        try {
          await W.uploadFile(P.files.machinePath(path), file, { connection: conn, signal: item.signal, onProgress: progressOf(item) });
          item.done(`Uploaded to ${path}`);
        } catch (e) {
          item.fail(e);
        }
      }));
    } finally {
      conn.close();
    }
  }

  async function downloadPath(path) {
    if (!path) throw new Error('type the path of a file on the machine');
    const conn = await execConnection();
    const name = P.files.baseName(path);
    const item = transfers.add(`\u2193 ${name}`);
    try {
      const blob = await W.downloadFile(P.files.machinePath(path), { connection: conn, signal: item.signal, onProgress: progressOf(item) });
      const a = document.createElement('a');
      a.href = URL.createObjectURL(blob);
      a.download = name;
      document.body.appendChild(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(a.href), 60000);
      item.done(`Downloaded ${P.files.formatBytes(blob.size)}`);
    } catch (e) {
      item.fail(e);
    } finally {
      conn.close();
    }
  }

  function wireFiles() {
    const showError = (m) => setText($('files-error'), m, true);
    $('upload-dir').addEventListener('input', () => {
      $('upload-dir').dataset.edited = '1';
      updateUploadHint();
    });
    $('upload-input').addEventListener('change', guarded(showError, async () => {
      const files = Array.from($('upload-input').files);
      $('upload-input').value = '';
      setText($('files-error'), '');
      $('files-dialog').close();
      await uploadFiles(files);
    }));
    $('download-btn').addEventListener('click', guarded(showError, async () => {
      setText($('files-error'), '');
      const path = $('download-path').value.trim();
      if (!path) throw new Error('Type the path of a file on the machine.');
      $('files-dialog').close();
      await downloadPath(path);
    }));
    const ws = $('workspace');
    const hasFiles = (e) => e.dataTransfer && Array.from(e.dataTransfer.types || []).includes('Files');
    let depth = 0;
    ws.addEventListener('dragenter', (e) => {
      if (!hasFiles(e)) return;
      depth++;
      updateUploadHint();
      $('drop-hint').hidden = false;
    });
    ws.addEventListener('dragleave', () => {
      if (depth > 0 && --depth === 0) $('drop-hint').hidden = true;
    });
    ws.addEventListener('dragover', (e) => {
      if (!hasFiles(e)) return;
      e.preventDefault();
      e.dataTransfer.dropEffect = 'copy';
    });
    ws.addEventListener('drop', (e) => {
      if (!hasFiles(e)) return;
      e.preventDefault();
      depth = 0;
      $('drop-hint').hidden = true;
      guarded(showConnectError, () => uploadFiles(e.dataTransfer.files))();
    });
  }

  // ---- run a command -------------------------------------------------------------------

  let runAbort = null;

  function describeStatus(r) {
    if (r.timedOut) return 'timed out';
    if (r.cancelled) return 'cancelled';
    if (r.signal) return `killed by signal ${r.signal}`;
    return String(r.exitCode);
  }

  async function run() {
    const options = connectOptions();
    const started = performance.now();
    runAbort = new AbortController();
    $('run-btn').disabled = true;
    $('run-cancel').disabled = false;
    setText($('exec-error'), '');
    $('exit-code').value = '';
    $('duration').value = '';
    $('stdout').textContent = '';
    $('stderr').textContent = '';
    let onMachine = null;
    try {
      let r;
      let merged;
      const conn = await W.connect(options);
      try {
        merged = conn.method !== 'channel';
        r = await conn.exec($('command').value, { signal: runAbort.signal, timeoutMs: 0 });
      } finally {
        conn.close();
      }
      $('stdout').textContent = r.stdout;
      $('stderr').textContent = r.stderr || '';
      $('stderr').dataset.merged = String(merged);
      $('exit-code').value = describeStatus(r);
      if (Number.isFinite(r.durationMs)) onMachine = r.durationMs;
    } catch (e) {
      setText($('exec-error'), e.message, true);
    } finally {
      const total = Math.round(performance.now() - started);
      $('duration').value = onMachine === null ? `${total} ms` : `${total} ms (${Math.round(onMachine)} ms on the machine)`;
      $('run-btn').disabled = false;
      $('run-cancel').disabled = true;
      runAbort = null;
    }
  }

  // ---- settings ------------------------------------------------------------------------

  function applySettings() {
    const s = state.settings;
    document.documentElement.dataset.theme = P.settings.resolveTheme(s.theme);
    $('font-size').value = String(s.fontSize);
    $('theme').value = s.theme;
    $('keybar-mode').value = s.keybar;
    const opts = P.settings.terminalOptions(s);
    for (const tab of state.tabs) {
      if (!tab.session) continue;
      tab.session.terminal.options.fontSize = opts.fontSize;
      tab.session.terminal.options.theme = opts.theme;
      tab.session.fit();
    }
    updateKeybar();
  }

  function updateKeybar() {
    const mode = state.settings.keybar;
    const touch = globalThis.matchMedia && (matchMedia('(pointer: coarse)').matches || matchMedia('(max-width: 640px)').matches);
    $('keybar').hidden = mode === 'off' || (mode === 'auto' && !touch);
    if (state.active && state.active.session) requestAnimationFrame(() => state.active.session && state.active.session.fit());
  }

  function wireSettings() {
    const changed = () => {
      state.settings = P.settings.save({
        fontSize: $('font-size').value, theme: $('theme').value, keybar: $('keybar-mode').value,
      });
      applySettings();
    };
    for (const id of ['font-size', 'theme', 'keybar-mode']) $(id).addEventListener('change', changed);
    if (globalThis.matchMedia) {
      matchMedia('(prefers-color-scheme: light)').addEventListener('change', applySettings);
      matchMedia('(max-width: 640px)').addEventListener('change', updateKeybar);
    }
  }

  // ---- start ---------------------------------------------------------------------------

  const keybar = new P.keybar.KeyBar($('keybar'), {
    send: (data) => {
      const s = state.session;
      if (s && s.terminal) s.terminal.input(data, true);
    },
    appCursor: () => !!(state.session && state.session.terminal && state.session.terminal.modes.applicationCursorKeysMode),
    refocus: () => { if (state.session && state.session.terminal) state.session.terminal.focus(); },
  });
  state.keybar = keybar;

  wireKeys();
  wireSearch();
  wireDialogs();
  wireMenu();
  wireFiles();
  wireSettings();

  const connectActive = guarded(showConnectError, () => connectTab(state.active));
  $('connect-btn').addEventListener('click', connectActive);
  $('welcome-connect').addEventListener('click', connectActive);
  for (const id of ['url', 'subject', 'lifetime']) {
    $(id).addEventListener('keydown', (e) => { if (e.key === 'Enter') connectActive(); });
  }
  $('disconnect-btn').addEventListener('click', () => disconnectTab(state.active));
  $('tab-new').addEventListener('click', () => {
    const tab = createTab();
    if (state.pair && $('url').value) connectActive();
    else $('url').focus();
    return tab;
  });
  $('sessions-btn').addEventListener('click', openSessions);
  $('sessions-refresh').addEventListener('click', refreshSessions);
  $('run-btn').addEventListener('click', guarded((m) => setText($('exec-error'), m, true), run));
  $('run-cancel').addEventListener('click', () => { if (runAbort) runAbort.abort(); });
  document.addEventListener('keydown', (e) => {
    if (e.ctrlKey && e.shiftKey && e.code === 'KeyF' && !document.querySelector('dialog[open]')) {
      e.preventDefault();
      openSearch();
    }
  });

  // Default target: this page's own host when served over http(s); typed by hand from
  // file://. ?url= and ?user= fill the form (never a token: those are made here).
  const params = new URLSearchParams(location.search);
  if (params.get('url')) $('url').value = params.get('url');
  else if (/^https?:$/.test(location.protocol)) $('url').value = W.resolveUrl('', { base: location.href });
  if (params.get('user')) $('subject').value = params.get('user');

  // After a reload, every tab comes back; those that had a shell reattach to it once a key is
  // at hand (the one saved in this browser, loaded by itself).
  const slots = storedTabSlots();
  if (slots.length) {
    for (const n of slots) createTab(n);
    activateTab(state.tabs[0]);
  } else {
    createTab();
  }
  applySettings();
  loadSavedKey().then(() => {
    if (!state.pair) return;
    for (const tab of state.tabs) {
      if (!tab.session && hasStoredSession(tab.n)) guarded((m) => setStatus(tab, 'error', m), () => connectTab(tab))();
    }
  });
  offerDemoKey();
}());
