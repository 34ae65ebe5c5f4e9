//! Bounded parallelism over a range of indices (provisioning, seeding, touching tenants).

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::{Context, Result};

/// Calls `f(i)` for every `i` in `0..n`, at most `concurrency` at once; returns the results in
/// index order, or the first error.
pub async fn map<T, F, Fut>(n: usize, concurrency: usize, f: F) -> Result<Vec<T>>
where
    T: Send + 'static,
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<T>> + Send + 'static,
{
    let f = Arc::new(f);
    let next = Arc::new(AtomicUsize::new(0));
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..concurrency.clamp(1, n.max(1)) {
        let (f, next) = (Arc::clone(&f), Arc::clone(&next));
        workers.spawn(async move {
            let mut done = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    return Ok::<_, anyhow::Error>(done);
                }
                done.push((i, f(i).await?));
            }
        });
    }
    let mut all: Vec<(usize, T)> = Vec::with_capacity(n);
    while let Some(joined) = workers.join_next().await {
        match joined.context("a worker panicked")? {
            Ok(done) => all.extend(done),
            Err(e) => {
                workers.abort_all();
                return Err(e);
            }
        }
    }
    all.sort_by_key(|(i, _)| *i);
    Ok(all.into_iter().map(|(_, t)| t).collect())
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn results_come_back_in_order() {
        let out = super::map(50, 7, |i| async move { Ok(i * 2) })
            .await
            .expect("maps");
        assert_eq!(out, (0..50).map(|i| i * 2).collect::<Vec<_>>());
    }

    #[tokio::test]
    async fn the_first_error_wins() {
        let out = super::map(10, 3, |i| async move {
            anyhow::ensure!(i != 4, "four");
            Ok(i)
        })
        .await;
        assert!(out.is_err());
    }
}
