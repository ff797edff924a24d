// The Node anchor of bench/run_ws.sh: a WebSocket server on Node's `ws` (Debian node-ws,
// found through NODE_PATH=/usr/share/nodejs; pure JavaScript, without the optional native
// bufferutil/utf-8-validate addons, which Debian does not package). No compression.
//   /ws/echo         every message back to its sender
//   /ws/chat/<room>  every message to every connection on a /ws/chat/ path, sender included
//
//   NODE_PATH=/usr/share/nodejs node echo_ws.js PORT
"use strict";
const { WebSocketServer } = require("ws");

const port = Number(process.argv[2]);
const wss = new WebSocketServer({
  host: "127.0.0.1", port, backlog: 4096, perMessageDeflate: false, clientTracking: false,
});
const room = new Set();
wss.on("connection", (ws, req) => {
  if (!req.url.startsWith("/ws/chat/")) {
    ws.on("message", (data, isBinary) => ws.send(data, { binary: isBinary }));
    return;
  }
  room.add(ws);
  ws.on("close", () => room.delete(ws));
  ws.on("message", (data, isBinary) => {
    for (const member of room) member.send(data, { binary: isBinary });
  });
});
