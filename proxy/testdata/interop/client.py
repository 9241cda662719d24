#!/usr/bin/env python3
"""A websockets (Debian's python3-websockets, 10.x asyncio API) client peer
for proxy/interop_test.go.

Usage: client.py PLAN.json URL [PROXY_HOST:PORT]

With a proxy it opens an HTTP CONNECT tunnel to the URL's host through the
proxy (websockets 10 has no proxy support) and runs the WebSocket over it.
It offers the plan's subprotocols, sends the plan's client messages
(fragmented when a message has several fragments) and a ping, reads every
message it expects back, sends the plan's close request and waits for the
server's close. Then it prints one JSON line describing what it saw.
"""

import asyncio
import base64
import json
import socket
import sys
import urllib.parse

import websockets


def encode(msg):
    if isinstance(msg, str):
        return {"type": "text", "data": msg}
    return {"type": "binary", "data": base64.b64encode(msg).decode("ascii")}


def pieces(m):
    if m["type"] == "text":
        return list(m["frags"])
    return [base64.b64decode(f) for f in m["frags"]]


async def send(ws, m):
    p = pieces(m)
    await ws.send(p[0] if len(p) == 1 else p)


def tunnel(proxy, target):
    """Opens a CONNECT tunnel to target (host:port) through proxy."""
    host, port = proxy.rsplit(":", 1)
    s = socket.create_connection((host, int(port)), timeout=10)
    s.sendall(f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n".encode("ascii"))
    head = b""
    while not head.endswith(b"\r\n\r\n"):  # byte by byte: nothing past the head is consumed
        b = s.recv(1)
        if not b:
            raise ConnectionError(f"proxy closed the tunnel: {head!r}")
        head += b
    status = head.split(b"\r\n", 1)[0].split()
    if len(status) < 2 or status[1] != b"200":
        raise ConnectionError(f"CONNECT refused: {head!r}")
    s.settimeout(None)
    return s


async def main(plan, url, proxy):
    sock = None
    if proxy:
        sock = tunnel(proxy, urllib.parse.urlsplit(url).netloc)
    report = {"received": [], "pongs": [], "pings": None}
    async with websockets.connect(
        url,
        subprotocols=plan["offer"],
        max_size=None,
        ping_interval=None,
        open_timeout=10,
        close_timeout=10,
        sock=sock,
    ) as ws:
        report["subprotocol"] = ws.subprotocol
        report["extensions"] = ws.response_headers.get("Sec-WebSocket-Extensions")
        for m in plan["client_msgs"]:
            await send(ws, m)
        pong = await ws.ping(plan["client_ping"].encode())
        await asyncio.wait_for(pong, 10)
        report["pongs"].append(plan["client_ping"])
        for _ in range(len(plan["server_msgs"]) + len(plan["client_msgs"])):
            report["received"].append(encode(await ws.recv()))
        await ws.send(plan["close_request"])
        try:
            while True:  # nothing more is expected; record it if it comes
                report["received"].append(encode(await ws.recv()))
        except websockets.ConnectionClosed:
            pass
        await ws.wait_closed()
        report["close"] = {"code": ws.close_code, "reason": ws.close_reason}
    print(json.dumps(report, ensure_ascii=False), flush=True)


if __name__ == "__main__":
    with open(sys.argv[1], encoding="utf-8") as f:
        plan = json.load(f)
    proxy = sys.argv[3] if len(sys.argv) > 3 else None
    asyncio.run(asyncio.wait_for(main(plan, sys.argv[2], proxy), 20))
