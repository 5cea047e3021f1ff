"""The bittensor 10.5 side of subnet-keys' Synapse and Epistula interop tests.

One JSON request per line on stdin, one JSON answer per line on stdout (as sdk_helper.py).
Synapse operations use the SDK's own code: `Synapse.body_hash`, `Dendrite.
preprocess_synapse_for_request` and `Synapse.to_headers`, and a real `Axon` served on
127.0.0.1 whose middleware (blacklist, `default_verify`, body integrity) answers HTTP requests.
The only thing replaced is `networking.get_external_ip`, which would ask the internet.

Epistula has no package: `epistula_sign` / `epistula_verify` are a reference written here from
SN1's published format (macrocosm-os/prompting `shared/epistula.py` and its miner's
`verify_request`), on the SDK's `Keypair`.

Answers: {"ok": true, ...} or {"ok": false, "error": <exception class>, "message": <text>}.
"""

import hashlib
import json
import math
import socket
import sys
import tempfile
import time
import unicodedata
from typing import Any, ClassVar, Tuple

PROTOCOL_OUT = sys.stdout
sys.stdout = sys.stderr  # SDK chatter must not corrupt the protocol.

import bittensor  # noqa: E402
import requests  # noqa: E402
from bittensor.core.chain_data import AxonInfo  # noqa: E402
from bittensor.utils import get_hash, networking  # noqa: E402
from bittensor_wallet import Keypair, Wallet  # noqa: E402

networking.get_external_ip = lambda: "127.0.0.1"


class Q(bittensor.Synapse):
    """The test synapse: one required field, two with defaults, all three hashed."""

    prompt: str
    items: list = []
    score: float = 0.0
    required_hash_fields: ClassVar[Tuple[str, ...]] = ("prompt", "items", "score")


class Probe(bittensor.Synapse):
    """Fields that keep JSON values as decoded, to hash arbitrary values the SDK's way."""

    a: Any = None
    b: Any = None
    c: Any = None
    required_hash_fields: ClassVar[Tuple[str, ...]] = ("a", "b", "c")


STATE = {}


def op_version(_req):
    return {
        "bittensor": bittensor.__version__,
        "unicode": unicodedata.unidata_version,
        "python": sys.version.split()[0],
    }


def op_py_str(req):
    """str() of each JSON value and get_hash of it, as Synapse.body_hash hashes one field."""
    strs = [str(json.loads(text)) for text in req["values"]]
    return {"strs": strs, "hashes": [get_hash(s) for s in strs]}


def op_probe_hash(req):
    """The SDK's body hash of a Probe body, as the Axon's verify_body_integrity computes it."""
    return {"hash": Probe(**json.loads(req["body"])).body_hash}


def op_dendrite_request(req):
    """A request exactly as Dendrite.call builds it: headers and the JSON body."""
    dendrite = bittensor.Dendrite(wallet=Keypair.create_from_uri(req["uri"]))
    target = AxonInfo(
        version=0, ip="127.0.0.1", port=req.get("port", 8091), ip_type=4, hotkey=req["axon_hotkey"], coldkey=""
    )
    synapse = Q(prompt=req["prompt"], items=req["items"], score=req["score"])
    synapse = dendrite.preprocess_synapse_for_request(target, synapse, timeout=req["timeout"])
    headers = synapse.to_headers()
    return {
        "headers": [[k, str(v)] for k, v in headers.items()],
        "body": json.dumps(synapse.model_dump()),
        "body_hash": synapse.body_hash,
    }


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def op_axon_start(req):
    """A real Axon for //uri's hotkey on 127.0.0.1, serving Q; hotkeys in `blacklist` get 403."""
    kp = Keypair.create_from_uri(req["uri"])
    wallet = Wallet(name="axon", hotkey="axon", path=tempfile.mkdtemp())
    wallet.set_hotkey(kp, encrypt=False, overwrite=True)
    wallet.set_coldkeypub(kp, encrypt=False, overwrite=True)
    blacklist = set(req.get("blacklist", []))

    def forward(synapse: Q) -> Q:
        synapse.score = 42.0
        synapse.items = synapse.items + ["answered"]
        return synapse

    def blacklist_fn(synapse: Q) -> Tuple[bool, str]:
        return (synapse.dendrite.hotkey in blacklist, "listed")

    port = free_port()
    axon = bittensor.Axon(wallet=wallet, ip="127.0.0.1", port=port, external_ip="127.0.0.1")
    axon.fast_server.config.host = "127.0.0.1"  # loopback only
    axon.attach(forward_fn=forward, blacklist_fn=blacklist_fn)
    axon.start()
    deadline = time.time() + 20
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            if time.time() > deadline:
                raise
            time.sleep(0.05)
    STATE["axon"] = (axon, port)
    return {"port": port, "hotkey": kp.ss58_address, "uuid": axon.uuid}


def op_axon_post(req):
    """POSTs headers and body (as JSON, the content type a Dendrite sends) to the running Axon;
    returns what came back."""
    _, port = STATE["axon"]
    r = requests.post(
        f"http://127.0.0.1:{port}/{req.get('route', 'Q')}",
        headers={"Content-Type": "application/json", **{k: v for k, v in req["headers"]}},
        data=req["body"].encode(),
        timeout=20,
    )
    return {"status": r.status_code, "headers": [[k, v] for k, v in r.headers.items()], "body": r.text}


def op_verify_sig(req):
    """The SDK's Keypair.verify of a text message and a 0x-hex signature."""
    return {"valid": bool(Keypair(ss58_address=req["ss58"]).verify(req["message"], req["signature"]))}


def op_epistula_sign(req):
    """Epistula v2 headers from SN1's published format, signed by //uri."""
    kp = Keypair.create_from_uri(req["uri"])
    body = bytes.fromhex(req["body_hex"])
    timestamp = req.get("timestamp_ms") or round(time.time() * 1000)
    uuid = req["uuid"]
    receiver = req.get("signed_for")
    digest = hashlib.sha256(body).hexdigest()

    def sign(text):
        return "0x" + kp.sign(text).hex()

    headers = {
        "Epistula-Version": "2",
        "Epistula-Timestamp": str(timestamp),
        "Epistula-Uuid": uuid,
        "Epistula-Signed-By": kp.ss58_address,
        "Epistula-Request-Signature": sign(f"{digest}.{uuid}.{timestamp}.{receiver or ''}"),
    }
    if receiver:
        interval = math.ceil(timestamp / 1e4) * 1e4  # a float, as SN1 computes it
        headers["Epistula-Signed-For"] = receiver
        for i, t in enumerate((interval - 1, interval, interval + 1)):
            headers[f"Epistula-Secret-Signature-{i}"] = sign(str(t) + "." + receiver)
    return {"headers": [[k, v] for k, v in headers.items()]}


def op_epistula_verify(req):
    """SN1's miner-side checks: receiver is self, then the 8000 ms staleness rule and the
    signature over sha256(body).uuid.int(timestamp).signed_for. Returns SN1's error text."""
    h = {k.lower(): v for k, v in req["headers"]}
    signed_for = h.get("epistula-signed-for")
    if signed_for != req["self_ss58"]:
        return {"error_text": "Bad Request, message is not intended for self"}
    timestamp = int(h.get("epistula-timestamp"))
    signature = h.get("epistula-request-signature")
    if not isinstance(signature, str):
        return {"error_text": "Invalid Signature"}
    if timestamp + 8000 < req["now_ms"]:
        return {"error_text": "Request is too stale"}
    body = bytes.fromhex(req["body_hex"])
    message = f"{hashlib.sha256(body).hexdigest()}.{h.get('epistula-uuid')}.{timestamp}.{signed_for}"
    if not Keypair(ss58_address=h.get("epistula-signed-by")).verify(message, signature):
        return {"error_text": "Signature Mismatch"}
    return {"error_text": None}


OPS = {name[3:]: fn for name, fn in globals().items() if name.startswith("op_")}


def main():
    try:
        for line in sys.stdin:
            if not line.strip():
                continue
            try:
                req = json.loads(line)
                answer = {"ok": True, **OPS[req["op"]](req)}
            except Exception as e:  # every failure is an answer; the Rust side asserts on it
                answer = {"ok": False, "error": type(e).__name__, "message": str(e)}
            PROTOCOL_OUT.write(json.dumps(answer) + "\n")
            PROTOCOL_OUT.flush()
    finally:
        if "axon" in STATE:
            STATE["axon"][0].stop()


if __name__ == "__main__":
    main()
