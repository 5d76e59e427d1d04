// index.js: the package entry (`import ... from 'web-shell'`): everything web-shell.js exports,
// with connectTerminal() defaulting to the xterm.js packages this package depends on (terminal,
// fit, unicode11, web links, clipboard), so an app needs no globals. An app may still pass its
// own Terminal instance or classes in the options; those win.
import { ClipboardAddon } from '@xterm/addon-clipboard';
import { FitAddon } from '@xterm/addon-fit';
import { Unicode11Addon } from '@xterm/addon-unicode11';
import { WebLinksAddon } from '@xterm/addon-web-links';
import { Terminal } from '@xterm/xterm';
import { connectTerminal as connectWithClasses } from './web-shell.js';

export * from './web-shell.js';

/** connectTerminal of web-shell.js with the xterm.js packages as defaults. */
export function connectTerminal(element, options = {}) {
  return connectWithClasses(element, { Terminal, FitAddon, Unicode11Addon, WebLinksAddon, ClipboardAddon, ...options });
}
