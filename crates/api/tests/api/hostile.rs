//! Hostile clients over real sockets: ambiguous requests (repeated headers, bad `Host`, bytes
//! that do not decode), connections that never finish a request head, idle keep-alive
//! connections, more connections than the cap, and a flood of silent and slowloris clients
//! against the real binary started with a low `RLIMIT_NOFILE`.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::process::{Fleet, Server};
use crate::support::{TestApp, metric, problem};

/// A response read off a raw socket.
#[derive(Debug)]
struct Raw {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Raw {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {self:?}"))
    }

    /// Asserts a 400 `malformed_request` problem carrying the request id, and returns its detail.
    fn malformed(&self) -> String {
        assert_eq!(self.status, 400, "{self:?}");
        assert_eq!(
            self.header("content-type"),
            Some("application/problem+json")
        );
        let problem = self.json();
        assert_eq!(problem["code"], "malformed_request", "{problem}");
        assert_eq!(problem["title"], "Malformed request");
        let id = self.header("x-request-id").expect("X-Request-Id");
        assert_eq!(problem["request_id"], id, "{problem}");
        problem["detail"].as_str().unwrap_or_default().to_string()
    }
}

fn parse(bytes: &[u8]) -> Raw {
    let text = String::from_utf8_lossy(bytes);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("no complete response: {text:?}"));
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line: {text:?}"));
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
        .collect();
    Raw {
        status,
        headers,
        body: body.to_string(),
    }
}

/// Sends `head` (request line and headers, without the final blank line; `Connection: close`
/// is added) and reads the whole answer.
async fn raw(addr: SocketAddr, head: &str) -> Raw {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    let request = format!("{head}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut answer))
        .await
        .expect("answered in time")
        .expect("read");
    parse(&answer)
}

#[tokio::test]
async fn repeated_headers_are_refused_naming_the_header() {
    let app = TestApp::spawn().await;
    let (tenant, token) = app.tenant_with_token(&["member"]).await;
    let auth = format!("Authorization: Bearer {token}");
    let cases = [
        ("Host", "Host: localhost\r\nHost: other.example.com"),
        (
            "X-Tenant-ID",
            &format!("X-Tenant-ID: {tenant}\r\nX-Tenant-ID: someone-else"),
        ),
        ("Authorization", "Authorization: Bearer other"),
        (
            "Idempotency-Key",
            "Idempotency-Key: a\r\nIdempotency-Key: b",
        ),
        ("If-Match", "If-Match: \"1\"\r\nIf-Match: \"2\""),
        ("X-Min-Position", "X-Min-Position: 1\r\nX-Min-Position: 2"),
    ];
    for (name, headers) in cases {
        let host = if name == "Host" {
            ""
        } else {
            "Host: localhost\r\n"
        };
        let answer = raw(
            app.addr,
            &format!(
                "GET /v1/tenant HTTP/1.1\r\n{host}{auth}\r\nX-Request-Id: dup-{name}\r\n{headers}"
            ),
        )
        .await;
        let detail = answer.malformed();
        assert_eq!(detail, format!("more than one {name} header"));
        assert_eq!(
            answer.header("x-request-id"),
            Some(format!("dup-{name}").as_str())
        );
    }
    // The same headers once each: served.
    let once = raw(
        app.addr,
        &format!("GET /v1/tenant HTTP/1.1\r\nHost: localhost\r\n{auth}\r\nX-Tenant-ID: {tenant}"),
    )
    .await;
    assert_eq!(once.status, 200, "{once:?}");
}

#[tokio::test]
async fn a_repeated_forwarded_host_is_refused_when_it_is_trusted() {
    let app = TestApp::spawn_with(|c| c.trust_forwarded_host = true).await;
    let answer = raw(
        app.addr,
        "GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Forwarded-Host: a.example.com\r\nX-Forwarded-Host: b.example.com",
    )
    .await;
    assert_eq!(answer.malformed(), "more than one X-Forwarded-Host header");
}

#[tokio::test]
async fn a_host_must_be_a_plain_authority() {
    let app = TestApp::spawn().await;
    for (host, detail) in [
        (
            "Host: user@acme.api.tenantry.test",
            "the Host header must not carry userinfo",
        ),
        (
            "Host: acme.api.tenantry.test/x",
            "the Host header is not a host[:port] authority",
        ),
        (
            "Host: a b",
            "the Host header is not a host[:port] authority",
        ),
    ] {
        let answer = raw(app.addr, &format!("GET /healthz HTTP/1.1\r\n{host}")).await;
        assert_eq!(answer.malformed(), detail, "{host}");
    }
    let without = raw(app.addr, "GET /healthz HTTP/1.1").await;
    assert_eq!(without.malformed(), "HTTP/1.1 requests need a Host header");
    let absolute = raw(
        app.addr,
        "GET http://other.example.com/healthz HTTP/1.1\r\nHost: localhost",
    )
    .await;
    assert_eq!(
        absolute.malformed(),
        "the Host header differs from the request target's authority"
    );
    let fine = raw(app.addr, "GET /healthz HTTP/1.1\r\nHost: localhost:8080").await;
    assert_eq!(fine.status, 200, "{fine:?}");
}

#[tokio::test]
async fn paths_and_queries_that_are_not_utf8_are_problems() {
    let app = TestApp::spawn().await;
    let (_, token) = app.tenant_with_token(&["viewer"]).await;
    for (path, detail) in [
        (
            "/v1/products/%FF%FE%FD",
            "the path is not valid UTF-8 once percent-decoded",
        ),
        (
            "/v1/products?q=%C3",
            "the query string is not valid UTF-8 once percent-decoded",
        ),
    ] {
        // Without a token too: framing is checked before authentication.
        for request in [
            app.request(Method::GET, path),
            app.v1(Method::GET, path, &token),
        ] {
            let body = problem(
                request.send().await.unwrap(),
                StatusCode::BAD_REQUEST,
                "malformed_request",
            )
            .await;
            assert_eq!(body["detail"], detail, "{body}");
        }
    }
    // Valid UTF-8 escapes are fine (the product does not exist).
    let call = app
        .call(Method::GET, "/v1/products/caf%C3%A9", &token, None, &[])
        .await;
    call.problem(StatusCode::NOT_FOUND, "not_found");
}

/// Reads until the server closes the connection; how long that took.
async fn time_to_close(stream: &mut TcpStream, within: Duration) -> Option<Duration> {
    let started = Instant::now();
    let mut sink = [0u8; 4096];
    let closed = async {
        loop {
            match stream.read(&mut sink).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    };
    tokio::time::timeout(within, closed)
        .await
        .ok()
        .map(|()| started.elapsed())
}

#[tokio::test]
async fn the_header_read_timeout_closes_silent_slow_and_idle_keep_alive_connections() {
    let app =
        TestApp::spawn_with(|c| c.connections.header_read_timeout = Duration::from_secs(1)).await;
    // Silent: never sends a byte.
    let mut silent = TcpStream::connect(app.addr).await.unwrap();
    // Slow: a request head one byte at a time, never finished in time.
    let mut slow = TcpStream::connect(app.addr).await.unwrap();
    let dripping = async {
        let started = Instant::now();
        for byte in b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Slow: abcdefghij" {
            if slow.write_all(&[*byte]).await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        time_to_close(&mut slow, Duration::from_secs(10))
            .await
            .map(|_| started.elapsed())
    };
    // Keep-alive: one request served, then idle on the open connection.
    let mut kept = TcpStream::connect(app.addr).await.unwrap();
    kept.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .unwrap();
    let mut first = [0u8; 1024];
    let n = kept.read(&mut first).await.unwrap();
    assert!(first[..n].starts_with(b"HTTP/1.1 200"), "{:?}", &first[..n]);
    let idle_started = Instant::now();
    let (silent_closed, slow_closed, kept_closed) = tokio::join!(
        time_to_close(&mut silent, Duration::from_secs(10)),
        dripping,
        time_to_close(&mut kept, Duration::from_secs(10)),
    );
    println!(
        "closed after: silent {silent_closed:?}, slow {slow_closed:?}, idle keep-alive {kept_closed:?}"
    );
    assert!(silent_closed.is_some(), "a silent connection stayed open");
    assert!(slow_closed.is_some(), "a slowloris connection stayed open");
    let kept_closed = kept_closed.expect("an idle keep-alive connection stayed open");
    // It is the timer that closed it, not the end of the response.
    assert!(
        idle_started.elapsed() >= Duration::from_millis(500),
        "{kept_closed:?}"
    );
    // A connection that keeps sending requests in time stays open and served.
    let mut busy = TcpStream::connect(app.addr).await.unwrap();
    for _ in 0..3 {
        tokio::time::sleep(Duration::from_millis(400)).await;
        busy.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
            .await
            .unwrap();
        let n = busy.read(&mut first).await.unwrap();
        assert!(first[..n].starts_with(b"HTTP/1.1 200"));
    }
}

/// Sends a request head whose body never comes, so the request stays in flight.
async fn stuck_request(app: &TestApp) -> TcpStream {
    let mut stream = TcpStream::connect(app.addr).await.unwrap();
    let head = format!(
        "POST /admin/tenants HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nContent-Length: 100\r\nConnection: close\r\n\r\n{{",
        app.admin_key
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream
}

#[tokio::test]
async fn at_the_cap_idle_connections_make_room_and_busy_ones_never_do() {
    let app = TestApp::spawn_with(|c| c.connections.max_connections = 3).await;
    let mut silent = Vec::new();
    for _ in 0..3 {
        silent.push(TcpStream::connect(app.addr).await.unwrap());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // A fourth client is served: the longest-idle silent connection was closed for it.
    let served = raw(app.addr, "GET /healthz HTTP/1.1\r\nHost: localhost").await;
    assert_eq!(served.status, 200, "{served:?}");
    assert!(
        time_to_close(&mut silent[0], Duration::from_secs(2))
            .await
            .is_some(),
        "the oldest idle connection was not evicted"
    );
    // Three requests in flight fill the cap: a new connection is refused with a problem.
    drop(silent);
    let mut stuck = Vec::new();
    for _ in 0..3 {
        stuck.push(stuck_request(&app).await);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let refused = raw(app.addr, "GET /healthz HTTP/1.1\r\nHost: localhost").await;
    assert_eq!(refused.status, 503, "{refused:?}");
    assert_eq!(refused.header("retry-after"), Some("1"));
    assert_eq!(refused.header("connection"), Some("close"));
    let problem = refused.json();
    assert_eq!(problem["code"], "unavailable", "{problem}");
    assert_eq!(
        problem["request_id"].as_str(),
        refused.header("x-request-id")
    );
    // The requests in flight were not cut off: each still completes when its body arrives.
    for (i, stream) in stuck.iter_mut().enumerate() {
        let rest = format!(
            "{:<99}",
            format!("\"id\":\"{}\",\"name\":\"S{i}\"}}", app.new_tenant_id())
        );
        stream.write_all(rest.as_bytes()).await.unwrap();
        let mut answer = Vec::new();
        let _ =
            tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut answer)).await;
        let answer = String::from_utf8_lossy(&answer);
        assert!(answer.starts_with("HTTP/1.1 201"), "{answer}");
    }
    drop(stuck);
    let metrics = app.request(Method::GET, "/metrics").send().await.unwrap();
    let text = metrics.text().await.unwrap();
    for series in [
        "tenantry_connections_open ",
        "tenantry_connections_limit ",
        "tenantry_connections_evicted_total ",
        "tenantry_connections_refused_total ",
    ] {
        assert!(
            text.lines().any(|l| l.starts_with(series)),
            "{series} missing"
        );
    }
}

/// What became of an attacking connection.
#[derive(Debug)]
enum Attack {
    /// The server closed it this long after the client began.
    Closed(Duration),
    /// Still open when the test stopped waiting.
    Open,
    /// It never connected.
    NotConnected,
}

/// A client that opens a connection and never sends a byte, until the server closes it.
async fn silent_client(addr: SocketAddr, within: Duration) -> Attack {
    let started = Instant::now();
    let mut stream = match TcpStream::connect(addr).await {
        Ok(stream) => stream,
        Err(_) => return Attack::NotConnected,
    };
    match time_to_close(&mut stream, within).await {
        Some(_) => Attack::Closed(started.elapsed()),
        None => Attack::Open,
    }
}

/// A client that sends a request head one byte every 300 ms, until the server closes it.
async fn slowloris_client(addr: SocketAddr, within: Duration) -> Attack {
    let started = Instant::now();
    let mut stream = match TcpStream::connect(addr).await {
        Ok(stream) => stream,
        Err(_) => return Attack::NotConnected,
    };
    let head = b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Padding: ";
    let mut sink = [0u8; 256];
    let mut sent = 0usize;
    while started.elapsed() < within {
        tokio::select! {
            read = stream.read(&mut sink) => {
                if matches!(read, Ok(0) | Err(_)) {
                    return Attack::Closed(started.elapsed());
                }
            }
            () = tokio::time::sleep(Duration::from_millis(300)) => {
                let byte = head.get(sent).copied().unwrap_or(b'a');
                if stream.write_all(&[byte]).await.is_err() {
                    return Attack::Closed(started.elapsed());
                }
                sent += 1;
            }
        }
    }
    Attack::Open
}

async fn scrape(http: &reqwest::Client, server: &Server) -> String {
    let metrics = http.get(server.url("/metrics")).send().await;
    metrics
        .expect("/metrics")
        .text()
        .await
        .expect("metrics text")
}

/// The real binary with 512 descriptors (soft and hard) and a 2 s header-read timeout, under
/// 1,100 silent connections and 50 slowloris clients: a normal client is still served, the
/// attackers are closed, and the server serves on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_silent_and_slowloris_clients_cannot_starve_a_normal_client() {
    // This process needs more than 1,100 descriptors of its own.
    let raised = tenantry_api::server::rlimit::raise_soft_to_hard().unwrap();
    assert!(
        raised.after.soft >= 2_000,
        "test needs a higher RLIMIT_NOFILE: {raised:?}"
    );
    let fleet = Fleet::new(&[("TENANTRY_HEADER_READ_TIMEOUT_SECS", "2")]);
    let server = fleet.start_limited("flooded", &[], Some(512)).await;
    let (_, token) = server.tenant_and_token().await;
    let addr = server.addr();
    let within = Duration::from_secs(20);

    let attack_started = Instant::now();
    let mut attackers = tokio::task::JoinSet::new();
    for i in 0..1_150 {
        if i % 23 == 0 {
            attackers.spawn(slowloris_client(addr, within));
        } else {
            attackers.spawn(silent_client(addr, within));
        }
        // In waves of 100: a burst beyond the kernel's accept queue would be answered with SYN
        // cookies, and a silent client whose handshake was then lost looks connected to itself
        // while the server never saw it.
        if i % 100 == 99 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    // Let the connections land (they pile up faster than the server can be starved).
    tokio::time::sleep(Duration::from_millis(500)).await;

    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let open = metric(&scrape(&http, &server).await, "tenantry_connections_open");
    println!("{open} connections open when the normal client arrives");
    assert!(
        open >= 200.0,
        "the attack should hold the server at its cap of 256"
    );
    let started = Instant::now();
    let health = http.get(server.url("/healthz")).send().await;
    let health_latency = started.elapsed();
    let started = Instant::now();
    let api = http
        .get(server.url("/v1/tenant"))
        .bearer_auth(&token)
        .send()
        .await;
    let api_latency = started.elapsed();
    println!("under attack: /healthz in {health_latency:?}, /v1/tenant in {api_latency:?}");
    assert_eq!(health.expect("/healthz answered").status(), StatusCode::OK);
    assert_eq!(api.expect("/v1/tenant answered").status(), StatusCode::OK);
    assert!(health_latency < Duration::from_secs(2) && api_latency < Duration::from_secs(2));

    // Every attacker is closed: evicted to make room, or by the header-read timeout.
    let mut closed = 0;
    let mut slowest = Duration::ZERO;
    let mut others = Vec::new();
    while let Some(attack) = attackers.join_next().await {
        match attack.expect("attacker task") {
            Attack::Closed(after) => {
                closed += 1;
                slowest = slowest.max(after);
            }
            other => others.push(other),
        }
    }
    println!(
        "{closed} attackers closed, the last {slowest:?} after it began (attack began {:?} ago)",
        attack_started.elapsed()
    );
    assert!(others.is_empty(), "{} not closed: {others:?}", others.len());

    // The server serves on, and says what happened.
    let health = http.get(server.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), StatusCode::OK);
    let metrics = scrape(&http, &server).await;
    let limit = metric(&metrics, "tenantry_connections_limit");
    assert_eq!(limit, 256.0, "512 descriptors − 256 reserved");
    assert!(
        metric(&metrics, "tenantry_connections_evicted_total") > 0.0,
        "{metrics}"
    );
    let (status, logs) = server.stop();
    assert!(
        status.is_some_and(|s| s.success()),
        "graceful exit: {status:?}"
    );
    let limits = logs
        .iter()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|l| l["message"] == "connection limits")
        .unwrap_or_else(|| panic!("no connection-limits line in:\n{}", logs.join("\n")));
    assert_eq!(limits["max_connections"], 256, "{limits}");
    assert_eq!(limits["rlimit_nofile"], 512, "{limits}");
}

/// With `TENANTRY_METRICS_MAX_TENANTS=3` and five tenants sending requests, `/metrics` has
/// exactly three named `tenant` values and `other` (requests without a tenant: empty value).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tenant_label_has_exactly_the_bound_and_other() {
    let fleet = Fleet::new(&[("TENANTRY_METRICS_MAX_TENANTS", "3")]);
    let server = fleet.start("labelled").await;
    let http = reqwest::Client::new();
    for _ in 0..5 {
        let (_, token) = server.tenant_and_token().await;
        let answer = http
            .get(server.url("/v1/tenant"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), StatusCode::OK);
    }
    let metrics = scrape(&http, &server).await;
    let mut values: Vec<&str> = metrics
        .lines()
        .filter(|l| l.starts_with("tenantry_http_requests_total{"))
        .filter_map(|l| l.split("tenant=\"").nth(1)?.split('"').next())
        .collect();
    values.sort_unstable();
    values.dedup();
    assert!(
        values.contains(&""),
        "admin requests have no tenant: {values:?}"
    );
    values.retain(|v| !v.is_empty());
    assert_eq!(values.len(), 3 + 1, "{values:?}");
    assert!(values.contains(&"other"), "{values:?}");
    let _ = server.stop();
}
