// web-shell.js: the ES module of web-shell: keys, tokens, terminals, commands and files, with no
// dependency of its own (xterm.js classes come from the app or the page's globals). The package
// entry index.js adds the xterm.js packages; the page (file:// included) uses
// vendor/web-shell.classic.js, which `make` generates from these same modules (bundle-classic.mjs).

export { WebShellError, generateKeyPair, exportPublicKeyPem, importPrivateKeyPem, jwsAlgorithm, keyThumbprint, saveKeys, loadKeys, forgetKeys } from './keys.js';
export { createJwt, decodeJwt, MAX_LIFETIME_SEC } from './jwt.js';
export { resolveUrl, audienceFor } from './socket.js';
export { connectTerminal } from './terminal.js';
export { connect, execCommand, listSessions } from './exec.js';
export { uploadFile, downloadFile } from './files.js';
