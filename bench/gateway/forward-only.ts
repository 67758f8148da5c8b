// The floor for any node proxy on this machine: an absolute-form HTTP proxy that only forwards
// (one keep-alive agent, the request piped up and the answer piped back; no policy, no DNS, no
// log, no header rewriting). The gateway bench runs it beside the gateway, so "how much of
// direct a proxy keeps" is read against what node's http machinery alone costs in that run.
// Prints `listening on http://127.0.0.1:PORT` on stderr, runs until SIGTERM.
import http from 'node:http';

const agent = new http.Agent({ keepAlive: true, maxSockets: 256, noDelay: true });
const server = http.createServer({ keepAlive: true, noDelay: true }, (req, res) => {
  let url: URL;
  try {
    url = new URL(req.url ?? '');
  } catch {
    res.writeHead(400).end();
    return;
  }
  const up = http.request({ host: '127.0.0.1', port: url.port, method: req.method, path: url.pathname + url.search, headers: req.headers, agent }, (answer) => {
    res.writeHead(answer.statusCode ?? 502, answer.headers);
    answer.pipe(res);
  });
  up.on('error', () => res.destroy());
  req.pipe(up);
});
server.listen(0, '127.0.0.1', () => {
  const { port } = server.address() as import('node:net').AddressInfo;
  process.stderr.write(`listening on http://127.0.0.1:${port}\n`);
});
process.once('SIGTERM', () => process.exit(0));
