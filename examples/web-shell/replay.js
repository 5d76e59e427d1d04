/*
 * replay.js: the replay page of the example app. Plays a recording written by
 * `ptyd --record` (asciicast v2: a header line, then [time, code, data] lines) with
 * asciinema-player (vendor/asciinema-player.min.js, pinned in package-lock.json).
 *
 * A classic script, so the page works from file:// too. It defines
 * globalThis.WebShellReplay = { parseCast, CastReplay, mountReplayPage, CastError }:
 *   parseCast(text)      pure: the header, the events and what the page shows about them
 *   CastReplay           one player in a container: load, play, pause, seek, setSpeed,
 *                        dispose; events 'load', 'play', 'pause', 'ended', 'error'
 *   mountReplayPage(doc) the page's glue: file picker, drag and drop, controls, details
 * Types: replay.d.ts. Everything from the file reaches the page as text, never as HTML.
 */
(function (root) {
  'use strict';

  /* Larger files are refused before they are read (the browser holds them whole). */
  const MAX_FILE_BYTES = 512 * 1024 * 1024;
  /* An exec command's stderr ("e", our code) is shown as output, in red. */
  const STDERR_ON = '\x1b[31m';
  const STDERR_OFF = '\x1b[39m';

  class CastError extends Error {
    constructor(message, line) {
      super(line ? `line ${line}: ${message}` : message);
      this.name = 'CastError';
      this.line = line;
    }
  }

  function isSize(n) {
    return Number.isInteger(n) && n > 0 && n <= 10000;
  }

  /**
   * Parses an asciicast v2 text. Returns { header, events, meta }: events are
   * [seconds, code, data] as in the file; meta has what the page shows (size,
   * duration, start, identity, session, peer, kind, command, end status, drop
   * markers, markers). Throws CastError naming the line for anything else.
   */
  function parseCast(text) {
    if (typeof text !== 'string') throw new CastError('not text');
    const lines = text.split('\n');
    let header;
    try {
      header = JSON.parse(lines[0]);
    } catch (e) {
      throw new CastError('not an asciicast file (the first line is not JSON)', 1);
    }
    if (header === null || typeof header !== 'object' || Array.isArray(header)) {
      throw new CastError('not an asciicast file (no header object)', 1);
    }
    if (header.version !== 2) {
      throw new CastError(`asciicast version ${JSON.stringify(header.version)} is not supported (only 2)`, 1);
    }
    if (!isSize(header.width) || !isSize(header.height)) {
      throw new CastError('the header has no valid width and height', 1);
    }
    const events = [];
    let last = 0;
    for (let i = 1; i < lines.length; i++) {
      const line = lines[i];
      if (line.trim() === '') continue;
      let ev;
      try {
        ev = JSON.parse(line);
      } catch (e) {
        throw new CastError('not JSON', i + 1);
      }
      if (!Array.isArray(ev) || ev.length < 3 || typeof ev[0] !== 'number' || !Number.isFinite(ev[0]) ||
          ev[0] < 0 || typeof ev[1] !== 'string' || typeof ev[2] !== 'string') {
        throw new CastError('not an event [time, code, data]', i + 1);
      }
      if (ev[0] < last) throw new CastError('time goes back', i + 1);
      last = ev[0];
      events.push([ev[0], ev[1], ev[2]]);
    }
    const ws = header.webshell && typeof header.webshell === 'object' ? header.webshell : {};
    const str = (v) => (typeof v === 'string' ? v : undefined);
    const markers = events.filter((e) => e[1] === 'm').map((e) => ({ time: e[0], label: e[2] }));
    const endMarker = markers.length ? markers[markers.length - 1] : undefined;
    const endStatus = endMarker && /^(exit|signal) |^ended|^ptyd stopped/.test(endMarker.label)
      ? endMarker.label : undefined;
    const meta = {
      width: header.width,
      height: header.height,
      duration: last,
      started: typeof header.timestamp === 'number' ? new Date(header.timestamp * 1000) : undefined,
      title: str(header.title),
      term: header.env && str(header.env.TERM),
      shell: header.env && str(header.env.SHELL),
      kind: str(ws.kind),
      user: str(ws.user),
      session: str(ws.session),
      peer: str(ws.peer),
      requestId: str(ws.request_id),
      command: str(ws.command),
      endStatus,
      drops: markers.filter((m) => /^dropped \d+ bytes/.test(m.label) || /^recording stopped/.test(m.label)),
      markers,
      counts: events.reduce((c, e) => { c[e[1]] = (c[e[1]] || 0) + 1; return c; }, {}),
    };
    return { header, events, meta };
  }

  /* The events the player gets: stderr turned into red output, unknown codes left out. */
  function playerEvents(events) {
    const out = [];
    for (const [t, code, data] of events) {
      if (code === 'o' || code === 'r' || code === 'm' || code === 'i') out.push([t, code, data]);
      else if (code === 'e') out.push([t, 'o', STDERR_ON + data + STDERR_OFF]);
    }
    return out;
  }

  /**
   * One recording in a container, played by asciinema-player. Events (EventTarget):
   * 'load' {detail: meta}, 'play', 'pause', 'ended', 'error' {detail: {message}}.
   */
  class CastReplay extends EventTarget {
    constructor(container, { player = root.AsciinemaPlayer } = {}) {
      super();
      if (!player || typeof player.create !== 'function') {
        throw new Error('asciinema-player is not loaded (vendor/asciinema-player.min.js)');
      }
      this._lib = player;
      this._container = container;
      this._player = undefined;
      this._cast = undefined;
      this._speed = 1;
      this._playing = false;
    }

    /** Parses text and shows its first frame, paused. Returns meta; throws CastError. */
    load(text) {
      const cast = parseCast(text);
      this._cast = cast;
      this._speed = 1;
      this._create(0, false);
      this.dispatchEvent(new CustomEvent('load', { detail: cast.meta }));
      return cast.meta;
    }

    _create(at, autoPlay) {
      this._destroyPlayer();
      const { header, events } = this._cast;
      const data = [{ version: 2, width: header.width, height: header.height }, ...playerEvents(events)];
      const p = this._lib.create({ data }, this._container, {
        speed: this._speed,
        autoPlay,
        preload: true,
        startAt: at,
        controls: false,
        fit: 'width',
        idleTimeLimit: undefined,
      });
      p.addEventListener('play', () => { this._playing = true; this.dispatchEvent(new Event('play')); });
      p.addEventListener('playing', () => { this._playing = true; });
      p.addEventListener('pause', () => { this._playing = false; this.dispatchEvent(new Event('pause')); });
      p.addEventListener('ended', () => { this._playing = false; this.dispatchEvent(new Event('ended')); });
      this._player = p;
      this._playing = autoPlay;
    }

    _destroyPlayer() {
      if (this._player) this._player.dispose();
      this._player = undefined;
      this._playing = false;
    }

    get loaded() { return this._cast !== undefined; }
    get meta() { return this._cast && this._cast.meta; }
    get duration() { return this._cast ? this._cast.meta.duration : 0; }
    get playing() { return this._playing; }
    get speed() { return this._speed; }
    /** Seconds from the start of the recording. */
    get currentTime() { return this._player ? this._player.getCurrentTime() || 0 : 0; }

    play() {
      if (!this._player) return Promise.resolve();
      if (this.currentTime >= this.duration) return this.seek(0).then(() => this._player.play());
      return this._player.play();
    }

    pause() { return this._player ? this._player.pause() : Promise.resolve(); }

    /** Jumps to seconds (clamped to the recording); playing goes on if it was. */
    seek(seconds) {
      if (!this._player) return Promise.resolve();
      const t = Math.min(Math.max(0, Number(seconds) || 0), this.duration);
      return this._player.seek(t);
    }

    /** Jumps to the previous or next marker ('prev' or 'next'). */
    seekMarker(which) {
      return this._player ? this._player.seek({ marker: which }) : Promise.resolve();
    }

    /** Plays at rate (0.1..16) from where it is, keeping play or pause. */
    setSpeed(rate) {
      const r = Number(rate);
      if (!Number.isFinite(r) || r < 0.1 || r > 16) throw new RangeError(`speed ${rate}: 0.1 to 16`);
      if (!this._cast || r === this._speed) {
        this._speed = r;
        return Promise.resolve();
      }
      const at = this.currentTime;
      const playing = this._playing;
      this._speed = r;
      this._create(at, false);
      return this._player.seek(at).then(() => (playing ? this._player.play() : undefined));
    }

    dispose() {
      this._destroyPlayer();
      this._cast = undefined;
    }
  }

  function clock(s) {
    const t = Math.max(0, Math.floor(s));
    const h = Math.floor(t / 3600);
    const m = Math.floor((t % 3600) / 60);
    const sec = String(t % 60).padStart(2, '0');
    return h ? `${h}:${String(m).padStart(2, '0')}:${sec}` : `${m}:${sec}`;
  }

  /** Wires the page (replay.html): picker, drop zone, controls, details. Returns the CastReplay. */
  function mountReplayPage(doc) {
    const $ = (id) => doc.getElementById(id);
    const status = $('replay-status');
    const view = $('replay-view');
    const metaList = $('replay-meta');
    const playBtn = $('replay-play');
    const seek = $('replay-seek');
    const time = $('replay-time');
    const speed = $('replay-speed');
    const drop = $('replay-open');
    const replay = new CastReplay($('replay-player'));
    let seeking = false;

    function say(text, isError) {
      status.textContent = text;
      status.classList.toggle('error', Boolean(isError));
    }

    function row(name, value, cls) {
      if (value === undefined || value === '') return;
      const dt = doc.createElement('dt');
      const dd = doc.createElement('dd');
      dt.textContent = name;
      dd.textContent = value;
      if (cls) dd.className = cls;
      metaList.append(dt, dd);
    }

    function markerButton(m) {
      const b = doc.createElement('button');
      b.type = 'button';
      b.textContent = `${clock(m.time)} ${m.label}`;
      b.addEventListener('click', () => replay.seek(m.time));
      return b;
    }

    function showMeta(meta, name) {
      metaList.replaceChildren();
      row('File', name);
      row('Identity', meta.user);
      row('Kind', meta.kind);
      row('Session', meta.session);
      row('Peer', meta.peer);
      row('Request', meta.requestId);
      row('Command', meta.command);
      row('Started', meta.started ? meta.started.toISOString().replace('.000Z', 'Z') : undefined);
      row('Length', clock(meta.duration));
      row('Size', `${meta.width}×${meta.height}`);
      row('Ended', meta.endStatus || 'no end marker (cut short)', meta.endStatus ? '' : 'warn');
      for (const d of meta.drops) row('Gap', `${clock(d.time)}: ${d.label}`, 'warn');
      if (meta.markers.length) {
        const dt = doc.createElement('dt');
        const dd = doc.createElement('dd');
        dt.textContent = 'Markers';
        dd.append(...meta.markers.map(markerButton));
        metaList.append(dt, dd);
      }
    }

    function tick() {
      const now = replay.currentTime;
      if (!seeking) seek.value = String(now);
      time.textContent = `${clock(now)} / ${clock(replay.duration)}`;
      playBtn.textContent = replay.playing ? 'Pause' : 'Play';
    }

    async function open(file) {
      if (!file) return;
      if (file.size > MAX_FILE_BYTES) {
        say(`${file.name}: too large (${file.size} bytes; at most ${MAX_FILE_BYTES})`, true);
        return;
      }
      try {
        const meta = replay.load(await file.text());
        showMeta(meta, file.name);
        seek.max = String(meta.duration);
        seek.value = '0';
        speed.value = '1';
        view.hidden = false;
        doc.title = `${file.name}: web-shell replay`;
        say(`Loaded ${file.name}: ${clock(meta.duration)}, ${meta.counts.o || 0} output events.`);
        tick();
      } catch (e) {
        say(`${file.name}: ${e.message}`, true);
      }
    }

    $('replay-file').addEventListener('change', (e) => open(e.target.files[0]));
    drop.addEventListener('dragover', (e) => { e.preventDefault(); drop.classList.add('over'); });
    drop.addEventListener('dragleave', () => drop.classList.remove('over'));
    drop.addEventListener('drop', (e) => {
      e.preventDefault();
      drop.classList.remove('over');
      open(e.dataTransfer.files[0]);
    });
    playBtn.addEventListener('click', () => (replay.playing ? replay.pause() : replay.play()));
    seek.addEventListener('input', () => { seeking = true; });
    seek.addEventListener('change', () => { seeking = false; replay.seek(Number(seek.value)); });
    speed.addEventListener('change', () => replay.setSpeed(Number(speed.value)));
    doc.addEventListener('keydown', (e) => {
      if (!replay.loaded || e.target.closest('input, select, textarea, button')) return;
      if (e.key === ' ') {
        e.preventDefault();
        if (replay.playing) replay.pause(); else replay.play();
      } else if (e.key === 'ArrowLeft') {
        replay.seek(replay.currentTime - 5);
      } else if (e.key === 'ArrowRight') {
        replay.seek(replay.currentTime + 5);
      } else if (e.key === '[' || e.key === ']') {
        replay.seekMarker(e.key === '[' ? 'prev' : 'next');
      }
    });
    for (const ev of ['play', 'pause', 'ended']) replay.addEventListener(ev, tick);
    setInterval(tick, 100);
    return replay;
  }

  const api = { parseCast, CastReplay, CastError, mountReplayPage };
  root.WebShellReplay = api;
  if (typeof document !== 'undefined' && document.body && document.body.hasAttribute('data-replay-page')) {
    root.webShellReplay = mountReplayPage(document);
  }
}(globalThis));
