// A static file server for a `vhssl web` site (any static server will do; this one needs nothing installed): GET of
// files under the root with their content types, `/` as index.html, 404 for anything else or outside the root.
import { createReadStream, existsSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, normalize, resolve, sep } from 'node:path';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.mjs': 'text/javascript', '.css': 'text/css', '.json': 'application/json',
  '.jsonl': 'application/jsonl', '.wasm': 'application/wasm', '.map': 'application/json', '.onnx': 'application/octet-stream',
};

export interface Served {
  server: Server;
  url: string;
  close(): Promise<void>;
}

/** Serves `root` on `host`:`port` (0: a free port). */
export function serveStatic(root: string, port = 0, host = '127.0.0.1'): Promise<Served> {
  const base = resolve(root);
  const server = createServer((req, res) => {
    let path: string;
    try {
      path = normalize(join(base, decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname)));
    } catch {
      res.writeHead(400).end();
      return;
    }
    const file = path.endsWith(sep) || path === base ? join(path, 'index.html') : path;
    if (req.method !== 'GET' || !(file === base || file.startsWith(base + sep)) || !existsSync(file) || !statSync(file).isFile()) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' });
    createReadStream(file).pipe(res);
  });
  return new Promise((ok, fail) => {
    server.once('error', fail);
    server.listen(port, host, () => {
      const a = server.address() as AddressInfo;
      ok({ server, url: `http://${host}:${a.port}/`, close: () => new Promise((done) => {
        server.close(() => done());
        server.closeAllConnections();
      }) });
    });
  });
}
