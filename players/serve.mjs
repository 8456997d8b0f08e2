// A published title's origin folder served on 127.0.0.1 for the real-player tests: the
// page and the player libraries it is given, `/origin/<path>` from the folder, with
// Range support (206) and explicit content types, every request's status logged.
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const types = {
  '.m3u8': 'application/vnd.apple.mpegurl', '.mpd': 'application/dash+xml', '.mp4': 'video/mp4',
  '.m4s': 'video/iso.segment', '.js': 'text/javascript', '.html': 'text/html',
};
const libs = {
  'hls.js': 'node_modules/hls.js/dist/hls.min.js',
  'dash.js': 'node_modules/dashjs/dist/modern/umd/dash.all.min.js',
  'shaka.js': 'node_modules/shaka-player/dist/shaka-player.compiled.js',
};

// Serve `origin` (or nothing under /origin/ when null) and `pages` ({ '/page.html': text,
// ... }). Resolves to { base, log, close }: log holds { path, status } per request.
export async function serve(origin, pages) {
  const log = [];
  const server = http.createServer((req, res) => {
    const url = new URL(req.url, 'http://x');
    let file = null; let body = null;
    if (pages[url.pathname] !== undefined) body = Buffer.from(pages[url.pathname]);
    else if (url.pathname.startsWith('/lib/') && libs[url.pathname.slice(5)]) file = path.join(here, libs[url.pathname.slice(5)]);
    else if (origin && url.pathname.startsWith('/origin/')) {
      const rel = decodeURIComponent(url.pathname.slice(8));
      if (!rel.split('/').includes('..')) file = path.join(origin, rel);
    }
    const send = (status, headers, data) => { log.push({ path: url.pathname, status }); res.writeHead(status, headers); res.end(data); };
    if (file && fs.existsSync(file) && fs.statSync(file).isFile()) body = fs.readFileSync(file);
    if (!body) return send(404, {}, 'not found');
    const type = types[path.extname(file || url.pathname)] || 'application/octet-stream';
    const range = req.headers.range && /^bytes=(\d*)-(\d*)$/.exec(req.headers.range);
    if (range) {
      const start = range[1] === '' ? body.length - Number(range[2]) : Number(range[1]);
      const end = range[1] === '' || range[2] === '' ? body.length - 1 : Math.min(Number(range[2]), body.length - 1);
      if (start > end || start >= body.length) return send(416, { 'Content-Range': `bytes */${body.length}` }, '');
      return send(206, { 'Content-Type': type, 'Accept-Ranges': 'bytes', 'Content-Range': `bytes ${start}-${end}/${body.length}`, 'Content-Length': end - start + 1 }, body.subarray(start, end + 1));
    }
    send(200, { 'Content-Type': type, 'Accept-Ranges': 'bytes', 'Content-Length': body.length }, body);
  });
  await new Promise((ok, fail) => { server.once('error', fail); server.listen(0, '127.0.0.1', ok); });
  return { base: `http://127.0.0.1:${server.address().port}`, log, close: () => server.close() };
}
