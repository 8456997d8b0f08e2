// Real-player test: serve a published title on 127.0.0.1 (with Range support and a
// request log) and play it in Debian's headless Chromium with hls.js (HLS), dash.js
// (DASH) and Shaka (both). For each: playback advances at least 5 s, frames are decoded
// with a non-zero picture size, a forced switch to the lowest rendition takes effect,
// and the server logged no 4xx/5xx. Prints one JSON line per case; exits 1 on failure.
//
// usage: node play.mjs ORIGIN_DIR LOWEST_HEIGHT
//        node play.mjs --via MANIFEST_URL LOWEST_HEIGHT
//        node play.mjs --audio LANG,LANG,... ORIGIN_DIR
//        node play.mjs --subtitles ORIGIN_DIR EXPECTED_JSON
// With --subtitles, each player lists the title's subtitle tracks (their languages and
// forced flags are reported), then for each expected cue
// ({"lang", "forced", "at", "text"}) selects that track, plays from `at` and waits for a
// cue with that text to be active within 0.5 s of `at` (the video element's showing
// text tracks).
// With --via, only hls.js plays, from MANIFEST_URL (an appliance, say): every request
// the page makes for media must go to that URL's host and succeed, none to this server.
// With --audio, each player must list exactly these audio languages, then switch from
// the one it starts with to another: it must report the new language, fetch that
// rendition's segments (a-<lang>-...) and keep playing at least 2 s past the switch.
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { spawn } from 'node:child_process';
import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const subsMode = args[0] === '--subtitles';
if (subsMode) args.shift();
const via = args[0] === '--via' ? args.splice(0, 2)[1] : null;
const audioLangs = args[0] === '--audio' ? args.splice(0, 2)[1].split(',') : null;
const [origin, lowestArg] = via ? [null, args[0]] : audioLangs ? [args[0], '0'] : args;
if ((!origin && !via) || !lowestArg) {
  console.error('usage: node play.mjs ORIGIN_DIR LOWEST_HEIGHT | --via MANIFEST_URL LOWEST_HEIGHT | --audio LANGS ORIGIN_DIR');
  process.exit(2);
}
const lowest = subsMode ? 0 : Number(lowestArg);
const expected = subsMode ? JSON.parse(lowestArg) : [];
const types = {
  '.m3u8': 'application/vnd.apple.mpegurl', '.mpd': 'application/dash+xml', '.mp4': 'video/mp4',
  '.m4s': 'video/iso.segment', '.vtt': 'text/vtt; charset=utf-8', '.js': 'text/javascript', '.html': 'text/html',
};
const libs = {
  'hls.js': 'node_modules/hls.js/dist/hls.min.js',
  'dash.js': 'node_modules/dashjs/dist/modern/umd/dash.all.min.js',
  'shaka.js': 'node_modules/shaka-player/dist/shaka-player.compiled.js',
};
const page = `<!doctype html><html><head><link rel="icon" href="data:,"></head><body><video id="v" muted playsinline></video>
<script src="/lib/hls.js"></script><script src="/lib/dash.js"></script><script src="/lib/shaka.js"></script>
<script>
window.errors = [];
window.start = async (player, url, text) => {
  const v = document.getElementById('v'); window.player = player;
  if (player === 'hls.js') {
    const h = new Hls(); window.p = h; h.on(Hls.Events.ERROR, (e, d) => { if (d.fatal) errors.push(d.details); });
    h.loadSource(url); h.attachMedia(v);
    window.forceLowest = () => { const i = h.levels.reduce((b, l, j) => l.bitrate < h.levels[b].bitrate ? j : b, 0); h.currentLevel = i; };
  } else if (player === 'dash.js') {
    const d = dashjs.MediaPlayer().create(); window.p = d;
    d.updateSettings({ streaming: { abr: { autoSwitchBitrate: { video: false } } } });
    d.on('error', (e) => errors.push(JSON.stringify(e.error || e)));
    // A text track chosen before loading (the subtitle mode's dash.js cases).
    if (text) {
      d.updateSettings({ streaming: { text: { defaultEnabled: true } } });
      d.initialize(v, null, true);
      d.setInitialMediaSettingsFor('text', { lang: text.lang, role: text.forced ? 'forced-subtitle' : 'subtitle' });
      d.attachSource(url);
    } else {
      d.initialize(v, url, true);
    }
    window.forceLowest = () => { const reps = d.getRepresentationsByType('video'); const low = reps.reduce((a, b) => a.bandwidth < b.bandwidth ? a : b); d.setRepresentationForTypeById('video', low.id, true); };
  } else {
    shaka.polyfill.installAll(); const s = new shaka.Player(); window.p = s;
    await s.attach(v); s.addEventListener('error', (e) => errors.push(String(e.detail && e.detail.code)));
    if (text) s.configure({ preferredText: [{ language: text.lang, forced: text.forced, role: '', format: '' }] });
    try { await s.load(url); } catch (e) { errors.push('load ' + e.code); }
    window.forceLowest = () => { s.configure({ abr: { enabled: false } }); const t = s.getVariantTracks().reduce((a, b) => a.bandwidth < b.bandwidth ? a : b); s.selectVariantTrack(t, true); };
  }
  v.play().catch((e) => errors.push('play ' + e));
};
// Audio tracks as the player reports them: every language it offers and the current one.
window.audio = () => {
  const p = window.p;
  if (window.player === 'hls.js') {
    const t = p.audioTracks || [];
    return { langs: t.map((a) => a.lang || ''), current: (t[p.audioTrack] || {}).lang || null };
  } else if (window.player === 'dash.js') {
    const c = p.getCurrentTrackFor('audio');
    return { langs: p.getTracksFor('audio').map((a) => a.lang || ''), current: c ? c.lang : null };
  }
  // Shaka 5: audio tracks compatible with the current video track.
  const t = p.getAudioTracks();
  const a = t.find((x) => x.active);
  return { langs: t.map((x) => x.language), current: a ? a.language : null };
};
window.switchAudio = (lang) => {
  const p = window.p;
  if (window.player === 'hls.js') p.audioTrack = p.audioTracks.findIndex((a) => a.lang === lang);
  else if (window.player === 'dash.js') p.setCurrentTrack(p.getTracksFor('audio').find((a) => a.lang === lang));
  else p.selectAudioTrack(p.getAudioTracks().find((a) => a.language === lang));
};
// Subtitle tracks as each player lists them, selecting one, and the text of the cues
// active now in the video element's shown text tracks (all three render there), as
// displayed (entities decoded, markup dropped).
window.subtitleTracks = () => {
  const p = window.p;
  if (window.player === 'hls.js') return (p.allSubtitleTracks || p.subtitleTracks).map((t) => ({ lang: t.lang, forced: !!t.forced, name: t.name }));
  if (window.player === 'dash.js') return p.getTracksFor('text').map((t) => ({ lang: t.lang, forced: (t.roles || []).some((r) => (r.value || r) === 'forced-subtitle'), name: t.id }));
  return p.getTextTracks().map((t) => ({ lang: t.language, forced: !!t.forced, name: t.label }));
};
window.selectSubtitles = async (lang, forced) => {
  const p = window.p;
  if (window.player === 'hls.js') {
    const i = p.subtitleTracks.findIndex((t) => t.lang === lang && !!t.forced === forced);
    if (i < 0) return false;
    p.subtitleDisplay = true; p.subtitleTrack = i; return true;
  }
  if (window.player === 'dash.js') {
    const forcedOf = (t) => (t.roles || []).some((r) => (r.value || r) === 'forced-subtitle');
    const cur = p.getCurrentTrackFor('text');
    if (cur && cur.lang === lang && forcedOf(cur) === forced) return true;
    const i = p.getTracksFor('text').findIndex((t) => t.lang === lang && (t.roles || []).some((r) => (r.value || r) === 'forced-subtitle') === forced);
    if (i < 0) return false;
    p.enableText(true); p.setTextTrack(i); return true;
  }
  // Shaka 5: selecting a text track also shows it.
  const t = p.getTextTracks().find((t) => t.language === lang && !!t.forced === forced);
  if (!t) return false;
  p.selectTextTrack(t); return true;
};
window.activeCues = () => Array.from(document.getElementById('v').textTracks)
  .filter((t) => t.mode === 'showing')
  .flatMap((t) => Array.from(t.activeCues || []).map((c) => (c.getCueAsHTML ? c.getCueAsHTML().textContent : c.text)));
window.state = () => { const v = document.getElementById('v'); const q = v.getVideoPlaybackQuality();
  return { t: v.currentTime, frames: q.totalVideoFrames, w: v.videoWidth, h: v.videoHeight, errors }; };
</script></body></html>`;

const log = [];
const server = http.createServer((req, res) => {
  const url = new URL(req.url, 'http://x');
  let file = null; let body = null;
  if (url.pathname === '/page.html') body = Buffer.from(page);
  else if (url.pathname.startsWith('/lib/') && libs[url.pathname.slice(5)]) file = path.join(here, libs[url.pathname.slice(5)]);
  else if (origin && url.pathname.startsWith('/origin/')) {
    const rel = decodeURIComponent(url.pathname.slice(8));
    if (!rel.split('/').includes('..')) file = path.join(origin, rel);
  }
  const send = (status, headers, data) => { log.push({ path: url.pathname, status }); res.writeHead(status, headers); res.end(data); };
  if (file && fs.existsSync(file) && fs.statSync(file).isFile()) body = fs.readFileSync(file);
  if (!body) return send(404, {}, 'not found');
  const type = types[path.extname(file || 'page.html')] || 'application/octet-stream';
  const range = req.headers.range && /^bytes=(\d*)-(\d*)$/.exec(req.headers.range);
  if (range) {
    let start = range[1] === '' ? body.length - Number(range[2]) : Number(range[1]);
    let end = range[1] === '' || range[2] === '' ? body.length - 1 : Math.min(Number(range[2]), body.length - 1);
    if (start > end || start >= body.length) return send(416, { 'Content-Range': `bytes */${body.length}` }, '');
    return send(206, { 'Content-Type': type, 'Accept-Ranges': 'bytes', 'Content-Range': `bytes ${start}-${end}/${body.length}`, 'Content-Length': end - start + 1 }, body.subarray(start, end + 1));
  }
  send(200, { 'Content-Type': type, 'Accept-Ranges': 'bytes', 'Content-Length': body.length }, body);
});
await new Promise((ok, fail) => { server.once('error', fail); server.listen(0, '127.0.0.1', ok); });
const base = `http://127.0.0.1:${server.address().port}`;

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vodfarm-chromium-'));
const ctx = await chromium.launchPersistentContext(dir, {
  executablePath: '/usr/bin/chromium', headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--autoplay-policy=no-user-gesture-required'],
});
const cases = via ? [['hls.js', via]]
  : [['hls.js', 'master.m3u8'], ['dash.js', 'manifest.mpd'], ['shaka', 'master.m3u8'], ['shaka', 'manifest.mpd']];
let failed = false;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
// One player's subtitle case: the tracks it lists, then each expected cue active at
// its time once its track is selected and the video seeked there.
async function subtitleCase(page, player, manifest, first) {
  let tracks = [];
  let deadline = Date.now() + 30000;
  while (Date.now() < deadline) {
    await sleep(250);
    const s = await page.evaluate(() => window.state());
    tracks = await page.evaluate(() => window.subtitleTracks());
    if (s.t >= 0.5 && tracks.length >= expected.length) break;
  }
  const cues = [];
  for (const e of expected) {
    if (player !== 'hls.js') {
      // dash.js does not reliably load a text file selected after playback started
      // (seen: the track shows, its file is fetched, no cues arrive), and Shaka on HLS
      // holds back text appended after the short title's video is all buffered (its
      // text engine waits for a video append to learn the timestamp offset, and none
      // comes): each expected cue gets a fresh player with its track preferred before
      // loading. hls.js switches tracks in one session.
      await page.goto(`${base}/page.html`);
      await page.evaluate(([p, u, t]) => window.start(p, u, t), [player, `${base}/origin/${manifest}`, { lang: e.lang, forced: e.forced }]);
      const until = Date.now() + 30000;
      while (Date.now() < until && (await page.evaluate(() => window.subtitleTracks())).length < expected.length) await sleep(250);
    }
    const selected = await page.evaluate(([l, f]) => window.selectSubtitles(l, f), [e.lang, e.forced]);
    // Play from the cue's time (dash.js loads a newly selected text track only while
    // playing); whenever playback has gone past it, seek back. The cue must be active
    // while currentTime is within a frame or so of `at`.
    const seek = (at) => page.evaluate((at) => { const v = document.getElementById('v'); v.currentTime = at; v.play().catch(() => {}); }, at);
    await seek(e.at);
    let active = []; let found = false;
    deadline = Date.now() + 30000;
    while (selected && Date.now() < deadline) {
      await sleep(100);
      const [now, cues] = await page.evaluate(() => [document.getElementById('v').currentTime, window.activeCues()]);
      active = cues;
      found = active.includes(e.text) && Math.abs(now - e.at) < 0.5;
      if (found) break;
      if (now > e.at + 0.4) await seek(e.at);
    }
    await page.evaluate(() => document.getElementById('v').pause());
    const t = await page.evaluate(() => document.getElementById('v').currentTime);
    // When the cue is not found: what the text tracks hold, to see why.
    const tracks = found ? undefined : await page.evaluate(() => Array.from(document.getElementById('v').textTracks)
      .map((t) => ({ mode: t.mode, label: t.label, lang: t.language, cues: Array.from(t.cues || []).slice(0, 6).map((c) => [c.startTime, c.endTime, c.text]) })));
    cues.push({ lang: e.lang, forced: e.forced, at: e.at, currentTime: t, selected, found, active, ...(found ? {} : { textTracks: tracks }) });
  }
  const s = await page.evaluate(() => window.state());
  const bad = log.slice(first).filter((r) => r.status >= 400);
  const listed = expected.every((e) => tracks.some((t) => t.lang === e.lang && t.forced === e.forced));
  const vtt = log.slice(first).filter((r) => r.path.endsWith('.vtt')).length;
  const ok = listed && cues.every((c) => c.found) && bad.length === 0 && s.errors.length === 0;
  return { player, manifest, ok, tracks, cues, vttRequests: vtt, httpErrors: bad, playerErrors: s.errors };
}
for (const [player, manifest] of cases) {
  const page = await ctx.newPage();
  const first = log.length;
  // Every request the page makes that is not for the page or the player libraries.
  const media = [];
  page.on('requestfinished', async (r) => { const res = await r.response(); media.push({ url: r.url(), status: res ? res.status() : 0 }); });
  page.on('requestfailed', (r) => media.push({ url: r.url(), status: 0 }));
  await page.goto(`${base}/page.html`);
  await page.evaluate(([p, u]) => window.start(p, u), [player, via ? manifest : `${base}/origin/${manifest}`]);
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  if (audioLangs) {
    // Play 1 s, check the languages offered, switch to another one, and play on.
    let s = await page.evaluate(() => window.state());
    let before = null; let target = null; let switchedAt = null; let after = null; let offered = [];
    const deadline = Date.now() + 40000;
    while (Date.now() < deadline) {
      await sleep(250);
      s = await page.evaluate(() => window.state());
      const a = await page.evaluate(() => window.audio());
      if (!target && s.t >= 1 && a.current) {
        before = a.current; offered = [...new Set(a.langs)].sort();
        target = audioLangs.find((l) => l !== before);
        await page.evaluate((l) => window.switchAudio(l), target);
        switchedAt = s.t;
      }
      if (target) after = a.current;
      if (target && after === target && s.t >= switchedAt + 2) break;
    }
    const fetched = log.slice(first).filter((r) => target && r.path.includes(`/a-${target}-`) && r.path.endsWith('.m4s') && r.status < 300).length;
    const bad = log.slice(first).filter((r) => r.status >= 400);
    const want = [...audioLangs].sort();
    const ok = JSON.stringify(offered) === JSON.stringify(want) && !!target && after === target
      && s.t >= switchedAt + 2 && fetched > 0 && s.frames > 0 && bad.length === 0 && s.errors.length === 0;
    failed ||= !ok;
    console.log(JSON.stringify({ player, manifest, ok, offered, before, switchedTo: target, reported: after, switchedAt, currentTime: s.t, newTrackSegments: fetched, decodedFrames: s.frames, httpErrors: bad, playerErrors: s.errors }));
    await page.close();
    continue;
  }
  let s = await page.evaluate(() => window.state());
  if (subsMode) {
    // Up to three tries on a fresh page, as players/sync.mjs does: under load a
    // player sometimes never fetches or never shows a newly selected text track
    // (seen with dash.js and with Shaka on HLS); every try is reported.
    let r = await subtitleCase(page, player, manifest, first);
    const tries = [r];
    await page.close();
    while (!r.ok && tries.length < 3) {
      const again = await ctx.newPage();
      const from = log.length;
      await again.goto(`${base}/page.html`);
      await again.evaluate(([p, u]) => window.start(p, u), [player, `${base}/origin/${manifest}`]);
      r = await subtitleCase(again, player, manifest, from);
      tries.push(r);
      await again.close();
    }
    failed ||= !r.ok;
    console.log(JSON.stringify({ ...r, tries: tries.length, failedTries: tries.filter((t) => !t.ok).map((t) => t.cues.filter((c) => !c.found)) }));
    continue;
  }
  const deadline = Date.now() + 30000;
  let forced = false; let switched = false;
  while (Date.now() < deadline) {
    await sleep(250);
    s = await page.evaluate(() => window.state());
    if (!forced && s.t >= 1) { await page.evaluate(() => window.forceLowest()); forced = true; }
    if (forced && s.h === lowest) switched = true;
    if (s.t >= 5 && switched) break;
  }
  const bad = log.slice(first).filter((r) => r.status >= 400);
  let viaOk = true; let served = {};
  if (via) {
    // Media requests: everything but this server's page and libraries.
    const host = new URL(via).origin;
    const others = media.filter((r) => /^https?:/.test(r.url) && !r.url.startsWith(base + '/'));
    const elsewhere = others.filter((r) => !r.url.startsWith(host + '/') || r.status === 0 || r.status >= 400);
    served = { byVia: others.length, segments: others.filter((r) => r.url.endsWith('.m4s')).length, elsewhere: elsewhere.slice(0, 5) };
    const fromHere = log.slice(first).filter((r) => r.path.startsWith('/origin/'));
    viaOk = elsewhere.length === 0 && served.segments > 0 && fromHere.length === 0;
  }
  const ok = s.t >= 5 && s.frames > 0 && s.w > 0 && s.h > 0 && switched && bad.length === 0 && s.errors.length === 0 && viaOk;
  failed ||= !ok;
  console.log(JSON.stringify({ player, manifest, ok, currentTime: s.t, decodedFrames: s.frames, width: s.w, height: s.h, switchedToLowest: switched, httpErrors: bad, playerErrors: s.errors, ...(via ? { served } : {}) }));
  await page.close();
}
await ctx.close();
// FFmpeg over HTTP as a second, non-browser client of both manifests.
for (const manifest of via ? [] : ['master.m3u8', 'manifest.mpd']) {
  const first = log.length;
  const { code, stderr } = await new Promise((done) => {
    // FFmpeg 5.1's DASH reader opens only media file extensions unless told otherwise
    // (a .vtt text track would fail the whole MPD); its HLS reader does not use
    // SUBTITLES renditions (vodfarm/tests/subtitles.rs reads those playlists directly).
    const opts = manifest.endsWith('.mpd') ? ['-allowed_extensions', 'ALL'] : [];
    const p = spawn('ffmpeg', ['-v', 'error', '-nostdin', ...opts, '-i', `${base}/origin/${manifest}`, '-map', '0', '-c:s', 'copy', '-f', 'null', '-']);
    let stderr = ''; p.stderr.on('data', (d) => { stderr += d; });
    p.on('close', (code) => done({ code, stderr }));
  });
  const bad = log.slice(first).filter((r) => r.status >= 400);
  const ok = code === 0 && stderr.trim() === '' && bad.length === 0;
  failed ||= !ok;
  console.log(JSON.stringify({ player: 'ffmpeg', manifest, ok, exit: code, stderr: stderr.trim().slice(0, 500), httpErrors: bad }));
}
server.close();
fs.rmSync(dir, { recursive: true, force: true });
process.exit(failed ? 1 : 0);
