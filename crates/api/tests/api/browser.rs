//! A real, headless Chromium driven through ChromeDriver over the W3C WebDriver protocol (JSON over
//! HTTP, spoken here with reqwest): for the console's tests. `scripts/test.sh` installs Debian's
//! `chromium` and `chromium-driver`.

use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// The key under which WebDriver names an element.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// A browser session; the driver process ends with it.
pub struct Browser {
    http: reqwest::Client,
    session: String,
    driver: Child,
    profile: PathBuf,
}

/// An element of the current page.
pub struct Element<'a> {
    browser: &'a Browser,
    id: String,
}

impl Browser {
    /// A headless Chromium, or `None` (the test is skipped) when ChromeDriver is not installed
    /// and `TENANTRY_REQUIRE_BROWSER` is not set.
    pub async fn start() -> Option<Browser> {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let driver = Command::new("chromedriver")
            .args([format!("--port={port}"), "--allowed-ips=127.0.0.1".into()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            // Its own process group, so that ending it ends the browsers it started too.
            .process_group(0)
            .spawn();
        let Ok(driver) = driver else {
            assert!(
                std::env::var_os("TENANTRY_REQUIRE_BROWSER").is_none(),
                "TENANTRY_REQUIRE_BROWSER is set but chromedriver is not installed"
            );
            eprintln!("skipped: no chromedriver (scripts/test.sh installs chromium-driver)");
            return None;
        };
        let http = reqwest::Client::new();
        let base = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(20);
        while http.get(format!("{base}/status")).send().await.is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not start");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let profile = std::env::temp_dir().join(testkit::unique_name("console-chromium"));
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--no-first-run", "--disable-background-networking", "--disable-sync",
                    "--disable-component-update", "--window-size=1280,900",
                    format!("--user-data-dir={}", profile.display()),
                ],
            },
            "goog:loggingPrefs": {"browser": "ALL"},
        }}});
        let created: Value = http
            .post(format!("{base}/session"))
            .json(&capabilities)
            .send()
            .await
            .expect("chromedriver answers")
            .json()
            .await
            .expect("a session");
        let session = created["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {created}"));
        Some(Browser {
            session: format!("{base}/session/{session}"),
            http,
            driver,
            profile,
        })
    }

    async fn command(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut request = self.http.request(method, format!("{}{path}", self.session));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let answer: Value = request
            .send()
            .await
            .expect("chromedriver answers")
            .json()
            .await
            .expect("a JSON answer");
        if let Some(error) = answer["value"]["error"].as_str() {
            panic!("WebDriver {path}: {error}: {}", answer["value"]["message"]);
        }
        answer["value"].clone()
    }

    async fn post(&self, path: &str, body: Value) -> Value {
        self.command(reqwest::Method::POST, path, Some(body)).await
    }

    pub async fn goto(&self, url: &str) {
        self.post("/url", json!({"url": url})).await;
    }

    /// The value of a JavaScript expression in the page.
    pub async fn eval(&self, expression: &str) -> Value {
        self.post(
            "/execute/sync",
            json!({"script": format!("return ({expression});"), "args": []}),
        )
        .await
    }

    /// Waits (up to 20 s) until the expression is truthy in the page.
    pub async fn wait_until(&self, expression: &str) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let value = self.eval(expression).await;
            if !matches!(value, Value::Null | Value::Bool(false))
                && value != json!(0)
                && value != json!("")
            {
                return;
            }
            if Instant::now() > deadline {
                let body = self.eval("document.body.innerText").await;
                panic!("timed out waiting for `{expression}`; the page shows:\n{body}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until the screen has loaded its data (the console sets `body[data-ready]`).
    pub async fn wait_ready(&self, screen: &str) {
        self.wait_until(&format!("document.body.dataset.ready === '{screen}'"))
            .await;
    }

    /// The first element matching the CSS selector, waiting up to 20 s for it to appear.
    pub async fn find(&self, selector: &str) -> Element<'_> {
        let quoted = serde_json::to_string(selector).unwrap_or_default();
        self.wait_until(&format!("document.querySelector({quoted})"))
            .await;
        let found = self
            .post(
                "/element",
                json!({"using": "css selector", "value": selector}),
            )
            .await;
        Element {
            browser: self,
            id: found[ELEMENT].as_str().unwrap_or_default().to_string(),
        }
    }

    /// Clicks the element matching the selector (once it appears).
    pub async fn click(&self, selector: &str) {
        self.find(selector).await.click().await;
    }

    /// Clears the field matching the selector and types `text` into it.
    pub async fn fill(&self, selector: &str, text: &str) {
        self.find(selector).await.fill(text).await;
    }

    /// Fills the named fields of the form matching `form`.
    pub async fn fill_form(&self, form: &str, fields: &[(&str, &str)]) {
        for (name, text) in fields {
            self.fill(&format!("{form} [name={name}]"), text).await;
        }
    }

    /// The rendered text of the element matching the selector.
    pub async fn text(&self, selector: &str) -> String {
        self.find(selector).await.text().await
    }

    pub async fn count(&self, selector: &str) -> u64 {
        let quoted = serde_json::to_string(selector).unwrap_or_default();
        self.eval(&format!("document.querySelectorAll({quoted}).length"))
            .await
            .as_u64()
            .unwrap_or(0)
    }

    pub async fn resize(&self, width: u32, height: u32) {
        self.post("/window/rect", json!({"width": width, "height": height}))
            .await;
    }

    /// A PNG of the viewport, saved as `target/console-screenshots/<name>.png`.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        use base64::Engine;
        let encoded = self
            .command(reqwest::Method::GET, "/screenshot", None)
            .await;
        let png = base64::engine::general_purpose::STANDARD
            .decode(encoded.as_str().unwrap_or_default())
            .expect("a base64 screenshot");
        let dir =
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/console-screenshots");
        std::fs::create_dir_all(&dir).expect("screenshot directory");
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, png).expect("screenshot written");
        path
    }

    /// The browser's console messages since the last call, as (level, message).
    pub async fn console_log(&self) -> Vec<(String, String)> {
        let entries = self.post("/se/log", json!({"type": "browser"})).await;
        entries
            .as_array()
            .into_iter()
            .flatten()
            .map(|e| {
                (
                    e["level"].as_str().unwrap_or_default().to_string(),
                    e["message"].as_str().unwrap_or_default().to_string(),
                )
            })
            .collect()
    }
}

impl Element<'_> {
    fn path(&self, action: &str) -> String {
        format!("/element/{}/{action}", self.id)
    }

    pub async fn click(&self) {
        self.browser.post(&self.path("click"), json!({})).await;
    }

    /// Clears the field and types `text` into it.
    pub async fn fill(&self, text: &str) {
        self.browser.post(&self.path("clear"), json!({})).await;
        self.browser
            .post(&self.path("value"), json!({"text": text}))
            .await;
    }

    pub async fn text(&self) -> String {
        let text = self
            .browser
            .command(reqwest::Method::GET, &self.path("text"), None)
            .await;
        text.as_str().unwrap_or_default().to_string()
    }

    pub async fn attribute(&self, name: &str) -> Option<String> {
        let value = self
            .browser
            .command(
                reqwest::Method::GET,
                &self.path(&format!("attribute/{name}")),
                None,
            )
            .await;
        value.as_str().map(str::to_string)
    }
}

impl Browser {
    /// Closes the browser (dropping the session also ends it, less gracefully).
    pub async fn quit(self) {
        let _ = self.http.delete(&self.session).send().await;
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // The driver's process group: the driver and the browser processes it started.
        let group = format!("-{}", self.driver.id());
        let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
        let _ = self.driver.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}
