import http from 'node:http';

export interface HttpReply {
  status: number;
  reason: string;
  body: string;
  headers: http.IncomingHttpHeaders;
  /** Whether this request went over a connection an earlier one used (keep-alive agent). */
  reusedSocket: boolean;
}

/**
 * One HTTP request with its whole answer read as UTF-8. Rejects on a socket error, or with
 * `Error(timeoutMessage)` once the socket has been idle for `timeoutMs`.
 */
export function sendHttpRequest(
  options: http.RequestOptions,
  opts: { body?: string; timeoutMs: number; timeoutMessage: string },
): Promise<HttpReply> {
  return new Promise((resolve, reject) => {
    const req = http.request(options, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          reason: res.statusMessage ?? '',
          body: Buffer.concat(chunks).toString('utf8'),
          headers: res.headers,
          reusedSocket: req.reusedSocket,
        }),
      );
      res.on('error', reject);
    });
    req.on('error', reject);
    req.setTimeout(opts.timeoutMs, () => req.destroy(new Error(opts.timeoutMessage)));
    if (opts.body !== undefined) req.end(opts.body);
    else req.end();
  });
}
