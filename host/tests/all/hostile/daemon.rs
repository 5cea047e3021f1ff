//! Hostile input to the daemon's admin API and module files (issue 14, item 13), against a
//! real `subnetd run` on loopback serving hello-subnet.

use crate::common;
use crate::daemon::support::{DaemonProcess, Fixture};

use std::time::{Duration, Instant};

use subnet_host::daemon::admin::ADMIN_TOKEN_FILE;
use subnet_host::daemon::client::AdminClient;

/// One request with exactly `host` as its Host header (none when empty); the status.
async fn status_with_host(addr: std::net::SocketAddr, method: &str, host: &str) -> u16 {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let host = if host.is_empty() { String::new() } else { format!("Host: {host}\r\n") };
    let head = format!("{method} /status HTTP/1.1\r\n{host}Content-Length: 0\r\nConnection: close\r\n\r\n");
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    tokio::time::timeout(Duration::from_secs(20), stream.read_to_end(&mut raw)).await.expect("answer").unwrap();
    let text = String::from_utf8_lossy(&raw);
    text.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or_else(|| panic!("not HTTP: {text}"))
}

fn config(fx: &Fixture) -> std::path::PathBuf {
    let hello = common::bundle("examples/hello-subnet");
    std::fs::write(fx.path("modules/validator.wasm"), common::read(&hello.validator)).unwrap();
    fx.write_config(
        "50ms",
        &format!(
            r#"
[[subnet]]
netuid = 1
name = "hello"
module = "modules/validator.wasm"
[subnet.tasks]
interval = "50ms"
[subnet.reload]
watch = false
[subnet.local]
tempo = 20
[subnet.local.miners]
module = "{miner}"
honest = 2
"#,
            miner = hello.miners[0].2.display()
        ),
    )
}

/// Item 13: mutating calls need the state directory's token (401 without, 200 with), a Host
/// that is not an IP literal or localhost gets 421 (DNS rebinding), a module file that is a
/// link to `/dev/zero` is refused at once (it would be read forever), and honest calls keep
/// succeeding throughout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_api_needs_its_token_and_a_local_host() {
    let fx = Fixture::new();
    let config = config(&fx);
    let daemon = DaemonProcess::start(&config, &fx.state_dir(), &fx.path("daemon.log")).await;
    let addr = daemon.client.addr();

    let token_path = fx.state_dir().join(ADMIN_TOKEN_FILE);
    let mode = std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&token_path).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o600, "the token file is the daemon user's only");

    // No token: refused, documented 401; a wrong token too.
    let anonymous = AdminClient::new(addr);
    let err = anonymous.reload(None).await.expect_err("reload without a token");
    assert!(err.to_string().contains("401"), "{err}");
    let err = AdminClient::new(addr).with_token("00".repeat(32)).reload(Some(1)).await.expect_err("wrong token");
    assert!(err.to_string().contains("401"), "{err}");
    // Reads need no token.
    assert!(anonymous.status().await.is_ok());

    // DNS rebinding: the browser sends the attacker's name as Host.
    assert_eq!(status_with_host(addr, "GET", "evil.example:80").await, 421);
    assert_eq!(status_with_host(addr, "POST", "evil.example").await, 421);
    assert_eq!(status_with_host(addr, "GET", &format!("localhost:{}", addr.port())).await, 200);

    // The token from the state directory works.
    let records = daemon.client.reload(Some(1)).await.expect("reload with the token");
    assert_eq!(records[0]["outcome"], "unchanged");

    // A module that is a link to /dev/zero: refused without reading it.
    let module = fx.path("modules/validator.wasm");
    std::fs::remove_file(&module).unwrap();
    std::os::unix::fs::symlink("/dev/zero", &module).unwrap();
    let started = Instant::now();
    let records = daemon.client.reload(Some(1)).await.expect("reload answers");
    assert!(started.elapsed() < Duration::from_secs(10), "took {:?}", started.elapsed());
    assert_eq!(records[0]["outcome"], "refused", "{records:?}");
    let reason = records[0]["reason"].as_str().unwrap_or_default();
    assert!(reason.contains("not a regular file"), "{reason}");

    // The serving version kept running rounds.
    let before = daemon.subnet(1).await["rounds_ok"].as_u64().unwrap_or(0);
    daemon
        .wait_for(1, "rounds after the refused reload", Duration::from_secs(30), |s| {
            s["rounds_ok"].as_u64().unwrap_or(0) > before
        })
        .await;
}
