// web-shell.js: the importable ES module of web-shell: keys, tokens, terminals and execCommand.
// Apps import this file; the page (file:// included) uses vendor/web-shell.classic.js, which
// `make` generates from these same modules (see bundle-classic.mjs).

export { WebShellError, generateKeyPair, exportPublicKeyPem, importPrivateKeyPem, jwsAlgorithm, saveKeys, loadKeys, forgetKeys } from './keys.js';
export { createJwt, decodeJwt } from './jwt.js';
export { resolveUrl, audienceFor } from './socket.js';
export { connectTerminal } from './terminal.js';
export { execCommand } from './exec.js';
