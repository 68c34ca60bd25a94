import fs from 'node:fs';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';

/** Debian's chromium (scripts/install-test-deps.sh); playwright's own download does not work here. */
export const CHROMIUM = '/usr/bin/chromium';

export const browserMissing = fs.existsSync(CHROMIUM)
  ? false
  : `${CHROMIUM} is missing (apt-get install chromium)`;

export interface TestBrowser {
  browser: Browser;
  context: BrowserContext;
  /** Every alert/confirm/prompt and console error: a script injected through data would show here. */
  incidents: string[];
  newPage(): Promise<Page>;
}

/**
 * One headless chromium per test file, with a fresh profile (playwright gives every launch its
 * own temporary --user-data-dir and refuses one in `args`). `hostRules` maps the virtual host
 * names (`mdb`, `udb`) to the address Gatehouse listens on; `executable` lets a test run the
 * browser inside a network namespace through a wrapper script.
 */
export async function launchBrowser(
  t: { teardown(fn: () => void | Promise<void>): void },
  opts: { hostRules?: string; executable?: string } = {},
): Promise<TestBrowser> {
  const args = [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
  ];
  if (opts.hostRules) args.push(`--host-resolver-rules=${opts.hostRules}`);
  const browser = await chromium.launch({
    executablePath: opts.executable ?? CHROMIUM,
    args,
    timeout: 60_000,
  });
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const incidents: string[] = [];
  t.teardown(async () => {
    await browser.close().catch(() => {});
  });
  return {
    browser,
    context,
    incidents,
    async newPage() {
      const page = await context.newPage();
      page.on('dialog', (d) => {
        incidents.push(`dialog ${d.type()}: ${d.message()}`);
        void d.dismiss().catch(() => {});
      });
      page.on('console', (m) => {
        // HTTP error statuses (a 400 form page, the favicon) are not incidents; a script the
        // CSP refused ("Refused to execute inline script…") is one.
        if (m.type() === 'error' && !m.text().startsWith('Failed to load resource'))
          incidents.push(`console error: ${m.text()}`);
      });
      page.on('pageerror', (e) => incidents.push(`page error: ${e.message}`));
      return page;
    },
  };
}
