/**
 * One JSON POST over a keep-alive agent: resolves with the parsed body of a
 * 200 answer; anything else (another status, a body that is not JSON or too
 * long, a network error, the abort signal) rejects with a plain Error the
 * connector turns into ConnectorUnavailable. Redirects are not followed.
 */
import { Agent as HttpAgent, IncomingMessage, request as httpRequest } from 'http';
import { Agent as HttpsAgent, request as httpsRequest } from 'https';

export interface JsonPost {
  url: URL;
  body: unknown;
  headers: Record<string, string>;
  agents: { http: HttpAgent; https: HttpsAgent };
  signal: AbortSignal;
  maxResponseBytes: number;
}

export function postJson(post: JsonPost): Promise<unknown> {
  const payload = Buffer.from(JSON.stringify(post.body), 'utf8');
  const https = post.url.protocol === 'https:';
  return new Promise<unknown>((resolve, reject) => {
    const req = (https ? httpsRequest : httpRequest)(post.url, {
      method: 'POST',
      agent: https ? post.agents.https : post.agents.http,
      signal: post.signal,
      headers: {
        'user-agent': 'mqlog',
        accept: 'application/json',
        ...post.headers,
        'content-type': 'application/json',
        'content-length': payload.length,
      },
    });
    req.on('error', reject);
    req.on('response', (res) => readJson(res, post.maxResponseBytes).then(resolve, reject));
    req.end(payload);
  });
}

function readJson(res: IncomingMessage, maxBytes: number): Promise<unknown> {
  return new Promise<unknown>((resolve, reject) => {
    if (res.statusCode !== 200) {
      // Drain so the connection can go back to the pool.
      res.resume();
      reject(new Error(`answered HTTP ${res.statusCode}`));
      return;
    }
    const chunks: Buffer[] = [];
    let length = 0;
    res.on('data', (chunk: Buffer) => {
      length += chunk.length;
      if (length > maxBytes) {
        res.destroy(new Error(`answer longer than ${maxBytes} bytes`));
        return;
      }
      chunks.push(chunk);
    });
    res.on('error', reject);
    res.on('end', () => {
      try {
        resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')));
      } catch {
        reject(new Error('answer is not JSON'));
      }
    });
  });
}
