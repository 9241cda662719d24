#!/usr/bin/env python3
"""A WebSocket client for the `wstap serve` tests, written with Python's
websockets library (10.4 or later: Debian's python3-websockets).

It follows a plan, given as a JSON file:

    serve_client.py PLAN.json

    {"url": "ws://127.0.0.1:8765/chat",
     "subprotocols": ["chat.v1"],                  (optional)
     "actions": [{"recv": 2},                      read 2 messages
                 {"send": "text"},                 send a text message
                 {"send_base64": "AAEC"}],         send a binary message
     "end": "wait"}                                wait for the server's close
                                                   ("close": close with 1000)

or on the command line, the actions in order:

    serve_client.py URL [--subprotocol P]… [--recv N | --send TEXT |
                         --send-base64 B64]… [--wait-close]

and prints, as one JSON object on stdout, what it received:

    {"subprotocol": "chat.v1",
     "received": [{"type": "text", "text": "…"}, {"type": "binary", "base64": "…"}],
     "close_code": 4001, "close_reason": "…"}
"""

import asyncio
import base64
import json
import sys

import websockets

TIMEOUT = 10  # seconds, for each message and for the close


def parse_argv(argv):
    if len(argv) == 1 and argv[0].endswith(".json"):
        with open(argv[0], encoding="utf-8") as f:
            return json.load(f)
    if not argv:
        sys.exit("usage: serve_client.py PLAN.json | URL [--subprotocol P] [--recv N] [--send TEXT] [--send-base64 B64] [--wait-close]")
    plan = {"url": argv[0], "subprotocols": [], "actions": [], "end": "close"}
    args = iter(argv[1:])
    for a in args:
        if a == "--subprotocol":
            plan["subprotocols"].append(next(args))
        elif a == "--recv":
            plan["actions"].append({"recv": int(next(args))})
        elif a == "--send":
            plan["actions"].append({"send": next(args)})
        elif a == "--send-base64":
            plan["actions"].append({"send_base64": next(args)})
        elif a == "--wait-close":
            plan["end"] = "wait"
        else:
            sys.exit("serve_client.py: unknown argument %r" % a)
    return plan


def describe(msg):
    if isinstance(msg, str):
        return {"type": "text", "text": msg}
    return {"type": "binary", "base64": base64.b64encode(msg).decode("ascii")}


def close_of(exc, ws):
    """The close code and reason the server sent, across websockets versions."""
    rcvd = getattr(exc, "rcvd", None) if exc is not None else None
    if rcvd is not None:
        return rcvd.code, rcvd.reason
    return ws.close_code, ws.close_reason


async def main(plan):
    out = {"subprotocol": None, "received": [], "close_code": None, "close_reason": None}
    kwargs = {"max_size": None, "open_timeout": TIMEOUT, "close_timeout": TIMEOUT}
    if plan.get("subprotocols"):
        kwargs["subprotocols"] = plan["subprotocols"]
    async with websockets.connect(plan["url"], **kwargs) as ws:
        out["subprotocol"] = ws.subprotocol
        for act in plan.get("actions", []):
            if "recv" in act:
                for _ in range(act["recv"]):
                    out["received"].append(describe(await asyncio.wait_for(ws.recv(), TIMEOUT)))
            elif "send" in act:
                await ws.send(act["send"])
            elif "send_base64" in act:
                await ws.send(base64.b64decode(act["send_base64"]))
            else:
                raise SystemExit("serve_client.py: unknown action %r" % act)
        if plan.get("end") == "wait":
            try:
                while True:
                    out["received"].append(describe(await asyncio.wait_for(ws.recv(), TIMEOUT)))
            except websockets.ConnectionClosed as exc:
                out["close_code"], out["close_reason"] = close_of(exc, ws)
        else:
            await ws.close(code=1000, reason="bye")
            out["close_code"], out["close_reason"] = ws.close_code, ws.close_reason
    json.dump(out, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    asyncio.run(main(parse_argv(sys.argv[1:])))
