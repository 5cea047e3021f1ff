"""A validator written against the real bittensor SDK: it signs its queries with
`bittensor.http_auth.sign` (hotkey loaded by `bittensor.Wallet`) and sends them with urllib to
a subnetd miner, following the wire protocol of subnet_host::net.

Usage: py_validator.py WALLETS_DIR WALLET HOTKEY MINER_URL MINER_SS58 NETUID
Prints one JSON object: the outcome of each scenario (status, body or error code).
"""

import json
import sys
import urllib.error
import urllib.request

import bittensor
from bittensor import http_auth

path, name, hotkey_name, url, miner_ss58, netuid = sys.argv[1:7]
wallet = bittensor.Wallet(name=name, hotkey=hotkey_name, path=path)
kp = wallet.get_hotkey()
TASK_PATH = "/v1/task"


def send(body, headers):
    req = urllib.request.Request(url + TASK_PATH, data=body, method="POST")
    for k, v in headers.items():
        req.add_header(k, v)
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return {"status": resp.status, "content_type": resp.headers.get("Content-Type"), "body": resp.read().decode()}
    except urllib.error.HTTPError as e:
        return {"status": e.code, "error": json.loads(e.read() or b"{}").get("error")}


def task_headers(task_id):
    return {
        "Content-Type": "application/json",
        "X-Subnet-Task-Id": task_id,
        "X-Subnet-Netuid": netuid,
        "X-Subnet-Timeout-Ms": "5000",
    }


out = {"validator": kp.ss58_address}
body = json.dumps(21).encode()
auth = http_auth.sign(wallet, method="POST", path=TASK_PATH, body=body, receiver_ss58=miner_ss58)
out["answer"] = send(body, {**task_headers("py-1"), **auth})
# The same signed request again: a replay.
out["replay"] = send(body, {**task_headers("py-1"), **auth})
# Signed for another body than the one sent.
auth = http_auth.sign(wallet, method="POST", path=TASK_PATH, body=body, receiver_ss58=miner_ss58)
out["tampered"] = send(json.dumps(22).encode(), {**task_headers("py-2"), **auth})
# Signed for another receiver.
auth = http_auth.sign(wallet, method="POST", path=TASK_PATH, body=body, receiver_ss58=kp.ss58_address)
out["wrong_receiver"] = send(body, {**task_headers("py-3"), **auth})
# A second honest query, with a fresh nonce.
body = json.dumps(1000).encode()
auth = http_auth.sign(wallet, method="POST", path=TASK_PATH, body=body, receiver_ss58=miner_ss58)
out["second"] = send(body, {**task_headers("py-4"), **auth})
print(json.dumps(out), flush=True)
