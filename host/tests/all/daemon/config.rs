//! `subnetd run` with bad config files: each fails before starting anything, with one clear
//! line naming the file and the field, and no panic. `--check` accepts the documented example.

use crate::common;

use std::process::{Command, Output};

fn run_config(dir: &std::path::Path, text: &str) -> Output {
    let path = dir.join("subnetd.toml");
    std::fs::write(&path, text).unwrap();
    Command::new(env!("CARGO_BIN_EXE_subnetd"))
        .args(["run", "--check", "--config", path.to_str().unwrap()])
        .output()
        .expect("run subnetd")
}

const HEAD: &str = r#"
state_dir = "state"
[wallet]
name = "w"
hotkey = "h"
[chain]
backend = "local"
"#;

fn subnet(extra: &str) -> String {
    format!("{HEAD}\n[[subnet]]\nnetuid = 1\nmodule = \"m.wasm\"\n[[subnet]]\nnetuid = 2\nmodule = \"m.wasm\"\n{extra}")
}

fn error_line(dir: &std::path::Path, text: &str) -> String {
    let out = run_config(dir, text);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "one line: {stderr}");
    lines[0].to_owned()
}

#[test]
fn bad_configs_name_the_field() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("m.wasm"), b"placeholder").unwrap();
    let cases: &[(String, &str, &str)] = &[
        (subnet("[subnet.limits]\nmemory = \"12XB\"\n"), "subnet[1].limits.memory", "unknown unit `XB`"),
        (subnet("[subnet.limits]\nmemory = \"100KiB\"\n"), "subnet[1].limits.memory", "outside 1MiB..=4GiB"),
        (subnet("[subnet.limits]\ncall_timeout = 5\n"), "subnet[1].limits.call_timeout", ""),
        (subnet("[subnet.tasks]\ninterval = \"soon\"\n"), "subnet[1].tasks.interval", "invalid duration"),
        (subnet("[subnet.limits]\nmemroy = \"1MiB\"\n"), "subnet[1].limits", "unknown field `memroy`"),
        (
            subnet("[subnet.capabilities]\noutbound_hosts = [\"api.openai.com\"]\n"),
            "subnet[1].capabilities.outbound_hosts[0]",
            "expected scheme://host[:port]",
        ),
        (
            subnet("[subnet.capabilities]\noutbound = { timeout = \"soon\" }\n"),
            "subnet[1].capabilities.outbound.timeout",
            "invalid duration",
        ),
        (
            subnet("[subnet.capabilities]\ncompute = [\"m\", \"m\"]\n"),
            "subnet[1].capabilities.compute[1]",
            "listed twice",
        ),
        (
            subnet("[subnet.capabilities]\npreopen = { dir = \"d\", guest = \"data\" }\n"),
            "subnet[1].capabilities.preopen.guest",
            "absolute",
        ),
        (
            subnet("[subnet.local.miners]\nhonest = 2\n"),
            "subnet[1].local.miners.module",
            "honest miners need a miner module",
        ),
        (
            subnet("[subnet.local.miners]\nmodule = [\"a.wasm\", \"b.wasm\"]\nhonest = 2\n"),
            "subnet[1].local.miners.module",
            "for several miner modules use `modules = [{ module",
        ),
        (
            subnet("[subnet.local.miners]\nmodules = [{ module = \"m.wasm\", count = 0 }]\n"),
            "subnet[1].local.miners.modules[0].count",
            "at least 1",
        ),
        (
            subnet("[subnet.local.miners]\nmodules = [{ module = \"gone.wasm\", count = 2 }]\n"),
            "subnet[1].local.miners.modules[0].module",
            "no such file",
        ),
        (subnet("require_signers = [\"bogus\"]\n"), "subnet[1].require_signers[0]", "not an SS58 address"),
        (subnet("[subnet.weights]\nevery_blocks = 0\n"), "subnet[1].weights.every_blocks", "at least 1"),
        (subnet("").replace("netuid = 2", "netuid = 1"), "subnet[1].netuid", "configured twice"),
        (subnet("").replace("netuid = 2", "netuid = 0"), "subnet[1].netuid", "root network"),
        (subnet("").replace("netuid = 2", "netuid = 70000"), "subnet[1].netuid", ""),
        (
            subnet("").replace("netuid = 2\nmodule = \"m.wasm\"", "netuid = 2\nmodule = \"missing.wasm\""),
            "subnet[1].module",
            "no such file",
        ),
        (subnet("").replace("backend = \"local\"", "backend = \"node\"\nurl = \"ftp://x\""), "chain.url", "http"),
        (subnet("").replace("backend = \"local\"", "backend = \"moon\""), "chain", "unknown variant"),
        (
            subnet("[subnet.local]\ntempo = 1\n")
                .replace("backend = \"local\"", "backend = \"node\"\nurl = \"http://x\""),
            "subnet[1].local",
            "only the `local` chain backend",
        ),
        (HEAD.to_owned(), "subnet", "at least one subnet"),
        (format!("{HEAD}\n[admin]\nlisten = \"nowhere\"\n"), "admin.listen", ""),
        ("state_dir = [".to_owned(), "", "line 1"),
    ];
    for (text, field, detail) in cases {
        let line = error_line(dir.path(), text);
        assert!(line.starts_with("error: "), "{line}");
        assert!(line.contains("subnetd.toml: "), "names the file: {line}");
        if !field.is_empty() {
            assert!(
                line.contains(&format!("{field}: ")) || line.contains(&format!("{field}.")),
                "`{field}` in: {line}"
            );
        }
        assert!(line.contains(detail), "`{detail}` in: {line}");
    }
}

#[test]
fn the_documented_example_checks() {
    let example = common::root().join("examples/daemon/subnetd.toml");
    // The example points at the hello-subnet build; build it first.
    common::bundle("examples/hello-subnet");
    let out = Command::new(env!("CARGO_BIN_EXE_subnetd"))
        .args(["run", "--check", "--offline", "--config", example.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("ok (2 subnets)"));
}
