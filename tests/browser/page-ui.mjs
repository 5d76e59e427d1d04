// tests/browser/page-ui.mjs: how the page tests use the example app as a person would: open its
// dialogs from the menu, make a key and have jwt-verify trust it, connect, type into the terminal.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { openssl } from '../webshell-js/helpers.mjs';
import { waitTerminal } from './stack.mjs';

/** Chooses a menu item by its data-action (keys, files, run, sessions, search, reconnect, settings). */
export async function menu(page, action) {
  await page.click('#menu-btn');
  await page.click(`#menu [data-action=${action}]`);
}

/** Opens the Keys dialog (from the menu). */
export async function openKeys(page) {
  await menu(page, 'keys');
  await page.waitForSelector('#keys-dialog[open]');
}

/** Closes whichever dialog is open. */
export async function closeDialog(page) {
  await page.keyboard.press('Escape');
  await page.waitForFunction(() => !document.querySelector('dialog[open]'));
}

/** Types into the active terminal as a user would (keyboard events into xterm's textarea). */
export async function typeLine(page, text) {
  await page.locator('.pane:not([hidden]) .xterm-helper-textarea').focus();
  await page.keyboard.type(text);
  await page.keyboard.press('Enter');
}

/** Waits for the toolbar's connection state (idle, connecting, open, reconnecting, closed, error). */
export async function waitState(page, state, timeout = 10000) {
  await page.waitForFunction((s) => document.getElementById('conn-state').dataset.state === s, state, { timeout });
}

/**
 * A fresh Ed25519 key imported into the page (through the Keys dialog) and trusted by
 * jwt-verify (restarted with keyFiles plus this one). Returns the PEM file of the public key.
 */
export async function trustNewKey(page, stack, keyFiles, name) {
  const priv = openssl(['genpkey', '-algorithm', 'ed25519']).toString();
  const file = join(stack.work, `${name}.pem`);
  writeFileSync(file, openssl(['pkey', '-pubout'], priv));
  keyFiles.push(file);
  await stack.startVerifier(keyFiles);
  await page.evaluate(async (pem) => { webShellApp.pair = await WebShell.importPrivateKeyPem(pem); }, priv);
  return file;
}

/** Connects the active tab and waits for the prompt. */
export async function connect(page) {
  await page.click('#connect-btn');
  await waitState(page, 'open');
  await waitTerminal(page, /[#$] ?$/m);
}
