#!/usr/bin/env python3
"""A price feed for the prediction subnet (Python standard library only).

The series is ``value(b) = 100 + 2 b + noise(b)``, with a deterministic noise in [-0.5, 0.5).
A value exists once a validator has asked for the history at or past its block, so the truth
of a prediction arrives after the prediction, as a real feed's would:

- ``GET /history?block=B&n=N``: the last N values up to block B, ``[[block, value], ...]``;
  block B counts as passed from then on.
- ``GET /value?block=T``: ``{"block": T, "value": v}``, or 404 while no validator has reached T.

Usage: ``feed.py [PORT]`` (default 18790); prints ``listening on http://127.0.0.1:PORT``.
"""

import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

LOCK = threading.Lock()
SEEN = {"block": -1}


def value(block):
    noise = ((block * 7919) % 101) / 101.0 - 0.5
    return 100.0 + 2.0 * block + noise


class Feed(BaseHTTPRequestHandler):
    def do_GET(self):
        url = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        try:
            block = int(query["block"])
        except (KeyError, ValueError):
            return self.answer(400, {"error": "block=<int> is required"})
        if url.path == "/history":
            n = max(1, min(int(query.get("n", "10")), 1000))
            with LOCK:
                SEEN["block"] = max(SEEN["block"], block)
            return self.answer(200, [[b, value(b)] for b in range(max(0, block - n + 1), block + 1)])
        if url.path == "/value":
            with LOCK:
                passed = block <= SEEN["block"]
            if not passed:
                return self.answer(404, {"error": f"block {block} has not passed yet"})
            return self.answer(200, {"block": block, "value": value(block)})
        return self.answer(404, {"error": "no such path"})

    def answer(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


def main():
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 18790
    server = ThreadingHTTPServer(("127.0.0.1", port), Feed)
    print(f"listening on http://127.0.0.1:{port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
