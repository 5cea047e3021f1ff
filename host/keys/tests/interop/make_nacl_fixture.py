"""Regenerates fixtures/nacl_hotkey_bob: the //Bob sr25519 hotkey keyfile, encrypted by the
bittensor SDK's own keyfile code ($NACL format) with the password "subnetd-test".

Run with the interop venv, from host/keys: ../../.venv/bin/python tests/interop/make_nacl_fixture.py
Used by the unit test `wallet::tests::decrypts_sdk_nacl_keyfile`.
"""
import pathlib

import bittensor_core as core

keypair = core.Keypair.create_from_uri("//Bob")
plain = bytes(core.serialized_keypair_to_keyfile_data(keypair))
sealed = bytes(core.encrypt_keyfile_data(plain, "subnetd-test"))
assert bytes(core.decrypt_keyfile_data(sealed, "subnetd-test")) == plain
out = pathlib.Path(__file__).resolve().parent / "fixtures" / "nacl_hotkey_bob"
out.write_bytes(sealed)
print(f"wrote {out} ({len(sealed)} bytes) for {keypair.ss58_address}")
