// Opens a running bull-board (board.js) in headless Chromium and reads what it shows a person:
// the overview's queue cards, each queue's status tabs with their counts and its workers badge,
// and the Data and Error tabs of chosen jobs' detail pages. The browser is Debian's `chromium`
// (never a downloaded one); every request that is not to the board is refused, so nothing
// reaches the internet (bull-board's page links a web font, which simply falls back).
// argv[2]: {url, queues?: [string] (the queue pages to read; default: every queue on the overview),
//   jobs?: [{queue, id}], screenshot?: path (the overview, 1280x800),
//   chromium?: path (default /usr/bin/chromium), deadlineMs?}
// result: {overview: {queues: [{name, total, workers}], totals: {status: n}},
//   queues: {name: {counts: {status: n}, workers}}, jobs: [{queue, id, title, data, error}],
//   blocked: [url]}
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');
const { chromium } = require('playwright-core');
const { args, finish, run } = require('./lib');

// The flags that keep a headless Chromium quiet and local on a server without a GPU or sandbox.
const FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
const WAIT_MS = 15000;

// The status tabs of the page: {waiting: 2, delayed: 1, completed: 0, ...}. A tab shows a badge
// only when its count is not zero; `latest`/`all` are views, not states.
async function statusCounts(page) {
  return page.$$eval('ul[class*="statusTabs-"] a[href*="status="]', (links) => {
    const counts = {};
    for (const link of links) {
      const status = new URL(link.href).searchParams.get('status');
      const badge = link.querySelector('span[class*="badge-"]');
      counts[status] = badge ? Number(badge.textContent.trim().replace(/[^0-9]/g, '')) : 0;
    }
    return counts;
  });
}

// bull-board badges a queue "No workers" when nothing consumes it and shows no badge otherwise:
// the badge's text, or null when the queue has workers.
function noWorkersBadge(within) {
  const badge = within.querySelector('button[class*="workersBadge-"]');
  return badge ? badge.textContent.trim() : null;
}

async function overview(page, base) {
  await page.goto(base);
  // The cards appear once the first /api/queues answer is rendered.
  await page.waitForSelector('ul[class*="overview-"] a[title]', { timeout: WAIT_MS });
  const queues = await page.$$eval('ul[class*="overview-"] > li', (cards) =>
    cards.map((card) => ({
      name: card.querySelector('a[title]').getAttribute('title'),
      // "1 Job", "12 Jobs"
      total: parseInt(card.querySelector('span[class*="total-"]').textContent.replace(/[^0-9]/g, ''), 10),
      // As noWorkersBadge (this runs in the page, which cannot call it).
      workers: card.querySelector('button[class*="workersBadge-"]')?.textContent.trim() ?? null,
    })),
  );
  return { queues, totals: await statusCounts(page) };
}

// Follows the sidebar link, as a person would, and reads the queue page.
async function queuePage(page, name) {
  await page.click(`#bull-board-sidebar a[title="${name.replace(/"/g, '\\"')}"]`);
  await page.waitForFunction(
    (queue) => {
      const active = document.querySelector('ul[class*="statusTabs-"] a[aria-current="page"]');
      return active && decodeURIComponent(new URL(active.href).pathname).endsWith(`/queue/${queue}`);
    },
    name,
    { timeout: WAIT_MS },
  );
  const workers = await page.$eval('main', noWorkersBadge);
  return { counts: await statusCounts(page), workers };
}

// The text of the job's detail page under its Data tab, then its Error tab.
async function jobPage(page, base, job) {
  await page.goto(new URL(`queue/${encodeURIComponent(job.queue)}/${encodeURIComponent(job.id)}`, base).href);
  await page.waitForSelector('[role="tab"]', { timeout: WAIT_MS });
  const title = await page.$eval('main [class*="jobId-"]', (id) => id.parentElement.textContent.trim());
  // `previous`: the text of the tab shown before, which the panel keeps until React renders the
  // clicked one (read too early, the Error tab showed nothing on a loaded machine).
  const tab = async (label, previous) => {
    await page.getByRole('tab', { name: label, exact: true }).first().click();
    const panel = page.locator('[role="tabpanel"]').first();
    await panel.waitFor({ timeout: WAIT_MS });
    // The JSON view folds deep objects; unfold them all, as a person reading the job would.
    const folded = panel.locator('[aria-label="expand JSON"]');
    for (let i = 0; i < 100 && (await folded.count()) > 0; i += 1) {
      await folded.first().click();
    }
    const until = Date.now() + WAIT_MS;
    let text = (await panel.innerText()).trim();
    while ((text === '' || text === previous) && Date.now() < until) {
      await page.waitForTimeout(20);
      text = (await panel.innerText()).trim();
    }
    return text;
  };
  const data = await tab('Data');
  return { queue: job.queue, id: job.id, title, data, error: await tab('Error', data) };
}

run(async () => {
  const spec = args(['url']);
  const executablePath = spec.chromium || '/usr/bin/chromium';
  if (!fs.existsSync(executablePath)) {
    throw new Error(`no Chromium at ${executablePath}: apt-get install chromium chromium-driver`);
  }
  const base = new URL(spec.url);
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'guildhost-board-chromium-'));
  const browser = await chromium.launchPersistentContext(profile, {
    executablePath,
    headless: true,
    args: FLAGS,
    viewport: { width: 1280, height: 800 },
    locale: 'en-US',
    timezoneId: 'UTC',
  });
  let result;
  try {
    const page = browser.pages()[0] || (await browser.newPage());
    const blocked = [];
    await page.route('**/*', (route) => {
      const url = new URL(route.request().url());
      if (url.host === base.host) return route.continue();
      blocked.push(url.href);
      return route.abort();
    });
    result = { overview: await overview(page, base.href), queues: {}, jobs: [], blocked };
    if (spec.screenshot) {
      // The overview as it is first seen: the top of the page, sidebar and first queue cards.
      await page.screenshot({ path: spec.screenshot });
    }
    const names = spec.queues || result.overview.queues.map((queue) => queue.name);
    for (const name of names) {
      result.queues[name] = await queuePage(page, name);
    }
    for (const job of spec.jobs || []) {
      result.jobs.push(await jobPage(page, base.href, job));
    }
  } finally {
    await browser.close().catch(() => undefined);
    fs.rmSync(profile, { recursive: true, force: true });
  }
  await finish(result, []);
});
