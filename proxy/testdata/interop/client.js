// A ws (npm) client peer for proxy/interop_test.go. CommonJS: the test finds
// ws through NODE_PATH.
//
// Usage: node client.js PLAN.json URL [PROXY_HOST:PORT]
//
// With a proxy it connects through an HTTP CONNECT tunnel (a tiny
// http.Agent). It offers the plan's subprotocols, sends the plan's client
// messages (fragmented when a message has several fragments) and a ping,
// reads every message it expects back, sends the plan's close request and
// waits for the server's close. Then it prints one JSON line describing what
// it saw.
'use strict';

const fs = require('fs');
const http = require('http');
const WebSocket = require('ws');

const [planPath, url, proxy] = process.argv.slice(2);
const plan = JSON.parse(fs.readFileSync(planPath, 'utf8'));
const report = { received: [], pongs: [], pings: [] };

setTimeout(() => {
  console.error('client.js: timed out');
  process.exit(2);
}, 20000).unref();

// ConnectAgent hands ws a socket tunnelled through an HTTP proxy's CONNECT.
class ConnectAgent extends http.Agent {
  constructor(proxy) {
    super();
    const i = proxy.lastIndexOf(':');
    this.proxyHost = proxy.slice(0, i);
    this.proxyPort = Number(proxy.slice(i + 1));
  }

  createConnection(options, cb) {
    const target = `${options.host}:${options.port}`;
    const req = http.request({
      host: this.proxyHost,
      port: this.proxyPort,
      method: 'CONNECT',
      path: target,
      headers: { Host: target },
      agent: false,
      timeout: 10000,
    });
    req.once('connect', (res, socket, head) => {
      if (res.statusCode !== 200) {
        socket.destroy();
        cb(new Error(`CONNECT ${target}: ${res.statusCode} ${res.statusMessage}`));
        return;
      }
      if (head.length > 0) socket.unshift(head);
      cb(null, socket);
    });
    req.once('timeout', () => req.destroy(new Error(`CONNECT ${target}: timed out`)));
    req.once('error', cb);
    req.end();
  }
}

function encode(data, isBinary) {
  return isBinary ? { type: 'binary', data: data.toString('base64') } : { type: 'text', data: data.toString('utf8') };
}

function send(ws, m) {
  const binary = m.type === 'binary';
  m.frags.forEach((f, i) => {
    const data = binary ? Buffer.from(f, 'base64') : f;
    ws.send(data, { binary, fin: i === m.frags.length - 1 });
  });
}

const opts = { maxPayload: 0, handshakeTimeout: 10000 };
if (proxy) opts.agent = new ConnectAgent(proxy);
const ws = new WebSocket(url, plan.offer, opts);
const want = plan.server_msgs.length + plan.client_msgs.length;

ws.on('error', (err) => {
  console.error('client.js:', err);
  process.exit(1);
});
ws.on('unexpected-response', (req, res) => {
  console.error(`client.js: unexpected response ${res.statusCode} ${res.statusMessage}`);
  process.exit(1);
});
ws.on('open', () => {
  report.subprotocol = ws.protocol;
  report.extensions = ws.extensions;
  for (const m of plan.client_msgs) send(ws, m);
  ws.ping(plan.client_ping);
});
ws.on('ping', (data) => report.pings.push(data.toString('utf8')));
ws.on('pong', (data) => report.pongs.push(data.toString('utf8')));
ws.on('message', (data, isBinary) => {
  report.received.push(encode(data, isBinary));
  if (report.received.length === want) ws.send(plan.close_request);
});
ws.on('close', (code, reason) => {
  report.close = { code, reason: reason.toString('utf8') };
  process.stdout.write(JSON.stringify(report) + '\n', () => process.exit(0));
});
