// A/V sync in real players: a published flash-and-beep title (fixtures/src/sync.rs)
// served on 127.0.0.1 and played through to its end, unmuted, in Debian's headless
// Chromium by hls.js (HLS), dash.js (DASH) and Shaka (both). For each case it reports
// the media time at which each flash frame is presented and at which each beep starts
// sounding, on the same clock, the media element's:
// - video: requestVideoFrameCallback's mediaTime (the presented frame's presentation
//   time), for frames whose mean luma, drawn to a canvas, is above LUMA;
// - audio: the element's sound is routed through WebAudio to an AudioWorklet that finds
//   each onset to the sample (after at least 50 ms below -40 dBFS) in context frames,
//   mapped to media time by the offset between the element's clock and the audio
//   context's, read together on the page around it (the element's clock advances with
//   the audio WebAudio pulls from it).
// Prints one JSON line per case; a case that does not play to the end, or whose
// flashes (a frame the page skipped) or beeps are not all seen, is tried again, at most
// three times; exits 1 when a case never gives a full measurement.
//
// usage: node sync.mjs ORIGIN_DIR FLASHES LUMA
import fs from 'node:fs';
import path from 'node:path';
import os from 'node:os';
import { chromium } from 'playwright-core';
import { serve } from './serve.mjs';

const [origin, countArg, lumaArg] = process.argv.slice(2);
if (!origin || !countArg || !lumaArg) {
  console.error('usage: node sync.mjs ORIGIN_DIR FLASHES LUMA');
  process.exit(2);
}
const count = Number(countArg);
const luma = Number(lumaArg);

const onset = `registerProcessor('onset', class extends AudioWorkletProcessor {
  constructor() { super(); this.quiet = 0; }
  process(inputs, outputs) {
    const x = inputs[0][0];
    if (x) {
      for (let i = 0; i < x.length; i++) {
        if (Math.abs(x[i]) > 0.01) {
          if (this.quiet >= sampleRate / 20) this.port.postMessage(currentFrame + i);
          this.quiet = 0;
        } else this.quiet++;
      }
    }
    // Pass the sound on, so that the graph keeps pulling it.
    inputs[0].forEach((c, i) => outputs[0][i] && outputs[0][i].set(c));
    return true;
  }
});`;
const page = `<!doctype html><html><head><link rel="icon" href="data:,"></head><body>
<video id="v" playsinline></video><canvas id="c" width="32" height="18"></canvas>
<script src="/lib/hls.js"></script><script src="/lib/dash.js"></script><script src="/lib/shaka.js"></script>
<script>
window.errors = []; window.frames = []; window.onsets = []; window.clock = [];
window.start = async (player, url) => {
  const v = document.getElementById('v');
  const ctx = new AudioContext(); window.ctx = ctx;
  await ctx.audioWorklet.addModule('/onset.js');
  const node = new AudioWorkletNode(ctx, 'onset');
  ctx.createMediaElementSource(v).connect(node).connect(ctx.destination);
  node.port.onmessage = (e) => onsets.push(e.data / ctx.sampleRate);
  const c = document.getElementById('c').getContext('2d', { willReadFrequently: true });
  const frame = (now, md) => {
    c.drawImage(v, 0, 0, 32, 18);
    const d = c.getImageData(0, 0, 32, 18).data; let y = 0;
    for (let i = 0; i < d.length; i += 4) y += 0.299 * d[i] + 0.587 * d[i + 1] + 0.114 * d[i + 2];
    frames.push({ t: md.mediaTime, luma: y / (d.length / 4), n: md.presentedFrames });
    v.requestVideoFrameCallback(frame);
  };
  v.requestVideoFrameCallback(frame);
  setInterval(() => { if (!v.paused) clock.push({ media: v.currentTime, ctx: ctx.currentTime }); }, 10);
  if (player === 'hls.js') {
    const h = new Hls(); h.on(Hls.Events.ERROR, (e, d) => { if (d.fatal) errors.push(d.details); });
    h.loadSource(url); h.attachMedia(v);
  } else if (player === 'dash.js') {
    const d = dashjs.MediaPlayer().create(); d.on('error', (e) => errors.push(JSON.stringify(e.error || e)));
    d.initialize(v, url, false);
  } else {
    shaka.polyfill.installAll(); const s = new shaka.Player();
    await s.attach(v); s.addEventListener('error', (e) => errors.push(String(e.detail && e.detail.code)));
    try { await s.load(url); } catch (e) { errors.push('load ' + e.code); }
  }
  v.play().catch((e) => errors.push('play ' + e));
};
window.state = () => { const v = document.getElementById('v');
  return { t: v.currentTime, ended: v.ended, duration: v.duration, height: v.videoHeight, audio: ctx.state, errors }; };
// The first frame of each run of bright frames, and whether the page saw every frame
// presented around it; each onset on the media clock.
window.result = (luma) => {
  const flashes = []; let skipped = false;
  frames.forEach((f, i) => {
    const before = frames[i - 1];
    if (f.luma > luma && !(before && before.luma > luma)) {
      flashes.push(f.t);
      skipped ||= !before || f.n - before.n !== 1;
    }
  });
  // The offset between the two clocks over the half second around each onset (the
  // median, since the page reads both only between tasks); none if playback was not
  // running then.
  const beeps = onsets.map((t) => {
    const near = clock.filter((c) => Math.abs(c.ctx - t) < 0.5).map((c) => c.media - c.ctx).sort((a, b) => a - b);
    return near.length >= 10 ? t + near[near.length >> 1] : null;
  });
  return { flashes, skipped, beeps, frames: frames.length };
};
</script></body></html>`;

const { base, log, close } = await serve(origin, { '/page.html': page, '/onset.js': onset });
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vodfarm-chromium-'));
const ctx = await chromium.launchPersistentContext(dir, {
  executablePath: '/usr/bin/chromium', headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--autoplay-policy=no-user-gesture-required'],
});
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
let failed = false;
for (const [player, manifest] of [['hls.js', 'master.m3u8'], ['dash.js', 'manifest.mpd'], ['shaka', 'master.m3u8'], ['shaka', 'manifest.mpd']]) {
  let line = null;
  for (let attempt = 1; attempt <= 3; attempt++) {
    const page = await ctx.newPage();
    const first = log.length;
    await page.goto(`${base}/page.html`);
    await page.evaluate(([p, u]) => window.start(p, u), [player, `${base}/origin/${manifest}`]);
    let s = await page.evaluate(() => window.state());
    const deadline = Date.now() + 30000;
    while (Date.now() < deadline && !s.ended && s.errors.length === 0) {
      await sleep(250);
      s = await page.evaluate(() => window.state());
    }
    const r = await page.evaluate((l) => window.result(l), luma);
    const bad = log.slice(first).filter((q) => q.status >= 400);
    const ok = s.ended && s.errors.length === 0 && bad.length === 0 && !r.skipped
      && r.flashes.length === count && r.beeps.length === count && r.beeps.every((b) => b !== null);
    line = { player, manifest, ok, attempt, flashes: r.flashes, beeps: r.beeps, frames: r.frames, skipped: r.skipped,
      height: s.height, ended: s.ended, audioContext: s.audio, httpErrors: bad, playerErrors: s.errors };
    await page.close();
    if (ok) break;
  }
  failed ||= !line.ok;
  console.log(JSON.stringify(line));
}
await ctx.close();
close();
fs.rmSync(dir, { recursive: true, force: true });
process.exit(failed ? 1 : 0);
