//! What `btauth/1` costs a server and a client, per request: signing, verifying, and refusing
//! garbage before and after the signature check.
//! Prints figures (no assertions): `cargo bench -p subnet-keys --bench btauth`.

use std::hint::black_box;
use std::time::{Duration, Instant};

use subnet_keys::btauth::{self, HEADER_SIGNATURE, Verifier};
use subnet_keys::{CryptoType, Keypair};

const NONCE: u64 = 1_752_076_800_000_000_000;

fn report(name: &str, n: u64, elapsed: Duration) {
    let per = elapsed.as_nanos() as f64 / n as f64;
    println!("{name:<48} {per:>10.0} ns/op {:>12.0} ops/s", 1e9 / per);
}

fn time<F: FnMut(u64)>(name: &str, n: u64, mut f: F) {
    let start = Instant::now();
    for i in 0..n {
        f(i);
    }
    report(name, n, start.elapsed());
}

fn main() {
    let me = Keypair::generate(CryptoType::Sr25519).account_id();
    let body = vec![0x5au8; 1024];
    for crypto in [CryptoType::Sr25519, CryptoType::Ed25519] {
        let kp = Keypair::generate(crypto);
        let n = 2_000;
        time(&format!("sign {crypto} (1 KiB body)"), n, |i| {
            black_box(btauth::sign_request(&kp, "POST", "/query", &body, Some(&me), NONCE + i));
        });
        let signed: Vec<_> =
            (0..n).map(|i| btauth::sign_request(&kp, "POST", "/query", &body, Some(&me), NONCE + i)).collect();
        let v = Verifier::default();
        time(&format!("verify {crypto} accepted (1 KiB body)"), n, |i| {
            v.verify("POST", "/query", &signed[i as usize], &body, &me, NONCE + i).expect("valid request");
        });
        let v = Verifier::default();
        time(&format!("verify {crypto} refused: bad signature"), n, |i| {
            let r = v.verify("POST", "/query", &signed[i as usize], b"other body", &me, NONCE + i);
            assert!(r.is_err());
        });
    }

    let kp = Keypair::generate(CryptoType::Sr25519);
    let h = btauth::sign_request(&kp, "POST", "/query", &body, Some(&me), NONCE);
    let v = Verifier::default();
    let n = 200_000;
    time("refused before the signature: stale nonce", n, |_| {
        assert!(v.check_headers(&h, &me, NONCE + 60_000_000_000).is_err());
    });
    let garbage: Vec<(String, String)> = h
        .iter()
        .map(|(k, v)| if k == HEADER_SIGNATURE { (k.clone(), "0xnothex".into()) } else { (k.clone(), v.clone()) })
        .collect();
    time("refused before the signature: malformed", n, |_| {
        assert!(v.check_headers(&garbage, &me, NONCE).is_err());
    });
    let no_auth = [("content-type", "application/json"), ("content-length", "1024")];
    time("refused before the signature: no auth headers", n, |_| {
        assert!(v.check_headers(no_auth, &me, NONCE).is_err());
    });
}
