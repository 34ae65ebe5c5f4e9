//! Running as a fleet (real processes on one catalog): N instances give exactly the results of
//! one, with leases and without them; a killed instance's tenants are taken over within the
//! lease time; a paused owner that lost its lease writes nothing; work is balanced and handed
//! back at once on a graceful stop.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::process::{Fleet, Server};
use crate::workload::{expected, observed, place_and_cancel, shops};

/// Reads wait for the projections as long as a takeover may take.
const WAIT: (&str, &str) = ("TENANTRY_PROJECTION_WAIT_MS", "30000");

async fn start(fleet: &Fleet, n: usize) -> Vec<Server> {
    let mut servers = Vec::new();
    for i in 0..n {
        servers.push(fleet.start(&format!("i{i}")).await);
    }
    servers
}

/// Every shop's reports, on every instance, equal the sums of the acknowledged commands.
async fn assert_exact(servers: &[&Server], shops: &[crate::workload::Shop]) {
    for shop in shops {
        let want = expected(shop);
        assert!(want.orders > 0);
        for server in servers {
            let got = observed(server, shop).await;
            assert_eq!(
                got,
                want,
                "tenant {} on {} (log {})",
                shop.id,
                server.name,
                server.log.display()
            );
        }
    }
}

async fn three_instances(settings: &[(&str, &str)]) {
    let fleet = Fleet::new(settings);
    let servers = start(&fleet, 3).await;
    let all: Vec<&Server> = servers.iter().collect();
    let shops = shops(&fleet, &servers[0], 3).await;
    place_and_cancel(&shops, &all, 60, 12).await;
    assert_exact(&all, &shops).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_instances_give_the_results_of_one() {
    three_instances(&[WAIT]).await;
}

/// Without leases every instance projects every tenant: the checkpoints' compare-and-set in
/// each batch's transaction alone keeps every event applied once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_uncoordinated_projectors_still_apply_every_event_once() {
    three_instances(&[WAIT, ("TENANTRY_PROJECTION_LEASES", "off")]).await;
}

/// `GET /admin/instances` of `server`: instance id → tenants it projects.
async fn owners(server: &Server) -> BTreeMap<String, Vec<String>> {
    let view = server
        .admin_json(Method::GET, "/admin/instances", None)
        .await
        .expect(StatusCode::OK);
    view["items"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|i| {
            let tenants = i["tenants"]
                .as_array()
                .map(|t| {
                    t.iter()
                        .filter_map(Value::as_str)
                        .map(String::from)
                        .collect()
                })
                .unwrap_or_default();
            (i["id"].as_str().unwrap_or_default().to_string(), tenants)
        })
        .collect()
}

/// The instance id of `server` (as the registry names it).
async fn id_of(server: &Server) -> String {
    let view = server
        .admin_json(Method::GET, "/admin/instances", None)
        .await
        .expect(StatusCode::OK);
    view["this_instance"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// Polls until every instance projects its share of `tenants` (within ±20 % of the mean) and
/// every tenant has exactly one owner; the time it took.
async fn until_balanced(server: &Server, instances: usize, tenants: usize) -> Duration {
    let started = Instant::now();
    let mean = tenants as f64 / instances as f64;
    let mut last = BTreeMap::new();
    while started.elapsed() < Duration::from_secs(40) {
        last = owners(server).await;
        let counts: Vec<usize> = last.values().map(Vec::len).collect();
        let owned: usize = counts.iter().sum();
        let balanced = counts
            .iter()
            .all(|c| (*c as f64 - mean).abs() <= 0.2 * mean);
        if last.len() == instances && owned == tenants && balanced {
            return started.elapsed();
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("not balanced over {instances} instances: {last:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn work_is_balanced_and_a_new_instance_takes_its_share() {
    let fleet = Fleet::new(&[("TENANTRY_LEASE_SECS", "2")]);
    let mut servers = start(&fleet, 3).await;
    let shops = shops(&fleet, &servers[0], 30).await;
    let took = until_balanced(&servers[0], 3, shops.len()).await;
    eprintln!("30 tenants balanced over 3 instances after {took:?}");
    servers.push(fleet.start("i3").await);
    let took = until_balanced(&servers[0], 4, shops.len()).await;
    eprintln!("a fourth instance took its share in {took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_graceful_stop_hands_the_leases_back_at_once() {
    // A long lease: a takeover faster than it can only come from the leases handed back.
    let fleet = Fleet::new(&[("TENANTRY_LEASE_SECS", "20")]);
    let servers = start(&fleet, 2).await;
    let shops = shops(&fleet, &servers[0], 8).await;
    until_balanced(&servers[0], 2, shops.len()).await;
    let stopped = Instant::now();
    servers[1].terminate();
    let took = until_balanced(&servers[0], 1, shops.len()).await;
    eprintln!(
        "the survivor owned every tenant {:?} after the stop",
        stopped.elapsed()
    );
    assert!(
        took < Duration::from_secs(20),
        "took {took:?}: the leases were not handed back"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_killed_instance_is_taken_over_within_the_lease_time() {
    let fleet = Fleet::new(&[WAIT, ("TENANTRY_LEASE_SECS", "3")]);
    let servers = start(&fleet, 3).await;
    let shops = shops(&fleet, &servers[0], 6).await;
    until_balanced(&servers[0], 3, shops.len()).await;
    let victim = id_of(&servers[2]).await;
    let orphaned = owners(&servers[0])
        .await
        .remove(&victim)
        .unwrap_or_default();
    assert!(!orphaned.is_empty());
    // A write burst over all three; the third dies in the middle of it.
    let all: Vec<&Server> = servers.iter().collect();
    let killed = tokio::join!(place_and_cancel(&shops, &all, 40, 12), async {
        tokio::time::sleep(Duration::from_millis(800)).await;
        servers[2].kill9();
        Instant::now()
    })
    .1;
    let survivors: Vec<&Server> = servers[..2].iter().collect();
    // More writes after the kill, then the orphaned tenants must catch up on the survivors.
    place_and_cancel(&shops, &survivors, 10, 8).await;
    for shop in shops.iter().filter(|s| orphaned.contains(&s.id)) {
        assert_eq!(
            observed(survivors[0], shop).await,
            expected(shop),
            "{}",
            shop.id
        );
    }
    eprintln!(
        "kill -9 to the killed instance's tenants caught up on a survivor: {:?} (lease 3 s)",
        killed.elapsed()
    );
    assert_exact(&survivors, &shops).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_paused_owner_that_lost_its_lease_writes_nothing() {
    let fleet = Fleet::new(&[WAIT, ("TENANTRY_LEASE_SECS", "2")]);
    let servers = start(&fleet, 2).await;
    let shops = shops(&fleet, &servers[0], 4).await;
    until_balanced(&servers[0], 2, shops.len()).await;
    let paused_id = id_of(&servers[1]).await;
    let its_tenants = owners(&servers[0])
        .await
        .remove(&paused_id)
        .unwrap_or_default();
    assert!(!its_tenants.is_empty());
    let all: Vec<&Server> = servers.iter().collect();
    place_and_cancel(&shops, &all, 10, 8).await;
    // The owner freezes (its lease runs out meanwhile); the other takes its tenants over.
    servers[1].pause();
    let paused = Instant::now();
    let active: Vec<&Server> = vec![&servers[0]];
    place_and_cancel(&shops, &active, 15, 8).await;
    for shop in shops.iter().filter(|s| its_tenants.contains(&s.id)) {
        assert_eq!(
            observed(&servers[0], shop).await,
            expected(shop),
            "{}",
            shop.id
        );
    }
    eprintln!(
        "a paused owner's tenants caught up on the other instance after {:?}",
        paused.elapsed()
    );
    // It wakes up with stale grants and whatever it had in flight: the fencing tokens in the
    // tenant databases refuse all of it, so nothing is applied twice.
    servers[1].resume();
    place_and_cancel(&shops, &all, 10, 8).await;
    assert_exact(&all, &shops).await;
}
