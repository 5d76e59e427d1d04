// app.js: page glue for index.html. Classic script on top of globalThis.WebShell (generated from
// web-shell.js), so the page also works from file://. All logic lives in the module.
'use strict';

(function main() {
  const W = globalThis.WebShell;
  const $ = (id) => document.getElementById(id);
  const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]', '::1']);
  const state = { pair: null, session: null };
  // For tests and the console: the page's live objects.
  globalThis.webShellApp = state;

  function status(el, text, isError = false) {
    el.textContent = text;
    el.classList.toggle('error', isError);
  }

  function describe(pair) {
    return `${pair.algorithm} key pair${pair.privateKey.extractable ? '' : ' (private key non-extractable)'}`;
  }

  async function usePair(pair, how) {
    state.pair = pair;
    $('public-key').value = await W.exportPublicKeyPem(pair.publicKey);
    $('key-save').disabled = false;
    $('key-copy').disabled = false;
    status($('key-status'), `${how}: ${describe(pair)}.${pair.notice ? ' ' + pair.notice : ''}`);
  }

  // Runs an async handler and shows its error in the given status element.
  function guarded(el, fn) {
    return async () => {
      try {
        await fn();
      } catch (e) {
        status(el, e.message || String(e), true);
      }
    };
  }

  function connectOptions() {
    const lifetimeSec = Number($('lifetime').value);
    if (!state.pair) throw new Error('No key: generate, load or import one first (section Keys).');
    return {
      url: $('url').value,
      privateKey: state.pair.privateKey,
      lifetimeSec,
      subject: $('subject').value.trim() || undefined,
    };
  }

  function setConnected(open) {
    $('disconnect-btn').disabled = !open;
    $('reconnect-btn').disabled = !state.session;
  }

  async function connect() {
    const options = connectOptions();
    if (state.session) state.session.close();
    const session = W.connectTerminal($('terminal'), options);
    state.session = session;
    status($('connect-status'), `Connecting to ${session.url}...`);
    session.addEventListener('open', (e) => {
      status($('connect-status'), `Connected to ${e.detail.url}.`);
      setConnected(true);
    });
    session.addEventListener('title', (e) => { document.title = e.detail.title; });
    session.addEventListener('error', (e) => {
      status($('connect-status'), e.detail.error.message, true);
      setConnected(false);
    });
    session.addEventListener('close', (e) => {
      if (session !== state.session) return;
      const d = e.detail;
      status($('connect-status'), d.exitCode !== null ? `Shell exited with status ${d.exitCode}.` :
        `Disconnected (code ${d.code}${d.reason ? ', ' + d.reason : ''}).`);
      setConnected(false);
    });
    setConnected(false);
    await session.ready;
  }

  async function run() {
    const options = connectOptions();
    const started = performance.now();
    $('run-btn').disabled = true;
    status($('exec-error'), '');
    $('exit-code').value = '';
    $('duration').value = '';
    $('stdout').textContent = '';
    try {
      const { stdout, exitCode } = await W.execCommand($('command').value, options);
      $('stdout').textContent = stdout;
      $('exit-code').value = String(exitCode);
    } catch (e) {
      status($('exec-error'), e.message, true);
    } finally {
      $('duration').value = `${Math.round(performance.now() - started)} ms`;
      $('run-btn').disabled = false;
    }
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
    button.addEventListener('click', guarded($('key-status'), async () => {
      await usePair(await W.importPrivateKeyPem(pem), 'Demo key imported');
    }));
  }

  $('key-generate').addEventListener('click', guarded($('key-status'), async () => {
    await usePair(await W.generateKeyPair(), 'Generated');
  }));
  $('key-save').addEventListener('click', guarded($('key-status'), async () => {
    await W.saveKeys(state.pair);
    status($('key-status'), `Saved in this browser: ${describe(state.pair)}.`);
  }));
  $('key-load').addEventListener('click', guarded($('key-status'), async () => {
    const pair = await W.loadKeys();
    if (!pair) throw new Error('No key saved in this browser.');
    await usePair(pair, 'Loaded');
  }));
  $('key-forget').addEventListener('click', guarded($('key-status'), async () => {
    await W.forgetKeys();
    status($('key-status'), 'Forgot the saved key (the key in use stays until the page is closed).');
  }));
  $('key-import').addEventListener('click', guarded($('key-status'), async () => {
    await usePair(await W.importPrivateKeyPem($('import-pem').value), 'Imported');
    $('import-pem').value = '';
  }));
  $('key-copy').addEventListener('click', guarded($('key-status'), async () => {
    if (navigator.clipboard) {
      await navigator.clipboard.writeText($('public-key').value);
    } else {
      // No async clipboard outside secure contexts (plain http on another host).
      $('public-key').select();
      if (!document.execCommand('copy')) throw new Error('Copy failed: select the PEM and copy it by hand.');
    }
    status($('key-status'), 'Public key copied to the clipboard.');
  }));
  $('connect-btn').addEventListener('click', guarded($('connect-status'), connect));
  $('reconnect-btn').addEventListener('click', guarded($('connect-status'), () => state.session.reconnect()));
  $('disconnect-btn').addEventListener('click', () => {
    if (state.session) state.session.disconnect();
    status($('connect-status'), 'Disconnected.');
    setConnected(false);
  });
  $('run-btn').addEventListener('click', guarded($('exec-error'), run));

  // Default target: this page's own host when served over http(s); typed by hand from file://.
  if (/^https?:$/.test(location.protocol)) $('url').value = W.resolveUrl('', { base: location.href });
  offerDemoKey();
}());
