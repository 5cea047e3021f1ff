"""A tiny miner written against the real bittensor SDK: it verifies every request with
`bittensor.http_auth.verify` and answers a JSON number with its double.

Usage: py_miner.py WALLETS_DIR WALLET HOTKEY
Prints its port as the first stdout line. `GET /stats` answers the counters of verified and
refused requests, so a test can check what the SDK accepted. Logs each request to stderr.
"""

import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import bittensor
from bittensor import http_auth

path, name, hotkey_name = sys.argv[1:4]
wallet = bittensor.Wallet(name=name, hotkey=hotkey_name, path=path)
HOTKEY = wallet.get_hotkey()
STORE = http_auth.InMemoryNonceStore()
LOCK = threading.Lock()
STATS = {"verified": 0, "refused": {}, "callers": []}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        sys.stderr.write("py_miner: " + (fmt % args) + "\n")

    def reply(self, status, content_type, body):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path != "/stats":
            return self.reply(404, "application/json", b'{"error":"not_found"}')
        with LOCK:
            body = json.dumps(STATS).encode()
        self.reply(200, "application/json", body)

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length)
        try:
            caller = http_auth.verify(
                {k: v for k, v in self.headers.items()},
                body,
                method="POST",
                path=self.path,
                self_hotkey_ss58=HOTKEY.ss58_address,
                nonce_store=STORE,
            )
        except http_auth.AuthError as e:
            cls = type(e).__name__
            with LOCK:
                STATS["refused"][cls] = STATS["refused"].get(cls, 0) + 1
            sys.stderr.write(f"py_miner: refused ({cls}): {e}\n")
            return self.reply(401, "application/json", json.dumps({"error": cls, "message": str(e)}).encode())
        with LOCK:
            STATS["verified"] += 1
            STATS["callers"].append(caller.hotkey_ss58)
        task_id = self.headers.get("X-Subnet-Task-Id", "-")
        sys.stderr.write(f"py_miner: verified {caller.hotkey_ss58} task {task_id}\n")
        number = json.loads(body)
        self.reply(200, "application/json", json.dumps(number * 2).encode())


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(server.server_address[1], flush=True)
server.serve_forever()
