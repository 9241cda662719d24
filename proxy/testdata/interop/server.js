// A ws (npm) server peer for proxy/interop_test.go. CommonJS: the test finds
// ws through NODE_PATH.
//
// Usage: node server.js PLAN.json
//
// It listens on 127.0.0.1:0 and prints its port as the first line of stdout.
// It serves one connection with permessage-deflate on (context takeover,
// ws's default once enabled): it picks the plan's subprotocol, sends the
// plan's server messages (fragmented when a message has several fragments)
// and a ping, echoes every message it receives until the plan's close
// request, then closes with the plan's close code and reason. When the
// connection is over it prints one JSON line describing what it saw, and
// exits.
'use strict';

const fs = require('fs');
const { WebSocketServer } = require('ws');

const plan = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const report = { received: [], pongs: [], pings: [] };

setTimeout(() => {
  console.error('server.js: timed out');
  process.exit(2);
}, 20000).unref();

function encode(data, isBinary) {
  return isBinary ? { type: 'binary', data: data.toString('base64') } : { type: 'text', data: data.toString('utf8') };
}

// send sends one plan message; several fragments go out as one fragmented
// message (ws's fin option).
function send(ws, m) {
  const binary = m.type === 'binary';
  m.frags.forEach((f, i) => {
    const data = binary ? Buffer.from(f, 'base64') : f;
    ws.send(data, { binary, fin: i === m.frags.length - 1 });
  });
}

const wss = new WebSocketServer({
  host: '127.0.0.1',
  port: 0,
  perMessageDeflate: true,
  maxPayload: 0, // no limit
  handleProtocols: (protocols) => (protocols.has(plan.accept) ? plan.accept : false),
});
wss.on('error', (err) => {
  console.error('server.js:', err);
  process.exit(1);
});
wss.on('listening', () => process.stdout.write(wss.address().port + '\n'));
wss.on('connection', (ws, req) => {
  report.path = req.url;
  report.offered = req.headers['sec-websocket-protocol'] ?? null;
  report.subprotocol = ws.protocol;
  report.extensions = ws.extensions;
  ws.on('error', (err) => {
    console.error('server.js:', err);
    process.exit(1);
  });
  ws.on('ping', (data) => report.pings.push(data.toString('utf8')));
  ws.on('pong', (data) => report.pongs.push(data.toString('utf8')));
  ws.on('message', (data, isBinary) => {
    report.received.push(encode(data, isBinary));
    if (!isBinary && data.toString('utf8') === plan.close_request) {
      ws.close(plan.close_code, plan.close_reason);
      return;
    }
    ws.send(data, { binary: isBinary });
  });
  ws.on('close', (code, reason) => {
    report.close = { code, reason: reason.toString('utf8') };
    wss.close();
    process.stdout.write(JSON.stringify(report) + '\n', () => process.exit(0));
  });
  for (const m of plan.server_msgs) send(ws, m);
  ws.ping(plan.server_ping);
});
