"""The bittensor SDK's side of subnet-keys' interop tests.

Reads one JSON request per line on stdin and answers one JSON line on stdout, so a Rust test
drives a single Python process through a whole scenario (keys and nonce stores persist between
requests). Every operation calls the SDK's own public functions (bittensor.http_auth,
bittensor.Wallet, bittensor.keyfiles, bittensor_core); nothing here reimplements them.

Requests: {"op": <name>, ...}; answers: {"ok": true, ...} or {"ok": false, "error": <exception
class>, "message": <text>}. Anything the SDK prints goes to stderr, never into the protocol.
"""

import json
import sys

PROTOCOL_OUT = sys.stdout
sys.stdout = sys.stderr  # SDK chatter (mnemonics, prompts) must not corrupt the protocol.

import bittensor  # noqa: E402
import bittensor_core as core  # noqa: E402
from bittensor import http_auth  # noqa: E402
from bittensor.keyfiles import Keyfile  # noqa: E402

KEYS = {}
STORES = {}


def crypto_code(value):
    return {"sr25519": core.CRYPTO_SR25519, "ed25519": core.CRYPTO_ED25519}[value]


def key_info(kp):
    return {"ss58": kp.ss58_address, "crypto_type": int(kp.crypto_type), "public_hex": bytes(kp.public_key).hex()}


def op_version(_req):
    return {"bittensor": bittensor.__version__, "protocol": http_auth.PROTOCOL}


def op_key_new(req):
    """A keypair held in this process: from a dev URI, or from a fresh mnemonic (a secret the
    Rust side never sees)."""
    crypto = crypto_code(req["crypto"])
    if req.get("uri") is not None:
        kp = core.Keypair.create_from_uri(req["uri"], crypto)
    else:
        kp = core.Keypair.create_from_mnemonic(core.Keypair.generate_mnemonic(12), crypto)
    KEYS[req["name"]] = kp
    return key_info(kp)


def op_sign(req):
    headers = http_auth.sign(
        KEYS[req["key"]],
        method=req["method"],
        path=req["path"],
        body=bytes.fromhex(req["body_hex"]),
        receiver_ss58=req.get("receiver"),
        nonce_ns=req.get("nonce"),
    )
    return {"headers": [[k, v] for k, v in headers.items()]}


def op_verify(req):
    store_name = req.get("store")
    if store_name is None:
        store = http_auth.InMemoryNonceStore()
    else:
        store = STORES.setdefault(store_name, http_auth.InMemoryNonceStore())
    kwargs = {}
    for opt in ("max_age", "allowed_skew", "require_receiver", "now_ns"):
        if req.get(opt) is not None:
            kwargs[opt] = req[opt]
    caller = http_auth.verify(
        {k: v for k, v in req["headers"]},
        bytes.fromhex(req["body_hex"]),
        method=req["method"],
        path=req["path"],
        self_hotkey_ss58=req["self"],
        nonce_store=store,
        **kwargs,
    )
    return {"hotkey": caller.hotkey_ss58, "nonce": caller.nonce_ns, "crypto_type": int(caller.crypto_type)}


def op_payload(req):
    payload = http_auth.build_payload(
        scheme=req["scheme"],
        method=req["method"],
        path=req["path"],
        body=bytes.fromhex(req["body_hex"]),
        nonce_ns=req["nonce"],
        sender_ss58=req["sender"],
        receiver_ss58=req.get("receiver"),
    )
    return {"payload_hex": payload.hex()}


def op_verify_sig(req):
    valid = core.verify(
        bytes.fromhex(req["message_hex"]), bytes.fromhex(req["signature_hex"]), req["ss58"], crypto_code(req["crypto"])
    )
    return {"valid": bool(valid)}


def op_wallet_create(req):
    """A wallet made by the SDK exactly as `btcli wallet create` would (no prompts)."""
    wallet = bittensor.Wallet(name=req["name"], hotkey=req["hotkey"], path=req["path"])
    out = {}
    if req.get("coldkey_password") is not None:
        wallet.create_new_coldkey(suppress=True, coldkey_password=req["coldkey_password"])
        out["coldkey"] = key_info(wallet.coldkeypub)
    wallet.create_new_hotkey(
        suppress=True,
        use_password=req.get("hotkey_password") is not None,
        hotkey_password=req.get("hotkey_password"),
        crypto_type=crypto_code(req.get("crypto", "sr25519")),
    )
    out["hotkey"] = key_info(wallet.hotkeypub)
    return out


def op_wallet_load_hotkey(req):
    """Loads a hotkey the way validators and miners do (`Wallet(...).get_hotkey`), reads the
    public companion file, and signs `message_hex` with the loaded secret."""
    wallet = bittensor.Wallet(name=req["name"], hotkey=req["hotkey"], path=req["path"])
    if wallet.hotkey_file.is_encrypted() and req.get("password") is None:
        raise ValueError("encrypted hotkey and no password given (refusing to prompt)")
    kp = wallet.get_hotkey(req.get("password"))
    out = key_info(kp)
    out["hotkeypub_ss58"] = wallet.hotkeypub.ss58_address
    out["signature_hex"] = bytes(kp.sign(bytes.fromhex(req["message_hex"]))).hex()
    return out


def op_keyfile_load(req):
    keyfile = Keyfile(req["file"])
    if keyfile.is_encrypted() and req.get("password") is None:
        raise ValueError("encrypted keyfile and no password given (refusing to prompt)")
    kp = keyfile.get_keypair(req.get("password"))
    out = key_info(kp)
    out["signature_hex"] = bytes(kp.sign(bytes.fromhex(req["message_hex"]))).hex()
    return out


OPS = {name[3:]: fn for name, fn in globals().items() if name.startswith("op_")}


def main():
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


if __name__ == "__main__":
    main()
