// The daemon's page in a real browser (Debian's Chromium, headless, driven by playwright-core).
// Called by the daemon's stack test (verifier/tests/stack/daemon.rs):
//   node tests/browser/page.mjs BASE_URL FINISHED_RUN LIVE_RUN OUT_DIR [TOKEN_FILE]
//   1. `/` lists both runs; the finished one with its verdict (screenshot runs.png)
//   2. the live run's link opens its live page, whose numbers change without a reload (live.png)
//   3. that page turns into the run's report when the run is accounted for (live-done.png)
//   4. the finished run's page is its report with its charts (report.png), and reads without
//      JavaScript (the report's tables and charts are there with scripts off)
//   5. with TOKEN_FILE (the daemon started with --allow-start): the form on `/` starts a bulk
//      run of 200 with the token read from that file, and leads to its page, which becomes its
//      report (started.png)
// Fails on any request to a host other than the daemon's, and on any error in the page.
import { chromium } from 'playwright-core';
import { mkdirSync, readFileSync } from 'node:fs';

const [base, finished, live, out, tokenFile] = process.argv.slice(2);
if (!out) {
  console.error('usage: node page.mjs BASE_URL FINISHED_RUN LIVE_RUN OUT_DIR');
  process.exit(2);
}
mkdirSync(out, { recursive: true });
const daemon = new URL(base).host;
const foreign = [];
const errors = [];
const say = (m) => console.error(`[web-test] ${m}`);
const fail = (m) => {
  throw new Error(m);
};

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: [
    '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
  ],
});

async function newPage(options = {}) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, ...options });
  const page = await context.newPage();
  page.on('request', (r) => {
    const url = new URL(r.url());
    if (url.protocol !== 'data:' && url.host !== daemon) foreign.push(r.url());
  });
  page.on('response', (r) => r.status() >= 400 && errors.push(`${r.status()} for ${r.url()}`));
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
  return page;
}

try {
  const page = await newPage();
  // 1. the runs, newest first
  await page.goto(`${base}/`);
  const liveLink = page.locator(`a[href="/runs/${live}"]`);
  await liveLink.waitFor({ timeout: 30000 });
  const done = page.locator(`tr[data-run="${finished}"] td.pass`);
  await done.waitFor({ timeout: 30000 });
  await page.screenshot({ path: `${out}/runs.png`, fullPage: true });
  say(`/ lists run ${live} (live) and run ${finished} (pass)`);

  // 2. the live page: numbers change without a reload
  await liveLink.click();
  await page.waitForURL(`**/runs/${live}`);
  const card = page.locator('#progress .card', { hasText: 'in MongoDB' }).locator('b');
  await card.waitFor({ timeout: 10000 });
  const first = await card.textContent();
  const navigations = [];
  page.on('framenavigated', (f) => f === page.mainFrame() && navigations.push(f.url()));
  await page.waitForFunction(
    ([sel, before]) => {
      const cards = [...document.querySelectorAll(sel)];
      const c = cards.find((e) => e.textContent.includes('in MongoDB'));
      return c && c.querySelector('b').textContent !== before;
    },
    ['#progress .card', first],
    { timeout: 20000 },
  );
  const second = await card.textContent();
  if (navigations.length) fail(`the live page reloaded to change its numbers: ${navigations}`);
  await page.locator('svg[aria-label="end to end per second"] polyline').first().waitFor({ timeout: 20000 });
  await page.screenshot({ path: `${out}/live.png`, fullPage: true });
  say(`run ${live}'s live page: in MongoDB ${first} -> ${second} without a reload, its charts drawn`);

  // 3. the run accounted for: the page becomes its report
  await page.locator('h1', { hasText: `Run ${live}: PASS` }).waitFor({ timeout: 90000 });
  await page.screenshot({ path: `${out}/live-done.png`, fullPage: true });
  say(`run ${live}'s page turned into its report: PASS`);

  // 4. a finished run's report, with its charts, and without JavaScript
  await page.goto(`${base}/runs/${finished}`);
  await page.locator('h1', { hasText: `Run ${finished}: PASS` }).waitFor({ timeout: 10000 });
  for (const chart of ['end to end per second', 'events per second', 'latency by percentile']) {
    const lines = await page.locator(`svg[aria-label="${chart}"] polyline`).count();
    if (lines === 0) fail(`run ${finished}'s report has no "${chart}" chart`);
  }
  await page.screenshot({ path: `${out}/report.png`, fullPage: true });
  const plain = await newPage({ javaScriptEnabled: false });
  await plain.goto(`${base}/runs/${finished}`);
  const stages = await plain.locator('table td', { hasText: 'end_to_end' }).count();
  const charts = await plain.locator('svg polyline').count();
  if (stages === 0 || charts === 0) fail(`without JavaScript the report shows ${stages} stage rows, ${charts} curves`);
  say(`run ${finished}'s report: its three charts, and readable without JavaScript`);

  // 5. a run started from the page's form
  if (tokenFile) {
    await page.goto(`${base}/`);
    const form = page.locator('form#start');
    await form.locator('input[name=events]').fill('200');
    await form.locator('input[name=token]').fill(readFileSync(tokenFile, 'utf8').trim());
    await form.locator('button').click();
    const h1 = page.locator('h1', { hasText: /^Run \d+: PASS$/ });
    await h1.waitFor({ timeout: 60000 });
    if (!/\/runs\/\d+$/.test(page.url())) fail(`the started run's page is at ${page.url()}`);
    await page.screenshot({ path: `${out}/started.png`, fullPage: true });
    say(`the form started a run of 200: ${await h1.textContent()} at ${page.url()}`);
  }

  if (foreign.length) fail(`requests to other hosts than ${daemon}: ${foreign.join(', ')}`);
  if (errors.length) fail(`errors in the page: ${errors.join(' | ')}`);
  say(`no request left ${daemon}; no error in the page; screenshots in ${out}`);
} catch (e) {
  say(`FAILED: ${e.message}`);
  process.exitCode = 1;
} finally {
  await browser.close();
}
