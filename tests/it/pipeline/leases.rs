//! The Redis lease locks (the document's intent, a customer's lock) against the real Redis: a
//! holder that works longer than the lease keeps it; one that does not keep it loses it.

use std::time::Duration;

use sj_shared::config::RedisSettings;
use sj_shared::store::{self, Keys, RedisLock};

use super::Namespace;

const LEASE: Duration = Duration::from_millis(300);

#[tokio::test]
async fn a_lease_held_past_its_length_is_kept_alive_and_an_unkept_one_runs_out() {
    let ns = Namespace::new("leases").await;
    let pool = store::pool(&RedisSettings::default()).unwrap();
    let key = Keys::new(&ns.name).key("intent", "kept");

    // Kept alive while the work lasts more than two leases: nobody else can take it meanwhile.
    let lock = RedisLock::try_acquire(&pool, &key, LEASE).await.unwrap().expect("free");
    let taken_meanwhile = RedisLock::keep_alive_while(&pool, &[&lock], LEASE, async {
        let mut taken = false;
        for _ in 0..6 {
            // 6 × 0.4 × 300 ms = 720 ms: more than two leases.
            tokio::time::sleep(LEASE * 2 / 5).await;
            taken |= RedisLock::try_acquire(&pool, &key, LEASE).await.unwrap().is_some();
        }
        taken
    })
    .await;
    assert!(!taken_meanwhile, "the kept lease was taken by another");
    assert!(lock.held(&pool).await.unwrap(), "still held after the work");
    lock.release(&pool).await;

    // Not kept alive: it runs out, another takes it, and the first holder can tell.
    let first = RedisLock::try_acquire(&pool, &key, LEASE).await.unwrap().expect("free again");
    tokio::time::sleep(LEASE * 2).await;
    let second = RedisLock::try_acquire(&pool, &key, LEASE).await.unwrap().expect("ran out");
    assert!(!first.held(&pool).await.unwrap(), "the first holder sees it lost the lease");
    assert!(!first.extend(&pool, LEASE).await.unwrap(), "a lost lease is not extended");
    assert!(second.held(&pool).await.unwrap());
    second.release(&pool).await;
    ns.remove().await;
}
