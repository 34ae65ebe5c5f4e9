//! The operators' console (`/console`): its responses, the admin endpoints it reads, and an
//! operator's day in a real headless Chromium.

use std::time::Duration;

use axum::http::{Method, StatusCode};
use serde_json::json;

use tenancy::clusters::ClusterConfig;

use crate::browser::Browser;
use crate::support::{TestApp, json_of};

const CSP: &str = "default-src 'none'; script-src 'self'";

#[tokio::test]
async fn console_files_are_static_and_locked_down() {
    let app = TestApp::spawn().await;
    for (path, status, content_type) in [
        ("/console", StatusCode::OK, "text/html"),
        ("/console/", StatusCode::OK, "text/html"),
        ("/console/app.js", StatusCode::OK, "text/javascript"),
        ("/console/console.css", StatusCode::OK, "text/css"),
        (
            "/console/secrets.txt",
            StatusCode::NOT_FOUND,
            "application/problem+json",
        ),
        (
            "/console/..%2Fdocs",
            StatusCode::NOT_FOUND,
            "application/problem+json",
        ),
    ] {
        let response = app.http.get(app.url(path)).send().await.unwrap();
        assert_eq!(response.status(), status, "{path}");
        let headers = response.headers();
        let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        assert!(
            header("content-type").is_some_and(|t| t.starts_with(content_type)),
            "{path}: {:?}",
            header("content-type")
        );
        assert!(
            header("content-security-policy").is_some_and(|p| p.starts_with(CSP)
                && p.contains("frame-ancestors 'none'")
                && !p.contains("unsafe")),
            "{path}: {:?}",
            header("content-security-policy")
        );
        assert_eq!(header("x-frame-options"), Some("DENY"), "{path}");
        assert_eq!(header("x-content-type-options"), Some("nosniff"), "{path}");
        let body = response.text().await.unwrap();
        assert!(!body.contains(&app.admin_key));
        if content_type == "text/html" {
            // No inline script: every script is a file of the console's own origin.
            assert!(body.contains("<script type=\"module\" src=\"/console/app.js\">"));
            assert!(
                !body.contains("<script>") && !body.contains(" on"),
                "{body}"
            );
        }
    }
    // The console's page is public; what it shows is not: /admin takes a bearer key only.
    let refused = app
        .http
        .get(app.url("/admin/tenants"))
        .header("cookie", format!("admin_key={}", app.admin_key))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn tenants_are_found_by_id_prefix_or_name_and_status() {
    let app = TestApp::spawn().await;
    let stem = app.new_tenant_id();
    let id = format!("{stem}-x");
    app.create_tenant_with(json!({"id": id, "name": "Zebra (Stripes) Inc."}))
        .await;
    let other = app.create_tenant().await;
    let list = |query: String| {
        let app = &app;
        async move {
            let call = app
                .admin_json(Method::GET, &format!("/admin/tenants?{query}"), None)
                .await;
            let body = call.expect(StatusCode::OK);
            body["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t["id"].as_str().unwrap().to_string())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(list(format!("q={stem}")).await, vec![id.clone()]);
    // A name, in any case; its regular-expression characters are literal.
    assert_eq!(list("q=zebra%20(STRIPES)".into()).await, vec![id.clone()]);
    assert!(list("q=zebra.*inc".into()).await.is_empty());
    assert!(!list(format!("q={stem}")).await.contains(&other));
    assert!(list(format!("q={stem}&status=suspended")).await.is_empty());
    // A cursor belongs to its search.
    let page = app.admin_get("/admin/tenants?limit=1").await;
    let cursor = page["next_cursor"].as_str().unwrap();
    app.admin_json(
        Method::GET,
        &format!("/admin/tenants?limit=1&q={stem}&cursor={cursor}"),
        None,
    )
    .await
    .problem(StatusCode::BAD_REQUEST, "validation_failed");
}

#[tokio::test]
async fn activity_counts_requests_errors_and_latency_per_interval() {
    let app = TestApp::spawn_with(|c| c.activity_interval = Duration::from_secs(1)).await;
    let (id, token) = app.tenant_with_token(&["member"]).await;
    for _ in 0..5 {
        app.call(Method::GET, "/v1/products", &token, None, &[])
            .await
            .expect(StatusCode::OK);
    }
    app.call(Method::GET, "/v1/products/nope", &token, None, &[])
        .await
        .expect(StatusCode::NOT_FOUND);
    let activity = app
        .admin_get(&format!("/admin/tenants/{id}/activity"))
        .await;
    assert_eq!(activity["interval_secs"], 1);
    assert_eq!(activity["window_secs"], 3600);
    assert_eq!(activity["instance_id"], app.state.fleet.id());
    let samples = activity["samples"].as_array().unwrap();
    let sum = |field: &str| {
        samples
            .iter()
            .map(|s| s[field].as_u64().unwrap())
            .sum::<u64>()
    };
    assert_eq!(sum("requests"), 6);
    assert_eq!(sum("client_errors"), 1);
    assert_eq!(sum("server_errors"), 0);
    assert!(samples.iter().all(|s| s["p99_ms"].as_f64().unwrap() > 0.0));
    // Asked for once, the tenant's projection lag and budget use are sampled every interval.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let activity = app
            .admin_get(&format!("/admin/tenants/{id}/activity"))
            .await;
        let sampled = activity["samples"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["projection_lag_events"] == 0 && s["budget_in_use"].is_u64());
        if sampled {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{activity}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // The requests total of the stats endpoint is the same counter.
    assert_eq!(app.stats(&id).await["requests"], 6);
    // Deleted, it is no longer sampled.
    assert_eq!(app.state.activity.watching(), 1);
    app.delete_tenant_and_wait(&id).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while app.state.activity.watching() > 0 {
        assert!(std::time::Instant::now() < deadline, "still sampled");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn pending_migrations_are_listed_and_cleared_by_running_them() {
    let app = TestApp::spawn().await;
    let id = app.create_tenant().await;
    let before = app.admin_get("/admin/migrations").await;
    let target = before["target_version"].as_u64().unwrap();
    assert!(target >= 1);
    let behind = |body: &serde_json::Value| {
        body["pending"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["tenant_id"] == id.as_str())
    };
    assert!(!behind(&before));
    app.set_schema_version(&id, target as u32 - 1).await;
    let pending = app.admin_get("/admin/migrations").await;
    assert!(behind(&pending), "{pending}");
    assert!(pending["pending_count"].as_u64().unwrap() >= 1);
    app.admin_json(Method::POST, "/admin/migrations", None)
        .await
        .expect(StatusCode::OK);
    let after = app.admin_get("/admin/migrations").await;
    assert!(!behind(&after), "{after}");
}

#[tokio::test]
async fn clusters_are_listed_with_the_default() {
    let app = TestApp::spawn().await;
    let clusters = app.admin_get("/admin/clusters").await;
    assert_eq!(
        clusters,
        json!({"items": [{"name": "default", "default": true}]})
    );
}

/// Behind a load balancer the tenant page's refreshes reach several instances, each with its own
/// hour in memory: the page charts them together. The merge, run in Node.js on the module the
/// console serves.
#[test]
fn the_console_merges_the_activity_of_every_instance() {
    let module = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("console/activity.js");
    let script = format!(
        r#"
        import {{ FleetActivity }} from 'file://{module}';
        const sample = (at, requests, client_errors, p50_ms, p99_ms, lag, in_use) =>
          ({{ at, requests, client_errors, server_errors: 0, p50_ms, p99_ms,
             projection_lag_events: lag, budget_in_use: in_use }});
        const answer = (instance_id, samples) =>
          ({{ instance_id, interval_secs: 30, window_secs: 3600, samples }});
        const fleet = new FleetActivity();
        fleet.add(answer('b', [sample('2026-01-01T00:00:30Z', 30, 3, 4, 40, 2, 1)]), 0);
        fleet.add(answer('a', [sample('2026-01-01T00:00:00Z', 5, 0, 1, 9, null, null),
                               sample('2026-01-01T00:00:30Z', 10, 1, 8, 20, 5, null)]), 1000);
        const merged = fleet.merged();
        fleet.add(answer('a', []), 200000); // b not heard from for 200 s: forgotten
        console.log(JSON.stringify({{ merged, later: fleet.merged().instance_ids }}));
        "#,
        module = module.display()
    );
    let output = std::process::Command::new("node")
        .args(["--input-type=module", "-e", &script])
        .output()
        .expect("node runs (scripts/test.sh needs Node.js)");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let result: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    let merged = &result["merged"];
    assert_eq!(merged["instance_ids"], json!(["a", "b"]));
    let samples = merged["samples"].as_array().unwrap();
    assert_eq!(samples.len(), 2, "{merged}");
    assert_eq!(
        samples[0]["requests"], 5,
        "oldest first, one instance alone"
    );
    let both = &samples[1];
    assert_eq!(
        (both["requests"].as_u64(), both["client_errors"].as_u64()),
        (Some(40), Some(4))
    );
    // p50 weighted by requests: (8×10 + 4×30) / 40 = 5; p99 the largest; lag the largest;
    // budget use adds up (an instance that did not sample it adds nothing).
    assert_eq!(both["p50_ms"], 5.0);
    assert_eq!(both["p99_ms"], 40);
    assert_eq!(both["projection_lag_events"], 5);
    assert_eq!(both["budget_in_use"], 1);
    assert_eq!(result["later"], json!(["a"]));
}

/// Sign in (a wrong key first), create a tenant (a validation error first), find it, suspend
/// and resume it, see its charts fill with its requests, the migrations and instances screens,
/// and delete it — in Chromium, with a screenshot of each screen and no console error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_runs_tenants_from_the_console_in_a_real_browser() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    // A second cluster to move to, when there is an embedded database binary to start one.
    let eu = testkit::private_devdb(&[]);
    let eu_uri = eu.as_ref().map(|(_, uri)| uri.clone());
    let app = TestApp::spawn_with(|c| {
        c.activity_interval = Duration::from_secs(1);
        c.clusters.extend(eu_uri.map(|uri| ClusterConfig {
            name: "eu".into(),
            uri,
        }));
    })
    .await;
    let existing = app.create_tenant().await;
    browser.goto(&app.url("/console")).await;
    browser.wait_ready("signin").await;
    browser.screenshot("01-sign-in").await;

    // A wrong key is refused, readably.
    browser.fill("#signin-key", "not-the-key").await;
    browser.click("#signin-submit").await;
    browser
        .wait_until("document.querySelector('#signin-error').innerText.includes('refused')")
        .await;

    browser.fill("#signin-key", &app.admin_key).await;
    browser.click("#signin-submit").await;
    browser.wait_ready("tenants").await;
    assert!(
        browser
            .eval(&format!(
                "document.documentElement.outerHTML.includes('{}')",
                app.admin_key
            ))
            .await
            == json!(false),
        "the key is not in the page"
    );
    assert!(
        browser
            .count(&format!("tr[data-tenant-id='{existing}']"))
            .await
            == 1
    );

    // Create: a bad id gets its message next to the field, then a good one is created.
    let id = app.new_tenant_id();
    browser.click("#tenant-new").await;
    let form = "#tenant-form";
    browser
        .fill_form(form, &[("id", "No Spaces!"), ("name", "Console Corp")])
        .await;
    browser.click("#tenant-form-submit").await;
    let id_error = browser.find(".field-error[data-field='id']").await;
    browser
        .wait_until(
            "document.querySelector(\".field-error[data-field='id']\").innerText.length > 0",
        )
        .await;
    assert!(!id_error.text().await.is_empty());
    browser.screenshot("02-create-validation").await;
    browser
        .fill_form(form, &[("id", &id), ("plan", "pro")])
        .await;
    browser.click("#tenant-form-submit").await;
    browser.wait_ready("tenant").await;
    let page = browser.find("#tenant-page").await;
    assert_eq!(
        page.attribute("data-tenant-id").await.as_deref(),
        Some(id.as_str())
    );
    let created = app.admin_get(&format!("/admin/tenants/{id}")).await;
    assert_eq!(
        (created["name"].as_str(), created["plan"].as_str()),
        (Some("Console Corp"), Some("pro"))
    );

    // Found by search, and only it.
    browser.click("a[href='#/tenants']").await;
    browser.wait_ready("tenants").await;
    browser.fill("#tenant-search", &id).await;
    browser
        .wait_until(&format!(
            "document.querySelectorAll('#tenants-table tbody tr[data-tenant-id]').length === 1 && document.querySelector(\"tr[data-tenant-id='{id}']\")"
        ))
        .await;
    browser.screenshot("03-tenants-search").await;

    // Suspend and resume from its page; the API agrees each time.
    browser.click(&format!("tr[data-tenant-id='{id}'] a")).await;
    browser.wait_ready("tenant").await;
    browser.click("#tenant-suspend").await;
    browser
        .wait_until(
            "document.querySelector('#tenant-status-value').innerText.trim() === 'suspended'",
        )
        .await;
    let status =
        || async { app.admin_get(&format!("/admin/tenants/{id}")).await["status"].clone() };
    assert_eq!(status().await, "suspended");
    browser.click("#tenant-resume").await;
    browser
        .wait_until("document.querySelector('#tenant-status-value').innerText.trim() === 'active'")
        .await;
    assert_eq!(status().await, "active");

    // Edited: a new name and a limit, both in the catalog.
    browser.click("#tenant-edit").await;
    let edit = [("name", "Console Corp EU"), ("requests_per_second", "250")];
    browser.fill_form("#tenant-edit-form", &edit).await;
    browser.click("#tenant-edit-submit").await;
    browser
        .wait_until("document.querySelector('#tenant-page h1').innerText === 'Console Corp EU'")
        .await;
    let edited = app.admin_get(&format!("/admin/tenants/{id}")).await;
    assert_eq!(edited["name"], "Console Corp EU");
    assert_eq!(edited["limits"]["requests_per_second"], 250);

    // Its charts fill with its requests (the page refreshes itself).
    let token = app.mint(&id, &["member"]).await;
    app.product(&token, "C-1", "Charted", 100, 5).await;
    for _ in 0..10 {
        app.call(Method::GET, "/v1/products", &token, None, &[])
            .await
            .expect(StatusCode::OK);
    }
    for metric in ["requests", "latency", "errors", "lag"] {
        browser
            .wait_until(&format!(
                "Number(document.querySelector(\"svg.chart[data-metric='{metric}']\").getAttribute('data-points')) > 0"
            ))
            .await;
    }
    let seen_by = browser.text("#activity-instances").await;
    assert!(seen_by.contains(app.state.fleet.id()), "{seen_by}");
    let documents = browser.text("#tenant-documents").await;
    assert!(documents.contains("products"), "{documents}");
    browser.resize(1280, 2200).await;
    browser.screenshot("04-tenant").await;
    browser.resize(390, 844).await;
    browser.screenshot("05-tenant-phone").await;
    browser.resize(1280, 900).await;

    // Moved to the other cluster, with its progress shown until done.
    if eu.is_some() {
        browser.click("#tenant-move").await;
        browser.find("#move-cluster").await;
        browser
            .eval("(s => { s.value = 'eu'; s.dispatchEvent(new Event('change')); return s.value; })(document.querySelector('#move-cluster'))")
            .await;
        browser.click("#move-submit").await;
        browser
            .wait_until("/done/i.test(document.querySelector('#move-progress').innerText)")
            .await;
        browser.screenshot("06-moved").await;
        let moved = app.admin_get(&format!("/admin/tenants/{id}")).await;
        assert_eq!(moved["cluster"], "eu");
        // Opened again, the page shows the last move (from the tenant's statistics).
        browser.goto(&app.url("/console#/instances")).await;
        browser.wait_ready("instances").await;
        browser
            .goto(&app.url(&format!("/console#/tenants/{id}")))
            .await;
        browser.wait_ready("tenant").await;
        browser
            .wait_until("/done/i.test(document.querySelector('#move-progress').innerText)")
            .await;
    }

    // A tenant behind the schema is listed, then migrated with the button.
    let target = app.admin_get("/admin/migrations").await["target_version"]
        .as_u64()
        .unwrap();
    app.set_schema_version(&existing, target as u32 - 1).await;
    browser.click("a[href='#/migrations']").await;
    browser.wait_ready("migrations").await;
    let pending = browser.text("#migrations-pending").await;
    assert_eq!(pending.trim(), "1");
    browser.screenshot("07-migrations").await;
    browser.click("#migrations-run").await;
    browser
        .wait_until("/\\b0\\b/.test(document.querySelector('#migrations-pending').innerText)")
        .await;
    let migrated = app.admin_get(&format!("/admin/tenants/{existing}")).await;
    assert_eq!(migrated["schema_version"], target);
    browser.click("a[href='#/instances']").await;
    browser.wait_ready("instances").await;
    let instances = browser.text("#instances-table").await;
    assert!(instances.contains(app.state.fleet.id()), "{instances}");
    browser.screenshot("08-instances").await;

    // Delete: the button waits for the id typed in full.
    browser
        .goto(&app.url(&format!("/console#/tenants/{id}")))
        .await;
    browser.wait_ready("tenant").await;
    browser.click("#tenant-delete").await;
    let confirm = browser.find("#delete-confirm-submit").await;
    assert!(confirm.attribute("disabled").await.is_some());
    browser
        .fill("#delete-confirm-input", &id[..id.len() - 1])
        .await;
    assert!(confirm.attribute("disabled").await.is_some());
    browser.fill("#delete-confirm-input", &id).await;
    browser
        .wait_until("!document.querySelector('#delete-confirm-submit').disabled")
        .await;
    confirm.click().await;
    browser.wait_ready("tenants").await;
    let gone = app
        .admin(Method::GET, &format!("/admin/tenants/{id}"))
        .send()
        .await
        .unwrap();
    if gone.status() == StatusCode::OK {
        assert_eq!(json_of(gone, StatusCode::OK).await["status"], "deleting");
    } else {
        assert_eq!(gone.status(), StatusCode::NOT_FOUND);
    }

    // Signing out forgets the key.
    browser.click("#signout").await;
    browser.wait_ready("signin").await;
    assert_eq!(
        browser.eval("sessionStorage.length").await,
        json!(0),
        "signed out, nothing kept"
    );

    // No console error but Chromium's own lines for the two refusals the test provoked: the
    // wrong key's 401 and the bad id's 400.
    let expected = |message: &str| {
        message.contains("Failed to load resource")
            && (message.contains("status of 401") || message.contains("status of 400"))
    };
    let errors: Vec<_> = browser
        .console_log()
        .await
        .into_iter()
        .filter(|(level, message)| level == "SEVERE" && !expected(message))
        .collect();
    assert!(errors.is_empty(), "console errors: {errors:?}");
    browser.quit().await;
}
