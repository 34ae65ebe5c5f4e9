//! The `tenantry` operator commands, run as the real binary against the test database: tenant
//! lifecycle, tokens, migrations, exit statuses, and a running server seeing a CLI change.

use std::collections::HashSet;
use std::process::Stdio;
use std::time::Duration;

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use mongodb::bson::{Document, doc};
use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::support::{TestApp, json_of, problem};

const SECRET: &str = "cli-test-secret-0123456789abcdef0123456789";

/// The `tenantry` binary with a configuration of its own: the test database, a fresh catalog.
struct Tenantry {
    catalog_db: String,
    env: Vec<(&'static str, String)>,
}

/// What a run of the binary did.
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Tenantry {
    fn new() -> Tenantry {
        Tenantry::on_catalog(&testkit::unique_name("cat").replace('-', "_"))
    }

    fn on_catalog(catalog_db: &str) -> Tenantry {
        Tenantry {
            catalog_db: catalog_db.to_string(),
            env: vec![
                ("TENANTRY_MONGODB_URI", testkit::mongodb_uri()),
                ("TENANTRY_CATALOG_DB", catalog_db.to_string()),
                ("TENANTRY_JWT_SECRET", SECRET.to_string()),
            ],
        }
    }

    fn without(mut self, name: &str) -> Tenantry {
        self.env.retain(|(k, _)| *k != name);
        self
    }

    async fn run(&self, args: &[&str]) -> Run {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_tenantry"));
        // Nothing from the developer's own TENANTRY_* environment.
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("TENANTRY_") {
                command.env_remove(name);
            }
        }
        command
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .args(args)
            .stdin(Stdio::null());
        let output = tokio::task::spawn_blocking(move || command.output())
            .await
            .expect("join")
            .expect("tenantry runs");
        Run {
            code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    /// Runs and asserts exit status 0.
    async fn ok(&self, args: &[&str]) -> Run {
        self.expect(args, 0).await
    }

    async fn expect(&self, args: &[&str], code: i32) -> Run {
        let run = self.run(args).await;
        assert_eq!(
            run.code,
            Some(code),
            "tenantry {}\nstdout: {}\nstderr: {}",
            args.join(" "),
            run.stdout,
            run.stderr
        );
        run
    }
}

impl Run {
    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {}", self.stdout))
    }

    /// The `--json` error object: the last line of stderr.
    fn error(&self) -> Value {
        let last = self.stderr.lines().last().unwrap_or_default();
        serde_json::from_str(last).unwrap_or_else(|e| panic!("not a JSON error ({e}): {last}"))
    }
}

async fn database_names() -> HashSet<String> {
    mongodb::Client::with_uri_str(testkit::mongodb_uri())
        .await
        .expect("test database client")
        .list_database_names()
        .await
        .expect("database names")
        .into_iter()
        .collect()
}

#[tokio::test]
async fn cli_runs_a_tenant_through_its_lifecycle() {
    let cli = Tenantry::new();
    let id = testkit::unique_name("t");
    let domain = format!("shop.{id}.example");
    let create = [
        "tenants",
        "create",
        "--id",
        &id,
        "--name",
        "Acme Test",
        "--plan",
        "pro",
        "--domain",
        &domain,
    ];

    // Create: provisioned synchronously, printed as the admin API's TenantView.
    let created = cli.ok(&[&create[..], &["--json"]].concat()).await.json();
    assert_eq!(created["id"], id.as_str());
    assert_eq!(created["name"], "Acme Test");
    assert_eq!(created["status"], "active");
    assert_eq!(created["plan"], "pro");
    assert_eq!(created["cluster"], "default");
    assert_eq!(created["isolation"], "shared");
    let database = format!("t_{id}_{}", created["incarnation"].as_str().unwrap());
    assert_eq!(created["database"], database.as_str());
    assert_eq!(created["domains"], serde_json::json!([domain]));
    assert_eq!(
        created["schema_version"],
        tenantry_api::platform::schema().latest_version()
    );
    assert!(created["created_at"].as_str().unwrap().ends_with('Z'));
    assert!(database_names().await.contains(&database));

    // The same create again is fine; other settings or a taken domain are not.
    let again = cli.ok(&create).await;
    assert!(again.stdout.contains("already exists"), "{}", again.stdout);
    let other = cli
        .expect(
            &[
                "tenants", "create", "--id", &id, "--name", "Other", "--json",
            ],
            1,
        )
        .await;
    assert_eq!(other.error()["error"], "tenant_exists", "{}", other.stderr);
    let second = testkit::unique_name("t");
    let taken = cli
        .expect(
            &[
                "tenants", "create", "--id", &second, "--name", "B", "--domain", &domain,
            ],
            1,
        )
        .await;
    assert!(
        taken.stderr.contains("registered to another tenant"),
        "{}",
        taken.stderr
    );
    cli.expect(&["tenants", "show", &second], 1).await;

    // List: an aligned table, or JSON.
    let table = cli.ok(&["tenants", "list"]).await.stdout;
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 2, "{table}");
    assert!(
        lines[0].starts_with("ID ") && lines[0].ends_with("SCHEMA"),
        "{table}"
    );
    let row: Vec<&str> = lines[1].split("  ").filter(|c| !c.is_empty()).collect();
    let schema = tenantry_api::platform::schema()
        .latest_version()
        .to_string();
    assert_eq!(
        row.iter().map(|c| c.trim()).collect::<Vec<_>>(),
        [
            &id,
            "Acme Test",
            "active",
            "pro",
            "default",
            &database,
            &schema,
        ],
        "{table}"
    );
    assert_eq!(lines[0].find("STATUS"), lines[1].find("active"), "{table}");
    let listed = cli.ok(&["tenants", "list", "--json"]).await.json();
    assert_eq!(listed.as_array().map(Vec::len), Some(1), "{listed}");
    assert_eq!(listed[0], created);

    // Show, suspend, resume.
    let shown = cli.ok(&["tenants", "show", &id]).await.stdout;
    assert!(
        shown
            .lines()
            .any(|l| l.starts_with("status:") && l.ends_with(" active")),
        "{shown}"
    );
    assert!(
        shown.contains(&format!("database:                {database}\n")),
        "{shown}"
    );
    assert!(
        shown.contains(&format!(
            "incarnation:             {}\n",
            created["incarnation"].as_str().unwrap()
        )),
        "{shown}"
    );
    let suspended = cli.ok(&["tenants", "suspend", &id]).await.stdout;
    assert_eq!(suspended.trim(), format!("tenant {id} suspended"));
    let status = |v: Value| v["status"].as_str().unwrap_or_default().to_string();
    assert_eq!(
        status(cli.ok(&["tenants", "show", &id, "--json"]).await.json()),
        "suspended"
    );
    let only_suspended = cli
        .ok(&["tenants", "list", "--status", "suspended", "--json"])
        .await
        .json();
    assert_eq!(only_suspended[0]["id"], id.as_str());
    let resumed = cli.ok(&["tenants", "resume", &id, "--json"]).await.json();
    assert_eq!(status(resumed), "active");
    assert_eq!(
        status(cli.ok(&["tenants", "show", &id, "--json"]).await.json()),
        "active"
    );
    let none = cli
        .ok(&["tenants", "list", "--status", "suspended", "--json"])
        .await;
    assert_eq!(none.json(), serde_json::json!([]));

    // Token: only the token on stdout, signed with the configured secret, issuer, audience.
    let token = cli
        .ok(&[
            "token", "--tenant", &id, "--role", "viewer", "--role", "admin", "--sub", "alice",
            "--ttl", "600",
        ])
        .await
        .stdout;
    assert_eq!(token.lines().count(), 1);
    let mut validation = Validation::new(Algorithm::HS256);
    validation.set_issuer(&["tenantry"]);
    validation.set_audience(&["tenantry-api"]);
    let claims = jsonwebtoken::decode::<Value>(
        token.trim(),
        &DecodingKey::from_secret(SECRET.as_bytes()),
        &validation,
    )
    .expect("the token verifies")
    .claims;
    assert_eq!(claims["tid"], id.as_str());
    assert_eq!(claims["roles"], serde_json::json!(["viewer", "admin"]));
    assert_eq!(claims["sub"], "alice");
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        600
    );
    let minted = cli
        .ok(&["token", "--tenant", &id, "--role", "member", "--json"])
        .await
        .json();
    assert!(minted["token"].is_string(), "{minted}");
    assert!(
        minted["expires_at"].as_str().unwrap().ends_with('Z'),
        "{minted}"
    );
    let unknown = testkit::unique_name("t");
    cli.expect(&["token", "--tenant", &unknown, "--role", "viewer"], 1)
        .await;
    cli.expect(&["token", "--tenant", &id, "--role", "root"], 2)
        .await;

    // Migrate: the tenant is reported, already up to date.
    let report = cli.ok(&["migrate", "--json"]).await.json();
    assert_eq!(report["tenants"], 1, "{report}");
    assert_eq!(report["failed"], 0, "{report}");
    assert_eq!(report["results"][0]["tenant_id"], id.as_str(), "{report}");
    assert_eq!(report["results"][0]["ok"], true, "{report}");
    assert_eq!(
        report["results"][0]["to_version"],
        tenantry_api::platform::schema().latest_version()
    );
    let one = cli.ok(&["migrate", "--tenant", &id]).await.stdout;
    assert!(
        one.contains("up to date") && one.contains("1 tenants: 1 ok, 0 failed"),
        "{one}"
    );

    // Delete: refused without --yes, then the record and the database are gone.
    let refused = cli.expect(&["tenants", "delete", &id], 2).await;
    assert!(refused.stderr.contains("--yes"), "{}", refused.stderr);
    cli.ok(&["tenants", "show", &id]).await;
    let deleted = cli.ok(&["tenants", "delete", &id, "--yes"]).await.stdout;
    assert!(deleted.contains("deleted"), "{deleted}");
    let gone = cli.expect(&["tenants", "show", &id], 1).await;
    assert!(gone.stderr.contains("not found"), "{}", gone.stderr);
    let gone = cli.expect(&["tenants", "show", &id, "--json"], 1).await;
    assert_eq!(gone.error()["error"], "tenant_not_found", "{}", gone.stderr);
    assert!(!database_names().await.contains(&database));
    cli.expect(&["tenants", "delete", &id, "--yes"], 1).await;
}

#[tokio::test]
async fn cli_refuses_invalid_input_before_any_database_is_made() {
    let cli = Tenantry::new();
    let id = testkit::unique_name("t");
    for bad in ["Acme", "ab", "admin", "acme_eu", "-acme", "x/../y"] {
        let run = cli
            .expect(&["tenants", "create", "--id", bad, "--name", "X"], 2)
            .await;
        assert!(run.stderr.contains("--id"), "{bad}: {}", run.stderr);
    }
    let domain = format!("{id}.example");
    let invalid: [&[&str]; 4] = [
        &[
            "tenants",
            "create",
            "--id",
            &id,
            "--name",
            "X",
            "--cluster",
            "mars",
        ],
        &[
            "tenants",
            "create",
            "--id",
            &id,
            "--name",
            "X",
            "--domain",
            "not_a_domain",
        ],
        &[
            "tenants", "create", "--id", &id, "--name", "X", "--domain", &domain, "--domain",
            &domain,
        ],
        &[
            "tenants", "create", "--id", &id, "--name", "X", "--plan", "no plan",
        ],
    ];
    for args in invalid {
        let run = cli.expect(args, 2).await;
        assert!(!run.stderr.is_empty(), "{args:?}");
    }
    cli.expect(&["tenants", "show", &id], 1).await;
    let databases = database_names().await;
    for name in ["t_Acme", "t_admin", "t_acme_eu"] {
        assert!(!databases.contains(name), "{name} was created");
    }
    let prefix = format!("t_{id}");
    assert!(
        !databases.iter().any(|d| d.starts_with(&prefix)),
        "a database of {id} was created"
    );
}

#[tokio::test]
async fn cli_token_needs_a_secret() {
    let cli = Tenantry::new().without("TENANTRY_JWT_SECRET");
    let run = cli
        .expect(&["token", "--tenant", "acme", "--role", "viewer"], 2)
        .await;
    assert!(run.stderr.contains("TENANTRY_JWT_SECRET"), "{}", run.stderr);
    assert!(run.stdout.is_empty());
    let run = cli
        .expect(
            &["token", "--tenant", "acme", "--role", "viewer", "--json"],
            2,
        )
        .await;
    assert_eq!(run.error()["error"], "token_signing_disabled");
}

#[tokio::test]
async fn cli_help_and_configuration_errors() {
    let cli = Tenantry::new();
    let help = cli.ok(&["--help"]).await.stdout;
    for word in [
        "serve",
        "tenants",
        "migrate",
        "token",
        "--json",
        "--config",
        "Exit status",
    ] {
        assert!(help.contains(word), "{word} missing from:\n{help}");
    }
    let help = cli.ok(&["tenants", "create", "--help"]).await.stdout;
    for word in [
        "--id",
        "--name",
        "--plan",
        "--cluster",
        "--isolation",
        "--domain",
        "dedicated",
    ] {
        assert!(help.contains(word), "{word} missing from:\n{help}");
    }
    cli.expect(&["tenants"], 2).await;
    let unconfigured = Tenantry::new().without("TENANTRY_MONGODB_URI");
    let run = unconfigured.expect(&["tenants", "list"], 2).await;
    assert!(
        run.stderr.contains("TENANTRY_MONGODB_URI"),
        "{}",
        run.stderr
    );
}

#[tokio::test]
async fn cli_migrate_reports_failing_tenants_and_exits_1() {
    let cli = Tenantry::new();
    let good = testkit::unique_name("t");
    cli.ok(&["tenants", "create", "--id", &good, "--name", "Good"])
        .await;
    // A tenant whose database name the server refuses: its migration fails.
    let broken = testkit::unique_name("t");
    let now = mongodb::bson::DateTime::now();
    let record = doc! {
        "_id": &broken, "incarnation": "0123456789ab", "name": "Broken", "status": "active", "plan": "free", "cluster": "default",
        "database": "bad/name", "isolation": "shared", "domains": [], "limits": {}, "schema_version": 0,
        "created_at": now, "updated_at": now,
    };
    mongodb::Client::with_uri_str(testkit::mongodb_uri())
        .await
        .unwrap()
        .database(&cli.catalog_db)
        .collection::<Document>("tenants")
        .insert_one(record)
        .await
        .unwrap();
    // --status changes nothing: the broken tenant is behind by every migration.
    let latest = tenantry_api::platform::schema().latest_version();
    let status = cli.ok(&["migrate", "--status", "--json"]).await.json();
    let pending = |id: &str| {
        let entry = status
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["tenant_id"] == id);
        entry.unwrap_or_else(|| panic!("{id} missing: {status}"))["pending"].clone()
    };
    assert_eq!(pending(&good), serde_json::json!([]));
    assert_eq!(
        pending(&broken),
        serde_json::json!((1..=latest).collect::<Vec<u32>>())
    );
    let table = cli.ok(&["migrate", "--status"]).await.stdout;
    assert!(
        table.contains(&format!("2 tenants, 1 behind version {latest}")),
        "{table}"
    );
    // Named tenants only, at the parallelism asked for.
    let only_good = cli
        .ok(&["migrate", "--json", "--tenant", &good, "--parallel", "1"])
        .await;
    assert_eq!(only_good.json()["tenants"], 1);
    let both = ["migrate", "--json", "--tenant", &good, "--tenant", &broken];
    assert_eq!(cli.expect(&both, 1).await.json()["tenants"], 2);
    cli.expect(&["migrate", "--parallel", "0"], 2).await;
    let run = cli.expect(&["migrate", "--json"], 1).await;
    let report = run.json();
    assert_eq!(
        (report["tenants"].as_u64(), report["failed"].as_u64()),
        (Some(2), Some(1)),
        "{report}"
    );
    assert_eq!(run.error()["error"], "migration_failed");
    let run = cli.expect(&["migrate"], 1).await;
    let row = |id: &str| {
        run.stdout
            .lines()
            .find(|l| l.starts_with(id))
            .unwrap_or_default()
            .to_string()
    };
    assert!(row(&good).ends_with("up to date"), "{}", run.stdout);
    assert!(row(&broken).contains("failed:"), "{}", run.stdout);
    assert!(
        run.stderr.contains("1 of 2 tenants failed"),
        "{}",
        run.stderr
    );
}

#[tokio::test]
async fn a_running_server_sees_a_cli_suspension() {
    let cli = Tenantry::new();
    let app = TestApp::spawn_on_catalog(&cli.catalog_db).await;
    let id = testkit::unique_name("t");
    cli.ok(&["tenants", "create", "--id", &id, "--name", "Served"])
        .await;

    // The CLI's JSON is the admin API's view of the same tenant.
    let from_cli = cli.ok(&["tenants", "show", &id, "--json"]).await.json();
    let from_api = app
        .admin_json(Method::GET, &format!("/admin/tenants/{id}"), None)
        .await
        .expect(StatusCode::OK);
    assert_eq!(from_cli, from_api);

    // The server caches the tenant as active...
    let token = app.token(&id, &["viewer"]);
    app.call(Method::GET, "/v1/tenant", &token, None, &[])
        .await
        .expect(StatusCode::OK);
    // ...the CLI suspends it; the server's change-stream watch drops the cache entry.
    cli.ok(&["tenants", "suspend", &id]).await;
    let mut response = None;
    for _ in 0..50 {
        let r = app
            .v1(Method::GET, "/v1/tenant", &token)
            .send()
            .await
            .unwrap();
        if r.status() == StatusCode::FORBIDDEN {
            response = Some(r);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let response = response.expect("the server still serves a tenant the CLI suspended");
    problem(response, StatusCode::FORBIDDEN, "tenant_suspended").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_instances_lists_the_live_servers_and_their_tenants() {
    let fleet = crate::process::Fleet::new(&[("TENANTRY_LEASE_SECS", "2")]);
    let servers = [fleet.start("a").await, fleet.start("b").await];
    let cli = Tenantry::on_catalog(&fleet.catalog_db);
    for _ in 0..4 {
        servers[0].tenant_and_token().await;
    }
    // Until both own their share (each heartbeat rebalances).
    let mut listed = Value::Null;
    for _ in 0..50 {
        listed = cli.ok(&["instances", "--json"]).await.json();
        let items = listed.as_array().cloned().unwrap_or_default();
        let owned: usize = items
            .iter()
            .map(|i| i["tenants"].as_array().map_or(0, Vec::len))
            .sum();
        if items.len() == 2
            && owned == 4
            && items
                .iter()
                .all(|i| i["partitions"].as_array().is_some_and(|p| !p.is_empty()))
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let items = listed.as_array().cloned().unwrap_or_default();
    assert_eq!(items.len(), 2, "{listed}");
    for item in &items {
        assert!(
            item["host"].is_string() && item["last_heartbeat"].is_string(),
            "{item}"
        );
    }
    let table = cli.ok(&["instances"]).await.stdout;
    assert!(table.starts_with("ID "), "{table}");
    assert_eq!(table.lines().count(), 3, "{table}");
}

#[tokio::test]
async fn cli_config_shows_every_setting_with_its_source_and_masks_secrets() {
    let dir = std::env::temp_dir().join(testkit::unique_name("cfg"));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("tenantry.toml");
    std::fs::write(
        &file,
        "listen = \"127.0.0.1:9999\"\ndb_prefix = \"file_\"\n",
    )
    .unwrap();
    let mut cli = Tenantry::new();
    cli.env.push(("TENANTRY_DB_PREFIX", "env_".into()));
    cli.env.push((
        "TENANTRY_CLUSTERS",
        "eu=mongodb://eu-user:eu-password@127.0.0.1:1/".into(),
    ));
    let path = file.to_string_lossy().into_owned();
    let run = cli.ok(&["--json", "config", "--config", &path]).await;
    for secret in [SECRET, "eu-password"] {
        assert!(
            !run.stdout.contains(secret),
            "a secret is shown: {}",
            run.stdout
        );
    }
    let settings = run.json();
    let setting = |name: &str| {
        let found = settings
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == name);
        found
            .unwrap_or_else(|| panic!("{name} missing: {settings}"))
            .clone()
    };
    assert_eq!(setting("TENANTRY_LISTEN")["value"], "127.0.0.1:9999");
    assert_eq!(setting("TENANTRY_LISTEN")["source"], "file");
    assert_eq!(setting("TENANTRY_DB_PREFIX")["value"], "env_");
    assert_eq!(setting("TENANTRY_DB_PREFIX")["source"], "environment");
    assert_eq!(setting("TENANTRY_CATALOG_DB")["source"], "environment");
    assert_eq!(
        setting("TENANTRY_REQUEST_TIMEOUT_SECS")["source"],
        "default"
    );
    assert_eq!(setting("TENANTRY_JWT_SECRET")["value"], "(set, hidden)");
    assert_eq!(
        setting("TENANTRY_CLUSTERS")["value"],
        "eu=mongodb://eu-user:***@127.0.0.1:1/"
    );
    // The table for people; an invalid setting is exit 2 naming it.
    let table = cli.ok(&["config"]).await.stdout;
    assert!(table.starts_with("SETTING"), "{table}");
    assert!(!table.contains(SECRET));
    let mut bad = Tenantry::new();
    bad.env.push(("TENANTRY_LISTEN", "nowhere".into()));
    let run = bad.expect(&["config"], 2).await;
    assert!(run.stderr.contains("TENANTRY_LISTEN"), "{}", run.stderr);
    std::fs::remove_dir_all(dir).ok();
}

#[tokio::test]
async fn cli_admin_key_prints_a_key_whose_hash_the_server_accepts() {
    let cli = Tenantry::new().without("TENANTRY_MONGODB_URI");
    let first = cli.ok(&["--json", "admin-key"]).await.json();
    let second = cli.ok(&["--json", "admin-key"]).await.json();
    let key = first["key"].as_str().unwrap();
    assert!(key.len() >= 43, "{key}");
    assert_ne!(first["key"], second["key"], "keys are random");
    let sha256 = first["sha256"].as_str().unwrap();
    assert_eq!(sha256, tenantry_auth::AdminKey::digest_hex_of(key));
    // A server configured with the hash takes the key.
    let app = TestApp::spawn_with_settings(&[("TENANTRY_ADMIN_KEY_SHA256", sha256)]).await;
    let listed = app
        .request(Method::GET, "/admin/tenants")
        .bearer_auth(key)
        .send()
        .await
        .unwrap();
    json_of(listed, StatusCode::OK).await;
    let human = cli.ok(&["admin-key"]).await.stdout;
    assert!(human.contains("TENANTRY_ADMIN_KEY_SHA256="), "{human}");
}

#[tokio::test]
async fn cli_completions_are_scripts_for_each_shell() {
    let cli = Tenantry::new().without("TENANTRY_MONGODB_URI");
    let bash = cli.ok(&["completions", "bash"]).await.stdout;
    assert!(
        bash.contains("complete -F") && bash.contains("tenantry"),
        "{bash}"
    );
    for command in ["tenants", "migrate", "admin-key", "config"] {
        assert!(bash.contains(command), "{command} missing");
    }
    let zsh = cli.ok(&["completions", "zsh"]).await.stdout;
    assert!(zsh.starts_with("#compdef tenantry"), "{zsh}");
    cli.expect(&["completions", "tcsh"], 2).await;
}

#[tokio::test]
async fn cli_updates_a_tenant_and_a_running_server_sees_it() {
    let app = TestApp::spawn().await;
    let cli = Tenantry::on_catalog(&app.catalog_db);
    let id = testkit::unique_name("t");
    let domain = format!("shop.{id}.example");
    cli.ok(&["tenants", "create", "--id", &id, "--name", "Before"])
        .await;
    let update = [
        "--json",
        "tenants",
        "update",
        &id,
        "--name",
        "After",
        "--plan",
        "enterprise",
        "--requests-per-second",
        "40",
        "--domain",
        &domain,
    ];
    let updated = cli.ok(&update).await.json();
    assert_eq!(updated["name"], "After");
    assert_eq!(updated["plan"], "enterprise");
    assert_eq!(updated["domains"], serde_json::json!([domain]));
    assert_eq!(updated["limits"]["requests_per_second"], 40);
    // One limit changed keeps the other; --no-domains clears them.
    let args = [
        "--json",
        "tenants",
        "update",
        &id,
        "--max-concurrent-requests",
        "3",
        "--no-domains",
    ];
    let updated = cli.ok(&args).await.json();
    assert_eq!(updated["limits"]["requests_per_second"], 40, "{updated}");
    assert_eq!(updated["limits"]["max_concurrent_requests"], 3, "{updated}");
    assert_eq!(updated["domains"], serde_json::json!([]));
    // The server's admin API shows what the CLI wrote.
    let shown = app
        .admin_json(Method::GET, &format!("/admin/tenants/{id}"), None)
        .await
        .expect(StatusCode::OK);
    assert_eq!(shown["name"], "After");
    assert_eq!(shown["limits"]["max_concurrent_requests"], 3);
    // Nothing to change, a bad value or an unknown tenant: refused.
    let run = cli.expect(&["tenants", "update", &id], 2).await;
    assert!(run.stderr.contains("nothing to change"), "{}", run.stderr);
    cli.expect(&["tenants", "update", &id, "--plan", "no spaces"], 2)
        .await;
    cli.expect(&["tenants", "update", &id, "--requests-per-second", "0"], 2)
        .await;
    cli.expect(&["tenants", "update", "no-such-tenant", "--name", "X"], 1)
        .await;
    // The tenant's own identity provider: set, unique, removed.
    let issuer = format!("https://login.{id}.example");
    let sso = ["--issuer", issuer.as_str(), "--audience", "tenantry"];
    let updated = cli
        .ok(&[
            ["--json", "tenants", "update", id.as_str()].as_slice(),
            &sso,
        ]
        .concat())
        .await
        .json();
    assert_eq!(updated["auth"]["issuer"], issuer.as_str(), "{updated}");
    let other = testkit::unique_name("t");
    cli.ok(&["tenants", "create", "--id", &other, "--name", "Other"])
        .await;
    let taken = cli
        .expect(
            &[
                ["--json", "tenants", "update", other.as_str()].as_slice(),
                &sso,
            ]
            .concat(),
            1,
        )
        .await;
    assert!(taken.stderr.contains("issuer_taken"), "{}", taken.stderr);
    cli.expect(
        &["tenants", "update", &other, "--issuer", "https://x.example"],
        2,
    )
    .await;
    cli.expect(
        &[
            "tenants",
            "update",
            &other,
            "--issuer",
            "http://x.example",
            "--audience",
            "a",
        ],
        2,
    )
    .await;
    let removed = cli
        .ok(&["--json", "tenants", "update", &id, "--no-issuer"])
        .await
        .json();
    assert!(removed.get("auth").is_none(), "{removed}");
    cli.ok(&[["tenants", "update", other.as_str()].as_slice(), &sso].concat())
        .await;
}

#[tokio::test]
async fn cli_stats_and_rebuild_agree_with_the_admin_api() {
    let app = TestApp::spawn().await;
    let cli = Tenantry::on_catalog(&app.catalog_db);
    let (id, token) = app.tenant_with_token(&["admin"]).await;
    let mut last = 0;
    for i in 0..3 {
        let (_, position) = app
            .product(&token, &format!("SKU{i}"), &format!("P{i}"), 100, 10)
            .await;
        last = position;
    }
    let listed = app.products_at(&token, last).await;
    assert_eq!(listed["items"].as_array().map(Vec::len), Some(3));
    let admin = app.stats(&id).await;
    let stats = cli.ok(&["--json", "tenants", "stats", &id]).await.json();
    assert_eq!(stats["tenant_id"], id.as_str());
    assert_eq!(stats["status"], "active");
    assert_eq!(stats["documents"]["products"], 3, "{stats}");
    assert_eq!(stats["documents"], admin["documents"]);
    assert_eq!(stats["projections"], admin["projections"]);
    assert_eq!(stats["projections"]["last_position"], last, "{stats}");
    let text = cli.ok(&["tenants", "stats", &id]).await.stdout;
    assert!(
        text.contains("products") && text.contains("lag 0"),
        "{text}"
    );

    let generation = stats["projections"]["generation"].as_u64().unwrap();
    let rebuilt = cli
        .ok(&["--json", "projections", "rebuild", &id])
        .await
        .json();
    assert_eq!(rebuilt["events_applied"], last, "{rebuilt}");
    assert_eq!(rebuilt["generation"], generation + 1);
    // The server reads the new generation (after its pointer's TTL at most), complete.
    let after = cli.ok(&["--json", "tenants", "stats", &id]).await.json();
    assert_eq!(after["projections"]["generation"], generation + 1);
    assert_eq!(after["projections"]["lag"], 0);
    let listed = app
        .call(Method::GET, "/v1/products", &token, None, &[])
        .await
        .expect(StatusCode::OK);
    assert_eq!(listed["items"].as_array().map(Vec::len), Some(3));
    // Unknown tenant: exit 1 with the admin API's code.
    let run = cli
        .expect(&["--json", "projections", "rebuild", "no-such-tenant"], 1)
        .await;
    assert_eq!(run.error()["error"], "tenant_not_found");
    cli.expect(&["tenants", "stats", "Bad_Id"], 2).await;
}

#[tokio::test]
async fn cli_exports_a_tenant_and_imports_it_into_another() {
    let cli = Tenantry::new();
    let app = TestApp::spawn_on_catalog(&cli.catalog_db).await;
    let (source, token) = app.tenant_with_token(&["admin"]).await;
    app.product(&token, "PEN", "Pen", 150, 10).await;
    let file = std::env::temp_dir().join(format!("{}.ndjson", testkit::unique_name("export")));
    let path = file.to_str().unwrap();
    let run = cli
        .ok(&["tenants", "export", &source, "--output", path])
        .await;
    assert!(run.stderr.contains("exported"), "{}", run.stderr);
    let to_stdout = cli.ok(&["tenants", "export", &source]).await;
    assert_eq!(to_stdout.stdout, std::fs::read_to_string(&file).unwrap());

    let target = app.new_tenant_id();
    cli.ok(&["tenants", "create", "--id", &target, "--name", "Copy"])
        .await;
    let imported = cli
        .ok(&["--json", "tenants", "import", &target, "--input", path])
        .await
        .json();
    assert_eq!(imported["documents"]["products"], 1, "{imported}");
    assert_eq!(imported["last_position"], 1, "{imported}");
    let again = cli
        .expect(
            &["--json", "tenants", "import", &target, "--input", path],
            2,
        )
        .await;
    assert_eq!(again.error()["error"], "tenant_not_empty");
    let target_token = app.mint(&target, &["viewer"]).await;
    let listed = app.products_at(&target_token, 1).await;
    assert_eq!(listed["items"][0]["sku"], "PEN");
    let _ = std::fs::remove_file(&file);
}

/// `tenantry tenants move`: the CLI runs the move; a running server's commands follow the
/// tenant to its new cluster.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_moves_a_tenant_and_a_running_server_follows_it() {
    let Some((_eu, eu_uri)) = testkit::private_devdb(&[]) else {
        eprintln!("skipped: no embedded database binary for a second cluster");
        return;
    };
    let mut cli = Tenantry::new();
    cli.env.push(("TENANTRY_CLUSTERS", format!("eu={eu_uri}")));
    let eu = eu_uri.clone();
    let app = TestApp::spawn_on_catalog_with(&cli.catalog_db, move |c| {
        c.clusters.push(tenancy::clusters::ClusterConfig {
            name: "eu".into(),
            uri: eu,
        });
    })
    .await;
    let id = testkit::unique_name("t");
    cli.ok(&["tenants", "create", "--id", &id, "--name", "Moving"])
        .await;
    let token = app.token(&id, &["member"]);
    app.product(&token, "BEFORE", "Before", 1, 1).await;

    let moved = cli
        .ok(&["--json", "tenants", "move", &id, "--to", "eu"])
        .await
        .json();
    assert_eq!(moved["state"], "done", "{moved}");
    assert_eq!(moved["from"], "default");
    assert_eq!(moved["to"], "eu");
    assert!(moved["documents_copied"].as_i64() > Some(0), "{moved}");
    let from_api = app
        .admin_json(Method::GET, &format!("/admin/tenants/{id}/move"), None)
        .await
        .expect(StatusCode::OK);
    assert_eq!(from_api, moved);

    let (_, position) = app.product(&token, "AFTER", "After", 1, 1).await;
    assert_eq!(
        app.products_at(&token, position).await["items"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let shown = cli.ok(&["tenants", "show", &id, "--json"]).await.json();
    assert_eq!(shown["cluster"], "eu");
    // A second move to where it is now is refused; so is an unknown cluster.
    let again = cli
        .expect(&["--json", "tenants", "move", &id, "--to", "default"], 1)
        .await;
    assert_eq!(
        again.error()["error"],
        "move_in_progress",
        "{}",
        again.stderr
    );
    let unknown = cli
        .expect(&["--json", "tenants", "move", &id, "--to", "mars"], 2)
        .await;
    assert_eq!(unknown.error()["error"], "validation_failed");
}
