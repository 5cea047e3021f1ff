//! Hot reload under load, with a real `subnetd run` process: two subnets; subnet 1's module file
//! is replaced 20 times while its validator loop runs back-to-back rounds, alternating good
//! versions (the Rust and C hello validators, and variants of them) with bad ones (truncated,
//! not wasm, unsigned, signed for other bytes, signed by a stranger, trapping in the smoke
//! round). Every replacement must be applied or refused with a reason; no round or call of
//! subnet 1 may fail; subnet 2 must keep its version and its rounds. Real guests, real files,
//! the real file watcher, the real admin API.

use crate::common;

use std::time::{Duration, Instant};

use super::support::*;
use subnet_host::caps::kv::KvStore;
use subnet_host::daemon::StateDb;
use subnet_host::daemon::signing::{Binding, sign_module, signature_path};

#[derive(Clone, Copy, Debug, PartialEq)]
enum Expect {
    Applied,
    Refused(&'static str),
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_replacements_under_load_apply_or_refuse_and_drop_nothing() {
    let hello = common::read(&common::bundle("examples/hello-subnet").validator);
    let hello_miner = common::bundle("examples/hello-subnet").miners[0].2.clone();
    let hello_c = common::read(&common::bundle("examples/hello-subnet-c").validator);
    let faulty = common::read(&common::bundle("examples/faulty-subnet").validator);
    let owner = owner_key(1);
    let stranger = owner_key(2);

    let fx = Fixture::new();
    let a_dir = fx.path("modules/a");
    let b_dir = fx.path("modules/b");
    std::fs::create_dir_all(&a_dir).unwrap();
    std::fs::create_dir_all(&b_dir).unwrap();
    let a_file = a_dir.join("validator.wasm");
    // Each step is signed later than the one before, as an owner's successive releases are.
    let sign = |bytes: &[u8], key: &subnet_keys::Keypair, label: &str, step: u64| {
        sign_module(key, bytes, Some(label), Binding { netuid: 1, signed_at: 1_800_000_000 + step }).unwrap()
    };
    sign(&hello, &owner, "start", 0).write(&signature_path(&a_file)).unwrap();
    std::fs::write(&a_file, &hello).unwrap();
    std::fs::write(b_dir.join("validator.wasm"), &hello).unwrap();

    // The faulty validator traps in `score` when the store says so; the smoke round runs on a
    // copy of subnet 1's store, so a faulty version is refused while hello (which ignores the
    // store) keeps serving.
    {
        let db = StateDb::open(&fx.state_dir()).unwrap();
        db.kv(1, 64 << 20).set("faulty/mode", b"trap").unwrap();
    }

    let config = fx.write_config(
        "50ms",
        &format!(
            r#"
[[subnet]]
netuid = 1
name = "busy"
module = "modules/a"
require_signers = ["{owner}"]
[subnet.limits]
call_timeout = "10s"
[subnet.tasks]
interval = "20ms"
[subnet.weights]
every_blocks = 10
[subnet.reload]
debounce = "300ms"
[subnet.local]
tempo = 20
weights_rate_limit = 5
[subnet.local.miners]
module = "{miner}"
honest = 3

[[subnet]]
netuid = 2
name = "steady"
module = "modules/b/validator.wasm"
[subnet.tasks]
interval = "150ms"
[subnet.weights]
every_blocks = 10
[subnet.local]
tempo = 20
weights_rate_limit = 5
[subnet.local.miners]
module = "{miner}"
honest = 2
"#,
            owner = owner.ss58_address(),
            miner = hello_miner.display(),
        ),
    );
    let mut daemon = DaemonProcess::start(&config, &fx.state_dir(), &fx.path("daemon.log")).await;
    let a0 = daemon
        .wait_for(1, "subnet 1 serving and rounds running", Duration::from_secs(60), |s| {
            s["module"]["hash"].as_str() == Some(hash(&hello).as_str()) && s["rounds_ok"].as_u64() >= Some(3)
        })
        .await;
    assert_eq!(a0["module"]["version"], "start", "the signed version label is reported");
    let b0 = daemon
        .wait_for(2, "subnet 2 rounds running", Duration::from_secs(60), |s| s["rounds_ok"].as_u64() >= Some(2))
        .await;
    let b_rounds_start = b0["rounds_ok"].as_u64().unwrap();
    let started = Instant::now();

    let truncated = hello[..hello.len() / 2].to_vec();
    let garbage = b"this is not a WebAssembly component".to_vec();
    // (bytes, how it is signed, expected outcome)
    enum Sig {
        Owner,
        None,
        Stranger,
        ForOther(Vec<u8>),
    }
    let steps: Vec<(Vec<u8>, Sig, Expect)> = vec![
        (hello_c.clone(), Sig::Owner, Expect::Applied),
        (truncated.clone(), Sig::Owner, Expect::Refused("validation")),
        (variant(&hello, 1), Sig::Owner, Expect::Applied),
        (variant(&hello, 2), Sig::None, Expect::Refused("unsigned")),
        (faulty.clone(), Sig::Owner, Expect::Refused("trapped")),
        (hello.clone(), Sig::Owner, Expect::Applied),
        (variant(&hello, 3), Sig::ForOther(variant(&hello, 4)), Expect::Refused("another module")),
        (variant(&hello_c, 5), Sig::Owner, Expect::Applied),
        (garbage.clone(), Sig::Owner, Expect::Refused("not a WebAssembly file")),
        (variant(&hello, 6), Sig::Stranger, Expect::Refused("not one of the required signers")),
        (variant(&hello, 7), Sig::Owner, Expect::Applied),
        (variant(&faulty, 8), Sig::Owner, Expect::Refused("trapped")),
        (hello_c.clone(), Sig::Owner, Expect::Applied),
        (variant(&truncated, 9), Sig::Owner, Expect::Refused("validation")),
        (variant(&hello, 10), Sig::Owner, Expect::Applied),
        (variant(&hello_c, 11), Sig::None, Expect::Refused("unsigned")),
        (variant(&hello_c, 12), Sig::Owner, Expect::Applied),
        (variant(&hello, 13), Sig::ForOther(hello.clone()), Expect::Refused("another module")),
        (variant(&hello, 14), Sig::Owner, Expect::Applied),
        (hello.clone(), Sig::Owner, Expect::Applied),
    ];
    assert_eq!(steps.len(), 20);

    let mut serving = hash(&hello);
    let mut served_hashes = std::collections::BTreeSet::new();
    for (i, (bytes, sig, expect)) in steps.iter().enumerate() {
        let before = daemon.subnet(1).await;
        let after_seq = last_seq(&before);
        let sig_path = signature_path(&a_file);
        match sig {
            Sig::Owner => sign(bytes, &owner, &format!("v{i}"), i as u64 + 1).write(&sig_path).unwrap(),
            Sig::Stranger => sign(bytes, &stranger, &format!("v{i}"), i as u64 + 1).write(&sig_path).unwrap(),
            Sig::ForOther(other) => sign(other, &owner, &format!("v{i}"), i as u64 + 1).write(&sig_path).unwrap(),
            Sig::None => {
                let _ = std::fs::remove_file(&sig_path);
            }
        }
        replace_atomically(&a_file, bytes);
        let h = hash(bytes);
        let status = daemon
            .wait_for(1, &format!("step {i}: a final record for {}", &h[..12]), Duration::from_secs(90), |s| {
                reloads_after(s, after_seq).iter().any(|r| {
                    r["hash"].as_str() == Some(h.as_str())
                        && match expect {
                            Expect::Applied => r["outcome"] == "applied",
                            Expect::Refused(_) => r["outcome"] == "refused",
                        }
                })
            })
            .await;
        let records = reloads_after(&status, after_seq);
        for r in &records {
            let outcome = r["outcome"].as_str().unwrap();
            assert!(["applied", "refused", "unchanged"].contains(&outcome), "step {i}: {r}");
            if outcome == "refused" {
                assert!(!r["reason"].as_str().unwrap_or("").is_empty(), "step {i}: a refusal has a reason: {r}");
            }
        }
        match expect {
            Expect::Applied => {
                serving = h.clone();
                let applied = records.iter().find(|r| r["outcome"] == "applied" && r["hash"] == h).unwrap();
                assert_eq!(applied["version"], format!("v{i}"), "step {i}: {applied}");
                assert_eq!(status["module"]["hash"].as_str(), Some(h.as_str()), "step {i}");
            }
            Expect::Refused(why) => {
                let refused = records.iter().find(|r| r["outcome"] == "refused" && r["hash"] == h).unwrap();
                let reason = refused["reason"].as_str().unwrap();
                assert!(reason.contains(why), "step {i}: expected a reason with `{why}`, got: {reason}");
                assert!(
                    !records.iter().any(|r| r["outcome"] == "applied" && r["hash"] == h),
                    "step {i}: a bad version was applied: {records:?}"
                );
                assert_eq!(
                    status["module"]["hash"].as_str(),
                    Some(serving.as_str()),
                    "step {i}: the old version serves on"
                );
            }
        }
        // Rounds keep running on whatever serves now; record which versions ran rounds.
        let s = daemon
            .wait_for(1, "a round on the serving version", Duration::from_secs(30), |s| {
                s["last_round"]["module"].as_str() == Some(serving.as_str())
            })
            .await;
        served_hashes.insert(s["last_round"]["module"].as_str().unwrap().to_owned());
    }
    let elapsed = started.elapsed();

    let a = daemon.subnet(1).await;
    let b = daemon.subnet(2).await;
    // Subnet 1: busy the whole time, nothing failed or dropped.
    assert_eq!(a["rounds_failed"], 0, "{a:#}");
    assert_eq!(a["call_errors"], 0, "{a:#}");
    assert_eq!(a["tasks_unscored"], 0, "{a:#}");
    assert!(a["rounds_ok"].as_u64().unwrap() > a0["rounds_ok"].as_u64().unwrap() + 20, "{a:#}");
    assert!(served_hashes.len() >= 8, "rounds ran on each applied version: {served_hashes:?}");
    let generation = a["module"]["generation"].as_u64().unwrap();
    assert_eq!(generation, 11, "the start version plus 10 applied reloads");
    // Subnet 2: never reloaded, never failed, rounds at cadence throughout.
    assert_eq!(b["module"]["generation"], 1);
    assert_eq!(b["reloads"].as_array().unwrap().len(), 1, "{b:#}");
    assert_eq!(b["rounds_failed"], 0);
    assert_eq!(b["call_errors"], 0);
    let b_rounds = b["rounds_ok"].as_u64().unwrap() - b_rounds_start;
    let cadence_rounds = elapsed.as_secs_f64() / 0.150;
    assert!(
        b_rounds as f64 >= cadence_rounds / 3.0,
        "subnet 2 ran {b_rounds} rounds in {elapsed:?} (cadence allows {cadence_rounds:.0})"
    );

    // The metrics tell the same story.
    let applied = daemon.metric("subnetd_reloads_total", &[("subnet", "1"), ("outcome", "applied")]).await;
    let refused = daemon.metric("subnetd_reloads_total", &[("subnet", "1"), ("outcome", "refused")]).await;
    assert_eq!(applied, 11.0);
    assert!(refused >= 9.0, "refused {refused}");
    assert_eq!(daemon.metric("subnetd_module_call_errors_total", &[("subnet", "1")]).await, 0.0);
    assert_eq!(daemon.metric("subnetd_rounds_total", &[("subnet", "1"), ("outcome", "failed")]).await, 0.0);
    assert!(daemon.metric("subnetd_module_calls_total", &[("subnet", "1"), ("call", "score")]).await > 100.0);
    assert_eq!(daemon.metric("subnetd_reloads_total", &[("subnet", "2")]).await, 1.0);
    let info = daemon.metric("subnetd_module_info", &[("subnet", "1"), ("hash", serving.as_str())]).await;
    assert_eq!(info, 1.0, "module_info names the serving version");
    assert_eq!(daemon.metric("subnetd_module_info", &[("subnet", "1")]).await, 1.0, "and only it");

    // The admin reload finds nothing new; the log has every reload with its hash and reason.
    let records = daemon.client.reload(Some(1)).await.unwrap();
    assert_eq!(records[0]["outcome"], "unchanged");
    let log = daemon.log_text();
    assert!(log.matches("module version applied").count() >= 12, "{log}");
    assert!(log.contains("module version refused") && log.contains("reason="), "{log}");

    // SIGTERM: rounds in flight finish, the process exits cleanly.
    assert_eq!(daemon.terminate(Duration::from_secs(60)), Some(0));
    assert!(daemon.log_text().contains("daemon stopped"));
}
