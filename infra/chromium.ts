/** Debian's chromium for the browser tests. */
import { existsSync } from 'node:fs';
import { aptInstall } from './apt';
import { loadConfig } from './config';

/** Debian's chromium, where the Web UI test and screenshots expect it. */
export const DEBIAN_CHROMIUM = '/usr/bin/chromium';

/** Flags for headless chromium on a CI machine: no sandbox, no GPU, nothing fetched in the background. */
export const CHROMIUM_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/**
 * The chromium to drive with playwright-core: ADOS_CHROMIUM_PATH, else Debian's, installed with
 * apt-get (as root, or through sudo) when it is missing. Nothing is downloaded from anywhere but
 * the Debian mirror.
 */
export function ensureChromium(): string {
  const given = loadConfig().ADOS_CHROMIUM_PATH;
  if (given) {
    if (!existsSync(given)) throw new Error(`ADOS_CHROMIUM_PATH=${given} does not exist`);
    return given;
  }
  if (existsSync(DEBIAN_CHROMIUM)) return DEBIAN_CHROMIUM;
  try {
    aptInstall(['chromium']);
  } catch (err) {
    throw new Error(
      `chromium is not installed at ${DEBIAN_CHROMIUM} and apt-get install chromium failed (${(err as Error).message}); install it, or set ADOS_CHROMIUM_PATH`,
    );
  }
  if (!existsSync(DEBIAN_CHROMIUM))
    throw new Error(`apt-get install chromium did not provide ${DEBIAN_CHROMIUM}; set ADOS_CHROMIUM_PATH`);
  return DEBIAN_CHROMIUM;
}
