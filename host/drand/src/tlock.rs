//! Timelock encryption to a drand round, in the `TLECiphertext<TinyBLS381>` byte format of
//! ideal-lab5's `tle` (the crate subtensor decrypts commits with).
//!
//! # Scheme (Boneh–Franklin FullIdent over BLS12-381, keys in G2, identities in G1)
//! Encrypt `msg` to round `n` under public key `P`:
//! `k` ← 32 random bytes (the AES key), `σ = sha256(t)` for a random scalar `t` (32 bytes LE),
//! `r = Fr(sha256(σ ‖ k))` (big-endian, mod the group order), `U = r·g2`,
//! `V = σ ⊕ sha256(e(Q, r·P))` with `Q = H(sha256(n_be))` and the GT element ark-compressed
//! (576 bytes), `W = k ⊕ sha256(σ)`, body = AES-256-GCM(`k`, random 12-byte nonce, no AAD)(msg).
//! Decrypt with the round's signature `s = sk·Q`: `σ = V ⊕ sha256(e(s, U))`, `k = W ⊕ sha256(σ)`,
//! then check `U = Fr(sha256(σ ‖ k))·g2` (which fails for any other signature) and open the body.
//!
//! The byte layout is documented on [`encrypt`].
//!
//! # What the chain accepts, and where this is stricter
//! subtensor deserializes the container (trailing bytes after it are ignored), then the
//! signature, runs `tld` and decodes the body's `AESOutput` (trailing bytes inside the body are
//! ignored; the cipher-suite bytes are not checked). [`decrypt`] accepts the same: it ignores the
//! same trailing bytes and the suite's content. Where they differ: `V` or `W` not 32 bytes is a
//! typed error here (the chain's `tld` panics on a `V` of any other length: `h4` slices a 32-byte
//! hash to `V`'s length), and non-canonical encodings of the point at infinity are refused
//! (ark 0.5 is stricter than ark 0.4 there) — such ciphertexts never decrypt on the chain either.

use aes_gcm::aead::{AeadInPlace, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use ark_bls12_381::{Bls12_381, Fr, G2Affine, G2Projective};
use ark_ec::pairing::Pairing;
use ark_ec::{CurveGroup, PrimeGroup};
use ark_ff::{PrimeField, UniformRand};
use ark_serialize::{CanonicalDeserialize, CanonicalSerialize};
use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::{RngCore, SeedableRng};
use sha2::{Digest, Sha256};

use crate::beacon::{parse_public_key, parse_signature, round_point};
use crate::{BeaconInfo, DrandError};

/// The cipher-suite tag `tle` writes for AES-GCM.
pub const CIPHER_SUITE: &[u8] = b"AES_GCM_";
/// Ciphertext bytes over the plaintext: 96 (U) + 40 (V) + 40 (W) + 8 (body length) + 8 + 16
/// (AES length, tag) + 20 (nonce) + 16 (suite).
pub const OVERHEAD: usize = 244;

const G2_LEN: usize = 96;
const NONCE_LEN: usize = 12;

/// Length of the ciphertext of an `n`-byte plaintext.
pub fn ciphertext_len(plaintext_len: usize) -> usize {
    plaintext_len.saturating_add(OVERHEAD)
}

fn sha256(parts: &[&[u8]]) -> [u8; 32] {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

fn xor32(a: &[u8; 32], b: &[u8; 32]) -> [u8; 32] {
    std::array::from_fn(|i| a[i] ^ b[i])
}

/// `sha256` of the ark-compressed GT element (576 bytes: the Fq12 coefficients, little-endian).
fn gt_hash(gt: &<Bls12_381 as Pairing>::TargetField) -> [u8; 32] {
    let mut bytes = Vec::with_capacity(576);
    // Writing a field element to a Vec cannot fail.
    let _ = gt.serialize_compressed(&mut bytes);
    sha256(&[&bytes])
}

/// `r = Fr(sha256(σ ‖ k))`, the IBE randomness bound to the key (FO transform).
fn ibe_scalar(sigma: &[u8; 32], key: &[u8; 32]) -> Fr {
    Fr::from_be_bytes_mod_order(&sha256(&[sigma, key]))
}

/// Timelock-encrypts `plaintext` to `round` of `beacon`, in the exact byte format subtensor's
/// `tle` decrypts (layout below).
///
/// `entropy` seeds every random choice (AES key, IBE scalar, nonce) through ChaCha20: the caller
/// takes it from the OS RNG for every commit, tests fix it. Reusing entropy for two plaintexts
/// reuses the AES key and nonce, which leaks both before the round: never do that outside tests.
///
/// Fails only if the beacon's public key is malformed (or the plaintext exceeds AES-GCM's 64 GiB).
///
/// # Wire format
/// ark `serialize_compressed` of `TLECiphertext { header: { u, v, w }, body, cipher_suite }`,
/// each `Vec<u8>` as a u64 little-endian length then the bytes; `body` is itself the compressed
/// `AESOutput { ciphertext, nonce }`:
///
/// | bytes | field |
/// |---|---|
/// | 96 | `U`, compressed G2 (zcash flags) |
/// | 8 + 32 | `V` |
/// | 8 + 32 | `W` |
/// | 8 | length of the body, `n + 44` |
/// | 8 + n + 16 | AES-GCM ciphertext with its tag |
/// | 8 + 12 | nonce |
/// | 8 + 8 | cipher suite, `AES_GCM_` |
///
/// 244 bytes over an `n`-byte plaintext ([`OVERHEAD`]); a commit is bounded by 5,000 bytes on the
/// chain, so about 1,177 (uid, weight) pairs fit.
pub fn encrypt(beacon: &BeaconInfo, round: u64, plaintext: &[u8], entropy: [u8; 32]) -> Result<Vec<u8>, DrandError> {
    let public_key = parse_public_key(&beacon.public_key)?;
    let identity = round_point(round)?;
    let mut rng = ChaCha20Rng::from_seed(entropy);
    let mut key = [0u8; 32];
    rng.fill_bytes(&mut key);
    // As tle: σ is the hash of a random scalar's compressed bytes.
    let t = Fr::rand(&mut rng);
    let mut t_bytes = Vec::with_capacity(32);
    let _ = t.serialize_compressed(&mut t_bytes);
    let sigma = sha256(&[&t_bytes]);
    let r = ibe_scalar(&sigma, &key);
    let u = (G2Projective::generator() * r).into_affine();
    let g_id = Bls12_381::pairing(identity, public_key * r).0;
    let v = xor32(&sigma, &gt_hash(&g_id));
    let w = xor32(&key, &sha256(&[&sigma]));
    let mut nonce = [0u8; NONCE_LEN];
    rng.fill_bytes(&mut nonce);
    let mut body = plaintext.to_vec();
    Aes256Gcm::new(&key.into())
        .encrypt_in_place(Nonce::from_slice(&nonce), b"", &mut body)
        .map_err(|_| DrandError::PlaintextTooLong)?;

    let mut out = Vec::with_capacity(ciphertext_len(plaintext.len()));
    let _ = u.serialize_compressed(&mut out);
    put_vec(&mut out, &v);
    put_vec(&mut out, &w);
    let body_len = 8 + body.len() + 8 + NONCE_LEN;
    out.extend_from_slice(&(body_len as u64).to_le_bytes());
    put_vec(&mut out, &body);
    put_vec(&mut out, &nonce);
    put_vec(&mut out, CIPHER_SUITE);
    Ok(out)
}

fn put_vec(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
    out.extend_from_slice(bytes);
}

/// A bounds-checked reader over untrusted bytes.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], DrandError> {
        if self.0.len() < n {
            return Err(DrandError::MalformedCiphertext(what));
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }

    /// An ark `Vec<u8>`: u64 LE length, then that many bytes (refused if more than remain, so a
    /// huge length never allocates).
    fn vec(&mut self, what: &'static str) -> Result<&'a [u8], DrandError> {
        let len = self.take(8, what)?;
        let mut le = [0u8; 8];
        le.copy_from_slice(len);
        let len = usize::try_from(u64::from_le_bytes(le)).map_err(|_| DrandError::MalformedCiphertext(what))?;
        self.take(len, what)
    }

    fn array32(&mut self, what: &'static str) -> Result<[u8; 32], DrandError> {
        self.vec(what)?.try_into().map_err(|_| DrandError::MalformedCiphertext(what))
    }
}

/// The container fields, parsed as the chain parses them.
struct Parsed<'a> {
    u: G2Affine,
    v: [u8; 32],
    w: [u8; 32],
    body: &'a [u8],
}

fn parse(ciphertext: &[u8]) -> Result<Parsed<'_>, DrandError> {
    let mut r = Reader(ciphertext);
    let u = r.take(G2_LEN, "truncated in U")?;
    let u = G2Affine::deserialize_compressed(u)
        .map_err(|_| DrandError::MalformedCiphertext("U is not a compressed G2 subgroup point"))?;
    let v = r.array32("V is not 32 bytes")?;
    let w = r.array32("W is not 32 bytes")?;
    let body = r.vec("truncated in the body")?;
    // The suite is read (the chain's deserializer needs it present) but, as on the chain, not checked.
    r.vec("truncated in the cipher suite")?;
    Ok(Parsed { u, v, w, body })
}

/// Decrypts a [`encrypt`] ciphertext (or any chain-valid commit) with the 48-byte compressed
/// signature of its round's pulse.
///
/// Errors: [`DrandError::MalformedCiphertext`] / [`DrandError::MalformedSignature`] for bytes
/// that do not parse, [`DrandError::WrongSignature`] for the signature of another round or
/// beacon, [`DrandError::BodyAuthentication`] for an altered body.
pub fn decrypt(ciphertext: &[u8], signature: &[u8]) -> Result<Vec<u8>, DrandError> {
    let ct = parse(ciphertext)?;
    let signature = parse_signature(signature)?;
    let sigma = xor32(&ct.v, &gt_hash(&Bls12_381::pairing(signature, ct.u).0));
    let key = xor32(&ct.w, &sha256(&[&sigma]));
    if (G2Projective::generator() * ibe_scalar(&sigma, &key)).into_affine() != ct.u {
        return Err(DrandError::WrongSignature);
    }
    let mut body = Reader(ct.body);
    let mut plaintext = body.vec("truncated AES ciphertext")?.to_vec();
    let nonce = body.vec("truncated AES nonce")?;
    if nonce.len() != NONCE_LEN {
        return Err(DrandError::MalformedCiphertext("AES nonce is not 12 bytes"));
    }
    Aes256Gcm::new(&key.into())
        .decrypt_in_place(Nonce::from_slice(nonce), b"", &mut plaintext)
        .map_err(|_| DrandError::BodyAuthentication)?;
    Ok(plaintext)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::LocalBeacon;

    #[test]
    fn layout_is_tle_compressed() {
        let beacon = LocalBeacon::from_seed([1; 32], 0, 3);
        let msg = b"hello";
        let ct = encrypt(&beacon.info(), 9, msg, [2; 32]).unwrap();
        assert_eq!(ct.len(), msg.len() + OVERHEAD);
        let le = |x: u64| x.to_le_bytes().to_vec();
        assert_eq!(ct[96..104], le(32));
        assert_eq!(ct[136..144], le(32));
        assert_eq!(ct[176..184], le(msg.len() as u64 + 44));
        assert_eq!(ct[184..192], le(msg.len() as u64 + 16));
        let nonce_at = 192 + msg.len() + 16;
        assert_eq!(ct[nonce_at..nonce_at + 8], le(12));
        assert_eq!(ct[ct.len() - 16..ct.len() - 8], le(8));
        assert_eq!(&ct[ct.len() - 8..], CIPHER_SUITE);
        assert_eq!(ct[0] & 0x80, 0x80, "U carries the compression flag");
    }

    #[test]
    fn trailing_bytes_and_suite_content_are_ignored_as_on_chain() {
        let beacon = LocalBeacon::from_seed([1; 32], 0, 3);
        let mut ct = encrypt(&beacon.info(), 9, b"x", [2; 32]).unwrap();
        let sig = beacon.pulse(9).signature;
        let n = ct.len();
        ct[n - 1] ^= 0xff;
        ct.extend_from_slice(b"trailing");
        assert_eq!(decrypt(&ct, &sig).unwrap(), b"x");
    }

    #[test]
    fn odd_v_and_w_lengths_are_errors_not_panics() {
        let beacon = LocalBeacon::from_seed([1; 32], 0, 3);
        let sig = beacon.pulse(9).signature;
        let ct = encrypt(&beacon.info(), 9, b"x", [2; 32]).unwrap();
        for v_len in [0usize, 31, 33] {
            let mut bad = ct[..96].to_vec();
            put_vec(&mut bad, &vec![0; v_len]);
            bad.extend_from_slice(&ct[136..]);
            assert_eq!(decrypt(&bad, &sig), Err(DrandError::MalformedCiphertext("V is not 32 bytes")));
        }
    }
}
