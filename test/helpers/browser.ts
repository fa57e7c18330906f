/** Headless Chromium for tests that open a page (the report), driven by playwright-core without a browser download. */
import { existsSync } from 'node:fs';

/** CHROMIUM_PATH when set, else the Debian / Ubuntu package's binary; undefined when that is not there. */
export const CHROMIUM: string | undefined = (process.env.CHROMIUM_PATH !== undefined ? [process.env.CHROMIUM_PATH]
  : ['/usr/bin/chromium', '/usr/bin/chromium-browser']).find(existsSync);

/**
 * The `skip` option of a test that needs Chromium: false when it is installed, and under CI=true (where its
 * absence must fail the test, not hide it); otherwise the reason for skipping.
 */
export const needsChromium: false | string = CHROMIUM !== undefined || process.env.CI === 'true'
  ? false
  : 'Chromium is not installed (apt-get install chromium, or set CHROMIUM_PATH)';

/** Arguments for a headless run that also works as root (no sandbox) and in small containers. */
export const CHROMIUM_ARGS = ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu'];
