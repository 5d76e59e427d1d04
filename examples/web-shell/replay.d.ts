// replay.d.ts: types of replay.js (globalThis.WebShellReplay), the example app's replay page.

/** A recording that cannot be played; line is the 1-based line at fault, if any. */
export declare class CastError extends Error {
  readonly line?: number;
}

/** One asciicast v2 event as in the file: seconds from the start, code, data. */
export type CastEvent = [time: number, code: 'o' | 'e' | 'i' | 'r' | 'm' | string, data: string];

export interface CastMarker { time: number; label: string; }

/** What the page shows about a recording (the "webshell" header fields and the markers). */
export interface CastMeta {
  width: number;
  height: number;
  /** Seconds from the first to the last event. */
  duration: number;
  started?: Date;
  title?: string;
  term?: string;
  shell?: string;
  kind?: 'terminal' | 'exec' | string;
  user?: string;
  /** The session id's first 8 hex digits. */
  session?: string;
  peer?: string;
  requestId?: string;
  command?: string;
  /** "exit N", "signal N", ...: the end marker; undefined when the file was cut short. */
  endStatus?: string;
  /** Markers saying bytes were left out ("dropped N bytes (why)"). */
  drops: CastMarker[];
  markers: CastMarker[];
  /** Events per code. */
  counts: Record<string, number>;
}

/** Parses a .cast text; throws CastError. */
export declare function parseCast(text: string): { header: Record<string, unknown>; events: CastEvent[]; meta: CastMeta };

export interface CastReplayEventMap {
  load: CustomEvent<CastMeta>;
  play: Event;
  pause: Event;
  ended: Event;
}

/** One recording played in a container by asciinema-player. */
export declare class CastReplay extends EventTarget {
  constructor(container: HTMLElement, options?: { player?: unknown });
  /** Parses and shows the first frame, paused; throws CastError. */
  load(text: string): CastMeta;
  readonly loaded: boolean;
  readonly meta: CastMeta | undefined;
  /** Seconds. */
  readonly duration: number;
  readonly currentTime: number;
  readonly playing: boolean;
  readonly speed: number;
  play(): Promise<unknown>;
  pause(): Promise<unknown>;
  /** Seconds, clamped to the recording. */
  seek(seconds: number): Promise<unknown>;
  seekMarker(which: 'prev' | 'next'): Promise<unknown>;
  /** 0.1 to 16; keeps the position and play/pause. */
  setSpeed(rate: number): Promise<void>;
  dispose(): void;
  addEventListener<K extends keyof CastReplayEventMap>(type: K, listener: (ev: CastReplayEventMap[K]) => void): void;
}

/** Wires replay.html; returns its CastReplay (also globalThis.webShellReplay). */
export declare function mountReplayPage(doc: Document): CastReplay;

declare global {
  // eslint-disable-next-line no-var
  var WebShellReplay: {
    parseCast: typeof parseCast;
    CastReplay: typeof CastReplay;
    CastError: typeof CastError;
    mountReplayPage: typeof mountReplayPage;
  };
}
