// Plain HTTP requests for the contract tests, through node:http so that any
// header (Origin, Upgrade) and any raw path (`/r/%20`) goes out exactly as written.
import http from 'node:http';

/**
 * Sends one request to a server started by `startServer`.
 * @param {{url:string}} server
 * @param {string} path  sent as is, no normalisation
 * @param {{method?:string, headers?:object, body?:string, timeoutMs?:number}} [opts]
 * @returns {Promise<{status:number, headers:object, text:string, json:any}>}
 *   `json` is the parsed body, or undefined when it is not JSON.
 */
export function request(server, path, opts = {}) {
  const { method = 'GET', headers = {}, body, timeoutMs = 10_000 } = opts;
  const { hostname, port } = new URL(server.url);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: hostname, port, path, method, headers, timeout: timeoutMs }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { text += d; });
      res.on('end', () => {
        let json;
        try { json = JSON.parse(text); } catch { json = undefined; }
        resolve({ status: res.statusCode, headers: res.headers, text, json });
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${path}: no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

/** `request` plus a readable one-line summary for assertion messages. */
export function summary(res) {
  return `${res.status} ${res.headers['content-type'] ?? ''} ${res.text.slice(0, 200)}`;
}
