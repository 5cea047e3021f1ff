//! Signed modules end to end: `subnetd sign` and `subnetd verify` on real components and real
//! keyfiles, and a `subnetd run` process whose subnet requires a signer: an unsigned module is
//! refused at start (the subnet waits, idle), a module signed by a stranger is refused, the
//! owner's signature makes it load, and a tampered module (the old signature on new bytes), a
//! module signed for another subnet, a format-1 (unbound) signature and an older signed version
//! (a rollback, also after a restart) are refused while the signed one keeps serving; an
//! operator's `subnetd reload --allow-rollback` applies the older one.

use crate::common;

use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use super::support::*;
use subnet_host::daemon::signing::{Binding, ModuleSignature, SIGNATURE_FORMAT_V1, sign_module, signature_path};

fn subnetd(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_subnetd")).args(args).output().expect("run subnetd")
}

fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

fn fails_with(out: &Output, needle: &str) {
    let t = text(out);
    assert_eq!(out.status.code(), Some(1), "{t}");
    assert!(t.contains(needle), "expected `{needle}` in: {t}");
    assert!(!t.contains("panicked"), "{t}");
}

#[test]
fn sign_and_verify_commands() {
    let hello = common::read(&common::bundle("examples/hello-subnet").validator);
    let dir = tempfile::tempdir().unwrap();
    let module = dir.path().join("validator.wasm");
    std::fs::write(&module, &hello).unwrap();
    let m = module.to_str().unwrap();

    // A keyfile, and the same kind of key in a wallet (WALLET/HOTKEY form).
    let owner = owner_key(7);
    let keyfile = dir.path().join("owner.json");
    owner.save_to_file(&keyfile, false).unwrap();
    let wallets = dir.path().join("wallets");
    owner_key(8).save_to_wallet(&wallets, "owner", "signing", false).unwrap();
    validator_key().save_to_wallet(&wallets, "owner", "sr", false).unwrap();

    let out = subnetd(&["sign", "--key", keyfile.to_str().unwrap(), "--netuid", "3", "--module-version", "1.2.0", m]);
    assert!(out.status.success(), "{}", text(&out));
    let sig = ModuleSignature::read(&signature_path(&module)).unwrap();
    assert_eq!(sig.signer, owner.ss58_address());
    assert_eq!(sig.sha256, hash(&hello));
    assert_eq!(sig.version.as_deref(), Some("1.2.0"));

    assert_eq!(sig.netuid, Some(3));
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    assert!(sig.signed_at.is_some_and(|t| t.abs_diff(now) < 600), "signed now: {sig:?}");

    let out = subnetd(&["verify", m, "--signer", &owner.ss58_address()]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("version 1.2.0"), "{}", text(&out));
    assert!(text(&out).contains("for subnet 3"), "{}", text(&out));
    assert!(subnetd(&["verify", m, "--netuid", "3"]).status.success());
    fails_with(&subnetd(&["verify", m, "--netuid", "4"]), "the signature is for subnet 3, not subnet 4");
    // Signing needs the subnet: clap refuses without it.
    let out = subnetd(&["sign", "--key", keyfile.to_str().unwrap(), m]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("--netuid"), "{}", text(&out));
    let hex_key = format!("0x{}", hex::encode(owner.public_key()));
    assert!(subnetd(&["verify", m, "--signer", &hex_key]).status.success());
    assert!(subnetd(&["verify", m]).status.success(), "any signer when none is required");
    fails_with(&subnetd(&["verify", m, "--signer", &owner_key(9).ss58_address()]), "not one of the required signers");

    // Tampered: one byte of the module changed.
    let mut tampered = hello.clone();
    let last = tampered.len() - 1;
    tampered[last] ^= 0x01;
    std::fs::write(&module, &tampered).unwrap();
    fails_with(&subnetd(&["verify", m]), "the signature is for another module");
    std::fs::write(&module, &hello).unwrap();

    // Tampered: the version label edited in the signature file.
    let mut relabelled = sig.clone();
    relabelled.version = Some("9.9.9".into());
    relabelled.write(&signature_path(&module)).unwrap();
    fails_with(&subnetd(&["verify", m]), "does not verify");

    // WALLET/HOTKEY keys, a custom output path.
    let out_sig = dir.path().join("detached.sig");
    let out = subnetd(&[
        "sign",
        "--key",
        "owner/signing",
        "--wallets",
        wallets.to_str().unwrap(),
        "--out",
        out_sig.to_str().unwrap(),
        "--netuid",
        "3",
        m,
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let out = subnetd(&["verify", m, "--sig", out_sig.to_str().unwrap(), "--signer", &owner_key(8).ss58_address()]);
    assert!(out.status.success(), "{}", text(&out));

    // Clear refusals: an sr25519 key, a missing key, a missing signature, a bad --signer.
    fails_with(
        &subnetd(&["sign", "--key", "owner/sr", "--wallets", wallets.to_str().unwrap(), "--netuid", "3", m]),
        "module signatures are ed25519",
    );
    fails_with(&subnetd(&["sign", "--key", "/no/such/key", "--netuid", "3", m]), "no such keyfile");
    std::fs::remove_file(signature_path(&module)).unwrap();
    fails_with(&subnetd(&["verify", m]), "unsigned");
    fails_with(&subnetd(&["verify", m, "--signer", "not-a-key"]), "--signer");
    assert!(!Path::new(&signature_path(&module)).exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subnet_requiring_signers_refuses_unsigned_strangers_and_tampered_modules() {
    let bundle = common::bundle("examples/hello-subnet");
    let hello = common::read(&bundle.validator);
    let hello_c = common::read(&common::bundle("examples/hello-subnet-c").validator);
    let owner = owner_key(21);
    let fx = Fixture::new();
    let file = fx.path("modules/validator.wasm");
    std::fs::write(&file, &hello).unwrap();
    let config = fx.write_config(
        "50ms",
        &format!(
            r#"
[[subnet]]
netuid = 1
module = "modules/validator.wasm"
require_signers = ["0x{owner_hex}"]
[subnet.tasks]
interval = "100ms"
[subnet.reload]
debounce = "200ms"
[subnet.local]
tempo = 20
[subnet.local.miners]
module = "{miner}"
honest = 2
"#,
            owner_hex = hex::encode(owner.public_key()),
            miner = bundle.miners[0].2.display()
        ),
    );
    let daemon = DaemonProcess::start(&config, &fx.state_dir(), &fx.path("daemon.log")).await;

    // Unsigned at start: refused with the reason; the subnet runs no rounds.
    let s = daemon.subnet(1).await;
    assert!(s["module"].is_null(), "{s:#}");
    let start = &s["reloads"][0];
    assert_eq!(start["outcome"], "refused");
    assert!(start["reason"].as_str().unwrap().contains("unsigned"), "{start}");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let s = daemon.subnet(1).await;
    assert_eq!(s["rounds_ok"], 0);
    assert!(s["last_round"]["error"].as_str().unwrap_or("").contains("no module version"), "{s:#}");

    // Signed by someone else: refused.
    let seq = last_seq(&s);
    sign_module(&owner_key(22), &hello, None, Binding { netuid: 1, signed_at: 1 })
        .unwrap()
        .write(&signature_path(&file))
        .unwrap();
    let s = daemon
        .wait_for(1, "the stranger's signature refused", Duration::from_secs(60), |s| {
            reloads_after(s, seq).iter().any(|r| r["outcome"] == "refused")
        })
        .await;
    let r = reloads_after(&s, seq).into_iter().find(|r| r["outcome"] == "refused").unwrap();
    assert!(r["reason"].as_str().unwrap().contains("not one of the required signers"), "{r}");
    assert!(s["module"].is_null());

    // The owner signs with the CLI: the watcher picks the signature up and the module loads.
    let keyfile = fx.path("owner.json");
    owner.save_to_file(&keyfile, false).unwrap();
    let out = subnetd(&[
        "sign",
        "--key",
        keyfile.to_str().unwrap(),
        "--netuid",
        "1",
        "--module-version",
        "1.0",
        file.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let s = daemon
        .wait_for(1, "the signed module serving and running rounds", Duration::from_secs(60), |s| {
            s["module"]["hash"].as_str() == Some(hash(&hello).as_str()) && s["rounds_ok"].as_u64() >= Some(2)
        })
        .await;
    assert_eq!(s["module"]["signer"], owner.ss58_address());
    assert_eq!(s["module"]["version"], "1.0");

    // Tampered: other bytes under the owner's old signature. Refused; the signed one serves on.
    let seq = last_seq(&s);
    replace_atomically(&file, &hello_c);
    let s = daemon
        .wait_for(1, "the tampered module refused", Duration::from_secs(60), |s| {
            reloads_after(s, seq).iter().any(|r| r["outcome"] == "refused" && r["hash"] == hash(&hello_c))
        })
        .await;
    let r = reloads_after(&s, seq).into_iter().find(|r| r["outcome"] == "refused").unwrap();
    assert!(r["reason"].as_str().unwrap().contains("another module"), "{r}");
    assert_eq!(s["module"]["hash"].as_str(), Some(hash(&hello).as_str()));
    let rounds = s["rounds_ok"].as_u64().unwrap();
    daemon
        .wait_for(1, "rounds continuing on the signed version", Duration::from_secs(30), |s| {
            s["rounds_ok"].as_u64() > Some(rounds + 2)
        })
        .await;

    // `subnetd reload` against the running daemon: refused again, exit status 1.
    let token = std::fs::read_to_string(fx.state_dir().join(subnet_host::daemon::admin::ADMIN_TOKEN_FILE)).unwrap();
    let out =
        subnetd(&["reload", "--admin", &daemon.client.addr().to_string(), "--token", token.trim(), "--netuid", "1"]);
    fails_with(&out, "refused");
    // Signing the new bytes makes the same reload apply.
    let out = subnetd(&["sign", "--key", keyfile.to_str().unwrap(), "--netuid", "1", file.to_str().unwrap()]);
    assert!(out.status.success());
    let out = subnetd(&["reload", "--config", fx.path("subnetd.toml").to_str().unwrap(), "--netuid", "1"]);
    // The watcher may have applied it first; either way the C module serves now.
    assert!(out.status.success(), "{}", text(&out));
    let s = daemon.subnet(1).await;
    assert_eq!(s["module"]["hash"].as_str(), Some(hash(&hello_c).as_str()), "{s:#}");

    // The owner's first release again, under its old signature (signed a day ago): a rollback,
    // refused; hello-c serves on.
    let day_ago = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() - 86_400;
    let old = sign_module(&owner, &hello, Some("0.9"), Binding { netuid: 1, signed_at: day_ago }).unwrap();
    let offer = |bytes: &[u8], sig: &ModuleSignature| {
        sig.write(&signature_path(&file)).unwrap();
        replace_atomically(&file, bytes);
    };
    let reload = |extra: &[&str]| {
        let config = fx.path("subnetd.toml");
        let mut args = vec!["reload", "--config", config.to_str().unwrap(), "--netuid", "1", "--json"];
        args.extend_from_slice(extra);
        let out = subnetd(&args);
        let records: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap_or_default();
        (out, records)
    };
    let seq = last_seq(&s);
    offer(&hello, &old);
    let s = daemon
        .wait_for(1, "the rollback refused", Duration::from_secs(60), |s| {
            reloads_after(s, seq).iter().any(|r| r["outcome"] == "refused" && r["hash"] == hash(&hello))
        })
        .await;
    let r = reloads_after(&s, seq).into_iter().find(|r| r["outcome"] == "refused").unwrap();
    let reason = r["reason"].as_str().unwrap();
    assert!(reason.contains("rollback") && reason.contains("--allow-rollback"), "{reason}");
    assert_eq!(s["module"]["hash"].as_str(), Some(hash(&hello_c).as_str()));

    // Signed by the owner, but for subnet 2; and a format-1 signature bound to no subnet.
    let for_two = sign_module(&owner, &hello, None, Binding { netuid: 2, signed_at: day_ago + 2 * 86_400 }).unwrap();
    for_two.write(&signature_path(&file)).unwrap();
    let (_, records) = reload(&[]);
    let reason = records[0]["reason"].as_str().unwrap_or_default().to_owned();
    assert!(reason.contains("the signature is for subnet 2, not subnet 1"), "{records:?}");
    let v1 = ModuleSignature {
        format: SIGNATURE_FORMAT_V1.into(),
        netuid: None,
        signed_at: None,
        signature: format!(
            "0x{}",
            hex::encode(owner.sign(&subnet_host::daemon::signing::signed_message(
                &hash(&hello),
                hello.len() as u64,
                None,
                None
            )))
        ),
        ..for_two
    };
    v1.write(&signature_path(&file)).unwrap();
    let (_, records) = reload(&[]);
    let reason = records[0]["reason"].as_str().unwrap_or_default().to_owned();
    assert!(reason.contains("bound to no subnet") && reason.contains("--netuid 1"), "{records:?}");

    // The operator asks for the rollback: applied.
    old.write(&signature_path(&file)).unwrap();
    let (out, records) = reload(&["--allow-rollback"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(records[0]["outcome"], "applied", "{records:?}");
    assert_eq!(daemon.subnet(1).await["module"]["version"], "0.9");

    // The guard outlives the process: hello-c (signed after 0.9) applies; then a restart with
    // 0.9 in place refuses it at start, as the state database remembers hello-c.
    let newer = sign_module(&owner, &hello_c, Some("2.0"), Binding { netuid: 1, signed_at: day_ago + 3600 }).unwrap();
    offer(&hello_c, &newer);
    daemon.wait_for(1, "2.0 serving", Duration::from_secs(60), |s| s["module"]["version"] == "2.0").await;
    let mut daemon = daemon;
    daemon.terminate(Duration::from_secs(20));
    offer(&hello, &old);
    let daemon = DaemonProcess::start(&config, &fx.state_dir(), &fx.path("daemon2.log")).await;
    let s = daemon.subnet(1).await;
    assert!(s["module"].is_null(), "{s:#}");
    assert!(s["reloads"][0]["reason"].as_str().unwrap_or("").contains("rollback"), "{s:#}");
}
