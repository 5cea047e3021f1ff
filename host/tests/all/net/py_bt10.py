"""The bittensor 10.5 side of subnetd's protocol interop tests (Axon/Dendrite and Epistula).

Modes (keys are development URIs, `//Name`, derived by the SDK's own Keypair):
  dendrite PORT MINER_SS58 VALIDATOR_URI UNREGISTERED_URI
      A real Dendrite queries the subnetd miner at 127.0.0.1:PORT with TextTask(payload=21),
      then hand-made requests (built by the SDK's preprocess_synapse_for_request and signed with
      the SDK's Keypair): a replay, a bad signature, a stale nonce, an altered body, an
      unregistered hotkey. Prints one JSON object of the outcomes.
  axons N
      Serves N real Axons (hotkeys //Axon0 ... //AxonN-1) on 127.0.0.1, each answering TextTask
      with response = payload * 2. Prints [{"port", "hotkey"}, ...] as one line, then serves
      until killed.
  bench N ROUNDS
      N Axons and a Dendrite in this process; ROUNDS rounds of Dendrite.forward to all of them
      (the bittensor half of host/benches/protocols.rs). Prints {"qps", "p50_ms", "p99_ms"}.
  epistula-miner URI
      A reference Epistula v2 miner written from SN1's published format (receiver, 8000 ms
      staleness, signature over sha256(body).uuid.timestamp.signed_for, on the SDK's Keypair):
      answers a JSON number with its double, 400 with SN1's error text otherwise. Prints its port.
  epistula-client URL MINER_SS58 URI
      Reference Epistula requests to a subnetd miner: a good one, a bad signature, a stale
      timestamp. Prints one JSON object of the outcomes.
Only `networking.get_external_ip` is replaced (it would ask the internet).
"""

import hashlib
import json
import math
import sys
import time
import uuid as uuidlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar, Optional, Tuple

OUT = sys.stdout
sys.stdout = sys.stderr  # SDK chatter must not corrupt what the test reads.

import bittensor  # noqa: E402
import requests  # noqa: E402
from bittensor.core.chain_data import AxonInfo  # noqa: E402
from bittensor.utils import networking  # noqa: E402
from bittensor_wallet import Keypair, Wallet  # noqa: E402

networking.get_external_ip = lambda: "127.0.0.1"


class TextTask(bittensor.Synapse):
    """The interop synapse: a number in, its double out; the payload is hashed."""

    payload: int
    response: Optional[int] = None
    required_hash_fields: ClassVar[Tuple[str, ...]] = ("payload",)


def emit(obj):
    OUT.write(json.dumps(obj) + "\n")
    OUT.flush()


def target(port, hotkey):
    return AxonInfo(version=0, ip="127.0.0.1", port=port, ip_type=4, hotkey=hotkey, coldkey="")


def post(port, headers, body):
    r = requests.post(
        f"http://127.0.0.1:{port}/TextTask",
        headers={"Content-Type": "application/json", **headers},
        data=body.encode(),
        timeout=20,
    )
    try:
        error = r.json().get("error")
    except ValueError:
        error = None
    return {"status": r.status_code, "error": error, "axon_status": r.headers.get("bt_header_axon_status_code")}


def prepared(dendrite, port, miner, payload, timeout=12.0):
    syn = dendrite.preprocess_synapse_for_request(target(port, miner), TextTask(payload=payload), timeout=timeout)
    return syn, {k: str(v) for k, v in syn.to_headers().items()}, json.dumps(syn.model_dump())


def mode_dendrite(port, miner, validator_uri, unregistered_uri):
    port = int(port)
    kp = Keypair.create_from_uri(validator_uri)
    dendrite = bittensor.Dendrite(wallet=kp)
    out = {}
    answer = dendrite.query(target(port, miner), TextTask(payload=21), timeout=12.0)
    out["answer"] = {
        "status": answer.dendrite.status_code,
        "response": answer.response,
        "message": answer.dendrite.status_message,
        "axon_hotkey": answer.axon.hotkey,
        "axon_signature": answer.axon.signature,
        "axon_nonce": answer.axon.nonce,
        "axon_uuid": answer.axon.uuid,
        "dendrite_hotkey": kp.ss58_address,
    }
    # The same request twice: the second is a replayed nonce.
    _, headers, body = prepared(dendrite, port, miner, 5)
    out["first"] = post(port, headers, body)
    out["replay"] = post(port, headers, body)
    # A bad signature.
    _, headers, body = prepared(dendrite, port, miner, 6)
    sig = headers["bt_header_dendrite_signature"]
    headers["bt_header_dendrite_signature"] = sig[:-2] + ("00" if sig[-2:] != "00" else "11")
    out["bad_signature"] = post(port, headers, body)
    # A stale first nonce (60 s old, window 4 s + 12 s) from a new dendrite uuid, signed right.
    fresh = bittensor.Dendrite(wallet=kp)
    syn, headers, body = prepared(fresh, port, miner, 7)
    nonce = time.time_ns() - 60 * 10**9
    message = f"{nonce}.{kp.ss58_address}.{miner}.{fresh.uuid}.{syn.body_hash}"
    headers["bt_header_dendrite_nonce"] = str(nonce)
    headers["bt_header_dendrite_signature"] = "0x" + kp.sign(message).hex()
    out["stale_nonce"] = post(port, headers, body)
    # An altered body: the required hash field changed after signing.
    _, headers, body = prepared(dendrite, port, miner, 8)
    altered = json.loads(body)
    altered["payload"] = 9
    out["altered_body"] = post(port, headers, json.dumps(altered))
    # An unregistered hotkey, otherwise a perfect request.
    stranger = bittensor.Dendrite(wallet=Keypair.create_from_uri(unregistered_uri))
    _, headers, body = prepared(stranger, port, miner, 10)
    out["unregistered"] = post(port, headers, body)
    emit(out)


def mode_axons(n, forever=True):
    import socket
    import tempfile

    served = []
    for i in range(int(n)):
        kp = Keypair.create_from_uri(f"//Axon{i}")
        wallet = Wallet(name=f"axon{i}", hotkey="axon", path=tempfile.mkdtemp())
        wallet.set_hotkey(kp, encrypt=False, overwrite=True)
        wallet.set_coldkeypub(kp, encrypt=False, overwrite=True)

        def forward(synapse: TextTask) -> TextTask:
            synapse.response = synapse.payload * 2
            return synapse

        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
        axon = bittensor.Axon(wallet=wallet, ip="127.0.0.1", port=port, external_ip="127.0.0.1")
        axon.fast_server.config.host = "127.0.0.1"  # loopback only
        axon.attach(forward_fn=forward)
        axon.start()
        served.append((axon, port, kp.ss58_address))
    for _, port, _ in served:
        deadline = time.time() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if time.time() > deadline:
                    raise
                time.sleep(0.05)
    listed = [{"port": p, "hotkey": h} for _, p, h in served]
    if not forever:
        BENCH["axons"] = listed
        BENCH["keep"] = served
        return
    emit(listed)
    while True:
        time.sleep(3600)


def mode_bench(n, rounds):
    """N Axons and one Dendrite in this process: `rounds` rounds of dendrite.forward to all,
    after two warm-up rounds; prints queries/s and round p50/p99 (ms)."""
    import asyncio

    n, rounds = int(n), int(rounds)
    mode_axons(n, False)
    targets = [target(a["port"], a["hotkey"]) for a in BENCH["axons"]]
    dendrite = bittensor.Dendrite(wallet=Keypair.create_from_uri("//BenchValidator"))

    async def run():
        times, answered = [], 0
        for r in range(rounds + 2):
            started = time.perf_counter()
            outs = await dendrite.forward(targets, TextTask(payload=r), timeout=12.0)
            if r >= 2:
                times.append(time.perf_counter() - started)
                answered += sum(1 for o in outs if o.dendrite.status_code == 200)
        return times, answered

    times, answered = asyncio.run(run())
    total = sum(times)
    times.sort()

    def pct(p):
        return times[round((len(times) - 1) * p)] * 1e3

    emit({"qps": answered / total, "p50_ms": pct(0.5), "p99_ms": pct(0.99), "answered": answered})


BENCH = {}


def epistula_headers(kp, body, signed_for, timestamp=None, uuid=None):
    timestamp = timestamp or round(time.time() * 1000)
    uuid = uuid or str(uuidlib.uuid4())
    digest = hashlib.sha256(body).hexdigest()

    def sign(text):
        return "0x" + kp.sign(text).hex()

    headers = {
        "Epistula-Version": "2",
        "Epistula-Timestamp": str(timestamp),
        "Epistula-Uuid": uuid,
        "Epistula-Signed-By": kp.ss58_address,
        "Epistula-Request-Signature": sign(f"{digest}.{uuid}.{timestamp}.{signed_for}"),
        "Epistula-Signed-For": signed_for,
    }
    interval = math.ceil(timestamp / 1e4) * 1e4  # a float, as SN1 computes it
    for i, t in enumerate((interval - 1, interval, interval + 1)):
        headers[f"Epistula-Secret-Signature-{i}"] = sign(str(t) + "." + signed_for)
    return headers


def mode_epistula_client(url, miner, uri):
    kp = Keypair.create_from_uri(uri)
    body = b"21"
    out = {}

    def send(headers, data=body):
        r = requests.post(url, headers={"Content-Type": "application/json", **headers}, data=data, timeout=20)
        try:
            j = r.json()
        except ValueError:
            j = None
        return {"status": r.status_code, "body": r.text, "error": j.get("error") if isinstance(j, dict) else None}

    out["good"] = send(epistula_headers(kp, body, miner))
    h = epistula_headers(kp, body, miner)
    sig = h["Epistula-Request-Signature"]
    h["Epistula-Request-Signature"] = sig[:-2] + ("00" if sig[-2:] != "00" else "11")
    out["bad_signature"] = send(h)
    out["stale"] = send(epistula_headers(kp, body, miner, timestamp=round(time.time() * 1000) - 60_000))
    emit(out)


def mode_epistula_miner(uri):
    kp = Keypair.create_from_uri(uri)
    me = kp.ss58_address
    stats = {"verified": 0, "refused": {}}

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt, *args):
            sys.stderr.write("epistula-miner: " + (fmt % args) + "\n")

        def reply(self, status, body):
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):
            self.reply(200, json.dumps(stats).encode())

        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            h = {k.lower(): v for k, v in self.headers.items()}
            error = None
            signed_for = h.get("epistula-signed-for")
            if signed_for != me:
                error = "Bad Request, message is not intended for self"
            else:
                timestamp = int(h.get("epistula-timestamp", "0"))
                signature = h.get("epistula-request-signature")
                now = round(time.time() * 1000)
                message = f"{hashlib.sha256(body).hexdigest()}.{h.get('epistula-uuid')}.{timestamp}.{signed_for}"
                if timestamp + 8000 < now:
                    error = "Request is too stale"
                elif not Keypair(ss58_address=h.get("epistula-signed-by")).verify(message, signature):
                    error = "Signature Mismatch"
            if error:
                stats["refused"][error] = stats["refused"].get(error, 0) + 1
                return self.reply(400, json.dumps({"error": error}).encode())
            stats["verified"] += 1
            self.reply(200, json.dumps(json.loads(body) * 2).encode())

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    emit(server.server_address[1])
    server.serve_forever()


MODES = {
    "dendrite": mode_dendrite,
    "axons": mode_axons,
    "bench": mode_bench,
    "epistula-client": mode_epistula_client,
    "epistula-miner": mode_epistula_miner,
}

if __name__ == "__main__":
    MODES[sys.argv[1]](*sys.argv[2:])
