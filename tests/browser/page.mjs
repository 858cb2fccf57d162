// The daemon's page in a real browser: Debian's Chromium or Firefox ESR, headless, driven by
// puppeteer-core (Chromium over CDP, Firefox over WebDriver BiDi; it never downloads a browser).
// Called by the daemon's stack test (verifier/tests/stack/daemon.rs), once per browser:
//   node tests/browser/page.mjs chromium|firefox BASE_URL FINISHED_RUN LIVE_RUN OUT_DIR [TOKEN_FILE]
//   1. `/` lists both runs; the finished one with its verdict (screenshot runs.png)
//   2. the live run's link opens its live page, whose numbers change without a reload (live.png)
//   3. that page turns into the run's report when the run is accounted for (live-done.png)
//   4. the finished run's page is its report with its charts (report.png), and reads without
//      JavaScript (the report's tables and charts are there with scripts off)
//   5. with TOKEN_FILE (the daemon started with --allow-start): the form on `/` starts a bulk
//      run of 200 with the token read from that file, and leads to its page, which becomes its
//      report (started.png)
// Fails on any request to a host other than the daemon's, and on any error in the page.
import puppeteer from 'puppeteer-core';
import { mkdirSync, readFileSync } from 'node:fs';

const [name, base, finished, live, out, tokenFile] = process.argv.slice(2);
const BROWSERS = {
  chromium: {
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: [
      '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
    ],
  },
  firefox: { browser: 'firefox', executablePath: process.env.FIREFOX || '/usr/bin/firefox-esr' },
};
if (!out || !BROWSERS[name]) {
  console.error('usage: node page.mjs chromium|firefox BASE_URL FINISHED_RUN LIVE_RUN OUT_DIR [TOKEN_FILE]');
  process.exit(2);
}
mkdirSync(out, { recursive: true });
const daemon = new URL(base).host;
const foreign = [];
const errors = [];
const say = (m) => console.error(`[web-test ${name}] ${m}`);
const fail = (m) => {
  throw new Error(m);
};

// A browser with scripts on, or off: Chromium turns them off per page, Firefox (whose WebDriver
// BiDi has no such command) by a preference of the profile it is started with.
async function launch(scripts) {
  const prefs = scripts ? {} : { extraPrefsFirefox: { 'javascript.enabled': false } };
  return puppeteer.launch({ headless: true, protocolTimeout: 60000, ...BROWSERS[name], ...prefs });
}

async function newPage(browser, scripts = true) {
  const page = await browser.newPage();
  await page.setViewport({ width: 1280, height: 900 });
  if (!scripts && name === 'chromium') await page.setJavaScriptEnabled(false);
  page.on('request', (r) => {
    const url = new URL(r.url());
    if (url.protocol !== 'data:' && url.host !== daemon) foreign.push(r.url());
  });
  page.on('response', (r) => r.status() >= 400 && errors.push(`${r.status()} for ${r.url()}`));
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
  return page;
}

// Waits until an element matching `sel` whose text includes (or matches) `text` is on the page,
// through reloads, and answers its text.
async function text(page, sel, want, timeout) {
  const pattern = want instanceof RegExp ? want.source : null;
  const handle = await page.waitForFunction(
    (s, plain, re) => {
      const hit = [...document.querySelectorAll(s)].find((e) =>
        re ? new RegExp(re).test(e.textContent) : e.textContent.includes(plain));
      return hit && hit.textContent;
    },
    { timeout, polling: 200 },
    sel, pattern ? '' : want, pattern,
  );
  return handle.jsonValue();
}

// Counted by evaluate, not $$eval: Firefox with scripts off never answers puppeteer's $$ (its
// query helper runs as a page script).
const count = (page, sel) => page.evaluate((s) => document.querySelectorAll(s).length, sel);
const progress = (page) => page.evaluate(() => {
  const c = [...document.querySelectorAll('#progress .card')].find((e) => e.textContent.includes('in MongoDB'));
  return c ? c.querySelector('b').textContent : null;
});

async function liveAndFinished(page) {
  // 1. the runs, newest first
  await page.goto(`${base}/`);
  await page.waitForSelector(`a[href="/runs/${live}"]`, { timeout: 30000 });
  await page.waitForSelector(`tr[data-run="${finished}"] td.pass`, { timeout: 30000 });
  await page.screenshot({ path: `${out}/runs.png`, fullPage: true });
  say(`/ lists run ${live} (live) and run ${finished} (pass)`);

  // 2. the live page: numbers change without a reload (a mark left on the window survives)
  await Promise.all([page.waitForNavigation(), page.click(`a[href="/runs/${live}"]`)]);
  if (!page.url().endsWith(`/runs/${live}`)) fail(`the live run's link led to ${page.url()}`);
  await text(page, '#progress .card', 'in MongoDB', 10000);
  const first = await progress(page);
  await page.evaluate(() => { window.stillThisPage = true; });
  await page.waitForFunction(
    (before) => {
      const c = [...document.querySelectorAll('#progress .card')].find((e) => e.textContent.includes('in MongoDB'));
      return c && c.querySelector('b').textContent !== before;
    },
    { timeout: 20000, polling: 200 },
    first,
  );
  const second = await progress(page);
  if (!(await page.evaluate(() => window.stillThisPage === true))) {
    fail('the live page reloaded to change its numbers');
  }
  await page.waitForSelector('svg[aria-label="end to end per second"] polyline', { timeout: 20000 });
  await page.screenshot({ path: `${out}/live.png`, fullPage: true });
  say(`run ${live}'s live page: in MongoDB ${first} -> ${second} without a reload, its charts drawn`);

  // 3. the run accounted for: the page becomes its report
  await text(page, 'h1', `Run ${live}: PASS`, 90000);
  await page.screenshot({ path: `${out}/live-done.png`, fullPage: true });
  say(`run ${live}'s page turned into its report: PASS`);

  // 4. a finished run's report, with its charts
  await page.goto(`${base}/runs/${finished}`);
  await text(page, 'h1', `Run ${finished}: PASS`, 10000);
  for (const chart of ['end to end per second', 'events per second', 'latency by percentile']) {
    if ((await count(page, `svg[aria-label="${chart}"] polyline`)) === 0) {
      fail(`run ${finished}'s report has no "${chart}" chart`);
    }
  }
  await page.screenshot({ path: `${out}/report.png`, fullPage: true });
}

// 4, continued: the report reads without JavaScript.
async function withoutScripts() {
  const browser = await launch(false);
  try {
    const plain = await newPage(browser, false);
    await plain.goto(`${base}/runs/${finished}`);
    const stages = await plain.evaluate(() => [...document.querySelectorAll('table td')]
      .filter((td) => td.textContent.includes('end_to_end')).length);
    const charts = await count(plain, 'svg polyline');
    if (stages === 0 || charts === 0) fail(`without JavaScript the report shows ${stages} stage rows, ${charts} curves`);
    say(`run ${finished}'s report: its three charts, and readable without JavaScript`);
  } finally {
    await browser.close();
  }
}

// 5. a run started from the page's form
async function startFromForm(page) {
  await page.goto(`${base}/`);
  await page.$eval('form#start input[name=events]', (e) => { e.value = ''; });
  await page.type('form#start input[name=events]', '200');
  await page.type('form#start input[name=token]', readFileSync(tokenFile, 'utf8').trim());
  await Promise.all([page.waitForNavigation(), page.click('form#start button')]);
  const h1 = await text(page, 'h1', /^Run \d+: PASS$/, 60000);
  if (!/\/runs\/\d+$/.test(page.url())) fail(`the started run's page is at ${page.url()}`);
  await page.screenshot({ path: `${out}/started.png`, fullPage: true });
  say(`the form started a run of 200: ${h1} at ${page.url()}`);
}

const browser = await launch(true);
try {
  say(`driving ${await browser.version()}`);
  const page = await newPage(browser);
  await liveAndFinished(page);
  await withoutScripts();
  if (tokenFile) await startFromForm(page);
  if (foreign.length) fail(`requests to other hosts than ${daemon}: ${foreign.join(', ')}`);
  if (errors.length) fail(`errors in the page: ${errors.join(' | ')}`);
  say(`no request left ${daemon}; no error in the page; screenshots in ${out}`);
} catch (e) {
  say(`FAILED: ${e.message}`);
  process.exitCode = 1;
} finally {
  await browser.close();
}
