#!/usr/bin/env python3
"""A websockets (Debian's python3-websockets, 10.x asyncio API) server peer
for proxy/interop_test.go.

Usage: server.py PLAN.json

It listens on 127.0.0.1:0 and prints its port as the first line of stdout.
It serves one connection: it picks the plan's subprotocol, sends the plan's
server messages (fragmented when a message has several fragments) and a
ping, echoes every message it receives until the plan's close request, then
closes with the plan's close code and reason. When the connection is over it
prints one JSON line describing what it saw, and exits.
"""

import asyncio
import base64
import json
import sys

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
    # websockets sends an iterable as one fragmented message.
    await ws.send(p[0] if len(p) == 1 else p)


async def main(plan):
    report = {"received": [], "pongs": [], "pings": None}
    done = asyncio.get_running_loop().create_future()

    async def handler(ws):
        try:
            report["path"] = ws.path
            report["offered"] = ws.request_headers.get("Sec-WebSocket-Protocol")
            report["subprotocol"] = ws.subprotocol
            report["extensions"] = ws.response_headers.get("Sec-WebSocket-Extensions")
            for m in plan["server_msgs"]:
                await send(ws, m)
            pong = await ws.ping(plan["server_ping"].encode())
            async for msg in ws:
                report["received"].append(encode(msg))
                if msg == plan["close_request"]:
                    await ws.close(plan["close_code"], plan["close_reason"])
                    break
                await ws.send(msg)
            if pong.done() and not pong.cancelled() and pong.exception() is None:
                report["pongs"].append(plan["server_ping"])
            rcvd = ws.close_rcvd
            report["close"] = None if rcvd is None else {"code": rcvd.code, "reason": rcvd.reason}
            if not done.done():
                done.set_result(None)
        except BaseException as e:
            if not done.done():
                done.set_exception(e)
            raise

    async with websockets.serve(
        handler,
        "127.0.0.1",
        0,
        subprotocols=[plan["accept"]],
        max_size=None,
        ping_interval=None,
        close_timeout=10,
    ) as server:
        print(server.sockets[0].getsockname()[1], flush=True)
        await done
    print(json.dumps(report, ensure_ascii=False), flush=True)


if __name__ == "__main__":
    with open(sys.argv[1], encoding="utf-8") as f:
        plan = json.load(f)
    asyncio.run(asyncio.wait_for(main(plan), 20))
