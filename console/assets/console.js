// vodfarm console: refresh the live parts of the page, send the actions with the
// bearer token, and run the preview player. Markup only ever comes from the server
// (already escaped there); data from players is set as text.
'use strict';
(() => {
  const token = document.getElementById('token');
  token.value = sessionStorage.getItem('vodfarm-token') || '';
  token.addEventListener('change', () => sessionStorage.setItem('vodfarm-token', token.value));

  const flash = (text, bad) => {
    const f = document.getElementById('flash');
    f.textContent = text;
    f.className = bad ? 'bad' : 'good';
  };

  // Live parts: fetch each one's fragment every second and swap it in when it changed.
  const refresh = async () => {
    for (const el of document.querySelectorAll('[data-live]')) {
      try {
        const r = await fetch(el.dataset.live, { cache: 'no-store' });
        if (!r.ok) continue;
        const html = await r.text();
        if (html !== el.dataset.last) { el.innerHTML = html; el.dataset.last = html; }
      } catch (e) { /* the server is restarting: try again next time */ }
    }
    preview.maybeStart();
  };

  // Actions: buttons carry the URL to POST to.
  document.addEventListener('click', async (ev) => {
    const b = ev.target.closest('button[data-post]');
    if (!b) return;
    b.disabled = true;
    const headers = {};
    if (token.value) headers.Authorization = 'Bearer ' + token.value;
    try {
      const r = await fetch(b.dataset.post, { method: 'POST', headers });
      const body = await r.json().catch(() => ({}));
      flash(r.ok ? (b.textContent + ': done') : (r.status + ': ' + (body.error || r.statusText)), !r.ok);
    } catch (e) {
      flash(String(e), true);
    }
    b.disabled = false;
    refresh();
  });

  const preview = {
    started: false, player: null,
    section: document.querySelector('section.preview'),
    maybeStart() {
      if (this.started || !this.section) return;
      if (!document.querySelector('section.status[data-state="published"]')) return;
      this.started = true;
      document.getElementById('preview-note').textContent = '';
      const kind = document.getElementById('player');
      kind.addEventListener('change', () => this.start(kind.value));
      document.getElementById('rendition').addEventListener('change', (e) => this.pick(e.target.value));
      document.getElementById('audio').addEventListener('change', (e) => this.audio(e.target.value));
      setInterval(() => {
        const v = document.getElementById('video');
        const at = v.videoHeight ? `${v.videoWidth}x${v.videoHeight}` : 'no picture';
        const p = document.getElementById('playing');
        p.textContent = `${kind.value}: ${at} at ${v.currentTime.toFixed(1)} s`;
        p.dataset.height = String(v.videoHeight);
        p.dataset.time = String(v.currentTime);
      }, 250);
      this.start(kind.value);
    },
    options(id, list) {
      const sel = document.getElementById(id);
      sel.replaceChildren();
      for (const [value, label] of list) {
        const o = document.createElement('option');
        o.value = value; o.textContent = label;
        sel.appendChild(o);
      }
    },
    async start(kind) {
      const v = document.getElementById('video');
      // Ready (for people and tests) once this player has listed its renditions.
      delete this.section.dataset.ready;
      this.options('rendition', [['auto', 'auto']]);
      this.options('audio', []);
      if (this.player) {
        const old = this.player;
        this.player = null;
        if (old.detachMedia) old.detachMedia();
        await old.destroy();
      }
      const origin = this.section.dataset.origin;
      if (kind === 'hls.js') {
        const h = new Hls({ enableWorker: false });
        this.player = h;
        h.on(Hls.Events.MANIFEST_PARSED, () => {
          this.options('rendition', [['auto', 'auto'], ...h.levels.map((l, i) => [String(i), `${l.height}p ${Math.round(l.bitrate / 1000)}k`])]);
          this.options('audio', h.audioTracks.map((a, i) => [String(i), `${a.lang || 'und'} ${a.name || ''}`]));
          this.section.dataset.ready = kind;
          v.play().catch(() => {});
        });
        h.on(Hls.Events.ERROR, (e, d) => { if (d.fatal) flash('preview: ' + d.details, true); });
        this.pick = (val) => { h.currentLevel = val === 'auto' ? -1 : Number(val); };
        this.audio = (val) => { h.audioTrack = Number(val); };
        h.loadSource(origin + 'master.m3u8');
        h.attachMedia(v);
      } else {
        shaka.polyfill.installAll();
        const s = new shaka.Player();
        this.player = s;
        await s.attach(v);
        s.addEventListener('error', (e) => flash('preview: shaka error ' + (e.detail && e.detail.code), true));
        try { await s.load(origin + 'manifest.mpd'); } catch (e) { flash('preview: shaka load ' + e.code, true); return; }
        const videos = () => {
          const seen = new Map();
          for (const t of s.getVariantTracks()) if (t.active || !seen.has(t.height)) { if (!seen.has(t.height) || t.active) seen.set(t.height, t); }
          return [...seen.values()].sort((a, b) => a.height - b.height);
        };
        this.options('rendition', [['auto', 'auto'], ...videos().map((t) => [String(t.height), `${t.height}p ${Math.round((t.videoBandwidth || t.bandwidth) / 1000)}k`])]);
        this.options('audio', s.getAudioTracks().map((a) => [a.language, `${a.language} ${a.label || ''}`]));
        this.pick = (val) => {
          if (val === 'auto') { s.configure({ abr: { enabled: true } }); return; }
          s.configure({ abr: { enabled: false } });
          const t = s.getVariantTracks().find((t) => String(t.height) === val && t.language === (s.getVariantTracks().find((x) => x.active) || {}).language);
          if (t) s.selectVariantTrack(t, true);
        };
        this.audio = (val) => { const a = s.getAudioTracks().find((t) => t.language === val); if (a) s.selectAudioTrack(a); };
        this.section.dataset.ready = kind;
        v.play().catch(() => {});
      }
    },
    pick() {}, audio() {},
  };

  setInterval(refresh, 1000);
  preview.maybeStart();
})();
