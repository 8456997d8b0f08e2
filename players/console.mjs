// Console test: drive `vodfarm serve` in Debian's headless Chromium, as content ops
// would, while the test (vodfarm/tests/console.rs) runs the farm. Prints one JSON line
// per check ({"check", "ok", ...}); exits 1 if any failed. Sync points: the script
// prints {"wait": NAME} and reads one line from stdin once the test has done NAME.
//
// usage: node console.mjs BASE_URL TOKEN PUBLISHED FAILED HOSTILE SCREENSHOT
//   PUBLISHED: the title that publishes with a per-title ladder (progress watched from
//   before the workers start); FAILED: the title whose master the test removed;
//   HOSTILE: a title whose stored records hold markup; SCREENSHOT: a JPEG to write (the README's picture).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { chromium } from 'playwright-core';

const [base, token, published, failedTitle, hostile, shot] = process.argv.slice(2);
if (!shot) { console.error('usage: node console.mjs BASE_URL TOKEN PUBLISHED FAILED HOSTILE SCREENSHOT'); process.exit(2); }
const lines = readline.createInterface({ input: process.stdin })[Symbol.asyncIterator]();
const wait = async (name) => { console.log(JSON.stringify({ wait: name })); await lines.next(); };
let failures = 0;
const check = (name, ok, extra = {}) => {
  if (!ok) failures++;
  console.log(JSON.stringify({ check: name, ok: !!ok, ...extra }));
};
const T = 240_000; // generous: CI machines have 2 cores

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vodfarm-chromium-'));
const ctx = await chromium.launchPersistentContext(dir, {
  executablePath: '/usr/bin/chromium', headless: true, viewport: { width: 1280, height: 900 },
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--autoplay-policy=no-user-gesture-required'],
});
const page = ctx.pages()[0] || await ctx.newPage();
const consoleErrors = [];
page.on('pageerror', (e) => consoleErrors.push(String(e)));
const pwned = () => page.evaluate(() => window.pwned);
const row = (title) => page.evaluate((t) => {
  const r = [...document.querySelectorAll('tr[data-title]')].find((x) => x.dataset.title === t);
  return r ? { state: r.dataset.state, percent: Number(r.dataset.percent), text: r.textContent } : null;
}, title);
const flashText = () => page.evaluate(() => document.getElementById('flash').textContent);
const setToken = (t) => page.evaluate((t) => { const i = document.getElementById('token'); i.value = t; i.dispatchEvent(new Event('change')); }, t);

try {
  // Titles page, before any worker runs: every title listed, nothing run from markup.
  await page.goto(base + '/');
  const first = await row(published);
  check('titles listed before the farm runs', first && (await row(failedTitle)) && (await row(hostile)), { first });
  check('hostile title record shown as text, not run', (await pwned()) === undefined
    && (await page.evaluate(() => document.body.textContent)).includes('<script>window.pwned=1</script>'));

  // Progress rises without a reload: sample the row the page refreshes by itself.
  await wait('workers');
  const seen = [];
  const navigations = [];
  page.on('framenavigated', (f) => { if (f === page.mainFrame()) navigations.push(f.url()); });
  const until = Date.now() + T;
  while (Date.now() < until) {
    const r = await row(published);
    if (r && (seen.length === 0 || seen[seen.length - 1] !== r.percent)) seen.push(r.percent);
    if (r && r.state === 'published') break;
    await page.waitForTimeout(200);
  }
  const rising = seen.every((p, i) => i === 0 || p >= seen[i - 1]);
  check('progress rises to published without a reload', rising && seen[seen.length - 1] === 100
    && seen.some((p) => p > 0 && p < 100) && navigations.length === 0, { seen, navigations });

  // The failed title shows its cause.
  await page.waitForFunction((t) => [...document.querySelectorAll('tr[data-title]')].some((r) => r.dataset.title === t && r.dataset.state === 'failed'), failedTitle, { timeout: T });
  const f = await row(failedTitle);
  check('failed title shows its cause', f.state === 'failed' && /not found/.test(f.text), { text: f.text });

  // The published title: ladder plot, rungs with predicted and measured VMAF, renditions.
  await page.goto(`${base}/titles/${published}`);
  await page.waitForFunction(() => { const i = document.querySelector('img.plot'); return i && i.complete && i.naturalWidth > 0; }, null, { timeout: 30_000 });
  const detail = await page.evaluate(() => ({
    rungs: document.querySelectorAll('table.rungs tbody tr').length,
    predicted: [...document.querySelectorAll('table.rungs tbody tr')].map((r) => r.children[3].textContent),
    se: [...document.querySelectorAll('table.rungs tbody tr')].map((r) => r.children[4].textContent),
    measured: [...document.querySelectorAll('table.rungs tbody tr')].map((r) => r.children[5].textContent),
    renditions: [...document.querySelectorAll('tr[data-rendition]')].map((r) => r.textContent),
  }));
  // Each per-title prediction has its standard error beside it, a number of its own.
  check('title page: ladder plot, rungs, renditions', detail.rungs > 0 && detail.predicted.every((v) => Number(v) > 0)
    && detail.se.every((v) => v !== '' && Number(v) >= 0)
    && detail.measured.every((v) => Number(v) > 0)
    && detail.renditions.some((r) => /kbit\/s/.test(r)), detail);

  // The preview plays with each player and switches rendition.
  const playing = () => page.evaluate(() => { const p = document.getElementById('playing'); return { h: Number(p.dataset.height || 0), t: Number(p.dataset.time || 0) }; });
  for (const player of ['hls.js', 'shaka']) {
    await page.selectOption('#player', player);
    await page.waitForFunction((p) => document.querySelector('section.preview').dataset.ready === p, player, { timeout: 30_000 });
    await page.waitForFunction((p) => { const e = document.getElementById('playing'); return e.textContent.startsWith(p) && Number(e.dataset.time || 0) > 1; }, player, { timeout: 60_000 });
    const options = await page.evaluate(() => [...document.querySelectorAll('#rendition option')].map((o) => [o.value, o.textContent]));
    const lowest = options.filter(([v]) => v !== 'auto').map(([v, l]) => [v, parseInt(l, 10)]).sort((a, b) => a[1] - b[1])[0];
    await page.selectOption('#rendition', lowest[0]);
    const t0 = (await playing()).t;
    let switched = false;
    try {
      await page.waitForFunction(({ h, t0 }) => { const p = document.getElementById('playing'); return Number(p.dataset.height) === h && Number(p.dataset.time) > t0 + 1; }, { h: lowest[1], t0 }, { timeout: 60_000 });
      switched = true;
    } catch (e) { /* reported below */ }
    check(`preview plays and switches rendition (${player})`, switched, { options, lowest, now: await playing() });
  }
  await page.screenshot({ path: shot, type: 'jpeg', quality: 70 });

  // A hostile title's page: its records are text.
  await page.goto(`${base}/titles/${hostile}`);
  check('hostile request and error shown as text on the title page', (await pwned()) === undefined
    && (await page.evaluate(() => document.body.textContent)).includes('<img src=x onerror="window.pwned=2">'));

  // The farm: the malformed message is dead-lettered, shown as text with its reason.
  await page.goto(base + '/farm');
  await page.waitForFunction(() => document.querySelectorAll('tr[data-message]').length > 0, null, { timeout: T });
  const dead = await page.evaluate(() => [...document.querySelectorAll('tr[data-message]')].map((r) => ({ id: r.dataset.message, text: r.textContent })));
  check('dead letter shown as text with its reason', (await pwned()) === undefined && dead.length === 1
    && dead[0].text.includes('<script>window.pwned=3</script>') && /malformed message/.test(dead[0].text), { dead });

  // Actions without the token are refused and change nothing.
  await setToken('');
  await page.click(`tr[data-message="${dead[0].id}"] button:has-text("Requeue")`);
  await page.waitForFunction(() => document.getElementById('flash').textContent !== '', null, { timeout: 10_000 });
  const refused = await flashText();
  await page.click(`tr[data-title="${failedTitle}"] button:has-text("Retry")`);
  await page.waitForFunction((r) => document.getElementById('flash').textContent !== r, refused, { timeout: 10_000 }).catch(() => {});
  const refusedRetry = await flashText();
  await setToken('not-the-token');
  await page.click(`tr[data-message="${dead[0].id}"] button:has-text("Requeue")`);
  await page.waitForFunction(() => /^403/.test(document.getElementById('flash').textContent), null, { timeout: 10_000 }).catch(() => {});
  const wrong = await flashText();
  await page.waitForTimeout(1500);
  const still = await page.evaluate((id) => !!document.querySelector(`tr[data-message="${id}"]`), dead[0].id);
  check('actions refused without the token (401) and with a wrong one (403)', /^401/.test(refused) && /^401/.test(refusedRetry)
    && /^403/.test(wrong) && still, { refused, refusedRetry, wrong, still });

  // With the token: requeue takes the message out of the dead-letter queue (the
  // workers receive it again and, still malformed, dead-letter it anew under a new id).
  await setToken(token);
  await page.click(`tr[data-message="${dead[0].id}"] button:has-text("Requeue")`);
  await page.waitForFunction((id) => !document.querySelector(`tr[data-message="${id}"]`), dead[0].id, { timeout: 30_000 });
  await page.waitForFunction((id) => [...document.querySelectorAll('tr[data-message]')].some((r) => r.dataset.message !== id), dead[0].id, { timeout: T });
  check('requeue with the token: out of the dead-letter queue, received again', (await pwned()) === undefined);

  // Retry with the token, once the test has put the master back: the title publishes.
  await wait('restore');
  await page.click(`tr[data-title="${failedTitle}"] button:has-text("Retry")`);
  await page.goto(base + '/');
  await page.waitForFunction((t) => [...document.querySelectorAll('tr[data-title]')].some((r) => r.dataset.title === t && r.dataset.state === 'published'), failedTitle, { timeout: T });
  check('retry with the token: the failed title publishes', true);
  check('no script errors in the console pages', consoleErrors.length === 0, { consoleErrors });
} catch (e) {
  check('console test ran to the end', false, { error: String(e && e.stack || e) });
}
await ctx.close();
fs.rmSync(dir, { recursive: true, force: true });
console.log(JSON.stringify({ done: true, failures }));
process.exit(failures ? 1 : 0);
