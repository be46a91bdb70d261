import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { AxeBuilder } from '@axe-core/playwright';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll } from 'vitest';

/**
 * A real Chromium for the console's browser tests, driven by playwright-core: the system's Chromium (Debian's
 * `chromium`, which `.ci/run` installs), or any Chromium or Chrome named by CONSOLE_TEST_CHROMIUM. Playwright's own
 * browser download is never used.
 */
export const CHROMIUM_VARIABLE = 'CONSOLE_TEST_CHROMIUM';
const DEBIAN_CHROMIUM = '/usr/bin/chromium';

/** Width of the pages the tests look at, and of the screenshots in docs/. */
const VIEWPORT = { width: 1280, height: 800 } as const;

/**
 * This machine has no internet, and Chromium otherwise reaches out to Google (updates, sync, field trials, QUIC
 * probes) at start; without a sandbox because CI runs as root in a container.
 */
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export class TestBrowserMissingError extends Error {
  public override readonly name = 'TestBrowserMissingError';
  public readonly code = 'TEST_BROWSER_MISSING';

  public constructor(path: string) {
    super(
      `no Chromium at ${path}: install Debian's chromium (.ci/run does), or set ${CHROMIUM_VARIABLE} to any ` +
        'Chromium or Chrome executable',
    );
  }
}

function chromiumPath(): string {
  const path = process.env[CHROMIUM_VARIABLE] ?? DEBIAN_CHROMIUM;
  if (!existsSync(path)) throw new TestBrowserMissingError(path);
  return path;
}

/** Headless Chromium in a fresh profile (Playwright gives each launch a temporary user-data-dir). */
export async function launchChromium(): Promise<Browser> {
  return await chromium.launch({ executablePath: chromiumPath(), headless: true, args: CHROMIUM_ARGS });
}

export interface BrowserSession {
  /** A page in a context of its own (no cookies from other tests), closed after the test. */
  newPage(): Promise<Page>;
}

/** One browser for the calling test file, launched before its tests and closed after them. */
export function useBrowser(): BrowserSession {
  let browser: Browser | undefined;
  const contexts: BrowserContext[] = [];
  beforeAll(async () => {
    browser = await launchChromium();
  });
  afterEach(async () => {
    await Promise.all(contexts.splice(0).map((context) => context.close()));
  });
  afterAll(async () => {
    await browser?.close();
  });
  return {
    newPage: async () => {
      if (browser === undefined) throw new Error('the browser is not launched yet (call newPage in a test)');
      const context = await browser.newContext({ viewport: VIEWPORT });
      contexts.push(context);
      // A page of the local console answers in milliseconds; a missing element should fail well before the test.
      context.setDefaultTimeout(10_000);
      return await context.newPage();
    },
  };
}

export interface AccessibilityViolation {
  readonly id: string;
  readonly impact: string;
  readonly help: string;
  /** The offending elements' selectors. */
  readonly targets: readonly string[];
}

/** axe-core's violations on the page as it stands, those of impact serious or critical. */
export async function seriousViolations(page: Page): Promise<AccessibilityViolation[]> {
  const { violations } = await new AxeBuilder({ page }).analyze();
  return violations
    .filter((violation) => violation.impact === 'serious' || violation.impact === 'critical')
    .map((violation) => ({
      id: violation.id,
      impact: violation.impact ?? '',
      help: violation.help,
      targets: violation.nodes.map((node) => node.target.join(' ')),
    }));
}

const DOCS = fileURLToPath(new URL('../../docs/', import.meta.url));

/**
 * With CONSOLE_SCREENSHOTS=1, saves the whole page, 1280 pixels wide, as docs/console-<name>.png; otherwise does
 * nothing, so that a test run leaves the tree as it was.
 */
export async function saveScreenshot(page: Page, name: string): Promise<void> {
  if (process.env.CONSOLE_SCREENSHOTS !== '1') return;
  await page.screenshot({ path: `${DOCS}console-${name}.png`, fullPage: true });
}
