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

/// Item 13: 200 connections that send half a request's headers and then stall (slowloris)
/// neither stop the operator's calls for long nor stay open: the API holds at most
/// `MAX_CONNECTIONS` open (the rest wait in the backlog) and closes each slow one after
/// `HEADER_READ_TIMEOUT`, so a status call made while they are all open is answered once the
/// first ones are cut, and every slow connection is closed by the daemon.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_header_connections_are_cut_and_the_api_keeps_answering() {
    use subnet_host::daemon::admin::{HEADER_READ_TIMEOUT, MAX_CONNECTIONS};
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    let fx = Fixture::new();
    let config = config(&fx);
    let daemon = DaemonProcess::start(&config, &fx.state_dir(), &fx.path("daemon.log")).await;
    let addr = daemon.client.addr();

    let mut slow = Vec::new();
    for _ in 0..(MAX_CONNECTIONS * 3) {
        let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
        stream.write_all(b"GET /status HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ").await.unwrap();
        slow.push(stream);
    }
    let started = Instant::now();
    let status = tokio::time::timeout(HEADER_READ_TIMEOUT * 4, daemon.client.status())
        .await
        .expect("the status call is answered while the slow connections are open");
    assert!(status.is_ok(), "{status:?}");
    eprintln!("status answered after {:?} under {} slow connections", started.elapsed(), slow.len());

    // Every slow connection is closed by the daemon (EOF, or a 408 then EOF), none held.
    let deadline = HEADER_READ_TIMEOUT * 4;
    for (i, stream) in slow.iter_mut().enumerate() {
        let mut raw = Vec::new();
        let read = tokio::time::timeout(deadline, stream.read_to_end(&mut raw)).await;
        assert!(read.is_ok(), "slow connection {i} still open after {deadline:?}");
        let text = String::from_utf8_lossy(&raw);
        assert!(text.is_empty() || text.starts_with("HTTP/1.1 408"), "connection {i}: {text}");
    }
    assert!(daemon.client.status().await.is_ok(), "the API answers after the attack");
}
