//! Graceful shutdown: on the signal, the server stops accepting, finishes what is in flight, and
//! `run_until` returns.

use std::time::Duration;

use reqwest::StatusCode;
use tenantry_api::{Application, Config};

#[tokio::test]
async fn the_server_drains_and_stops_on_the_signal() {
    let config = Config::from_pairs([
        ("TENANTRY_MONGODB_URI", testkit::mongodb_uri()),
        ("TENANTRY_LISTEN", "127.0.0.1:0".to_string()),
    ])
    .unwrap();
    let app = Application::build(config).await.unwrap();
    let url = format!("http://{}/healthz", app.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until(async {
        let _ = stopped.await;
    }));
    assert_eq!(reqwest::get(&url).await.unwrap().status(), StatusCode::OK);
    stop.send(()).unwrap();
    let result = tokio::time::timeout(Duration::from_secs(10), server).await;
    assert!(
        matches!(result, Ok(Ok(Ok(())))),
        "server did not stop cleanly: {result:?}"
    );
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    assert!(
        client.get(&url).send().await.is_err(),
        "still accepting connections"
    );
}
