// Drives Debian's Chromium through wstap with playwright-core (never a
// downloaded browser): opens PAGE_URL, waits until the page sets
// window.done, and prints window.results as JSON on stdout.
//
// usage: node run.js PAGE_URL PROXY_URL USER_DATA_DIR
'use strict';
const { chromium } = require('playwright-core');

async function main() {
  const [pageURL, proxyURL, userDataDir] = process.argv.slice(2);
  const ctx = await chromium.launchPersistentContext(userDataDir, {
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    ignoreHTTPSErrors: true,
    args: [
      '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      `--proxy-server=${proxyURL}`, '--proxy-bypass-list=<-loopback>',
      '--ignore-certificate-errors',
    ],
  });
  const timer = setTimeout(() => { console.error('browser run timed out'); process.exit(2); }, 40000);
  try {
    const page = await ctx.newPage();
    page.on('console', (m) => console.error('page:', m.text()));
    await page.goto(pageURL, { timeout: 20000 });
    await page.waitForFunction(() => window.done === true, null, { timeout: 20000 });
    console.log(JSON.stringify(await page.evaluate(() => window.results)));
  } finally {
    clearTimeout(timer);
    await ctx.close();
  }
}

main().catch((e) => { console.error(e && e.stack || e); process.exit(1); });
