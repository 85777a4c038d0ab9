//! Readiness: what a process needs before it does its work (the broker, Redis, a consumer on its
//! queue), each condition met or not with the reason, as `/readyz` tells it.
//!
//! The process declares its conditions at start (all unmet: "starting"), then sets each where its
//! connection comes up or goes down. Redis, which the processes reach through a pool and not one
//! connection, is checked when `/readyz` is asked (a PING, bounded in time).

use std::sync::Mutex;
use std::time::Duration;

use deadpool_redis::Pool;

/// How long `/readyz` waits for Redis to answer a PING.
const REDIS_PING_TIMEOUT: Duration = Duration::from_secs(1);

/// A condition met while this says Ok (asked at each `/readyz`).
type Live = Box<dyn Fn() -> Result<(), String> + Send + Sync>;

/// One condition: met (`why_not` None) or not, and when met, possibly only while `live` says so.
struct Condition {
    name: &'static str,
    why_not: Option<String>,
    live: Option<Live>,
}

/// The conditions of one process. One per process: [`super::readiness`].
#[derive(Default)]
pub struct Readiness {
    /// In the order declared.
    conditions: Mutex<Vec<Condition>>,
    redis: Mutex<Option<Pool>>,
}

impl Readiness {
    /// Declares conditions, unmet until [`Readiness::ready`] (a condition declared twice keeps
    /// its state).
    pub fn require(&self, names: &[&'static str]) {
        self.with(|conditions| {
            for name in names {
                if !conditions.iter().any(|c| c.name == *name) {
                    conditions.push(Condition { name, why_not: Some("starting".to_owned()), live: None });
                }
            }
        });
    }

    /// The condition is met (declared now if it was not).
    pub fn ready(&self, name: &'static str) {
        self.set(name, None, None);
    }

    /// The condition is met as long as `live` says Ok (asked at each `/readyz`; its error is the
    /// reason): a connection's status, for instance.
    pub fn ready_while(
        &self,
        name: &'static str,
        live: impl Fn() -> Result<(), String> + Send + Sync + 'static,
    ) {
        self.set(name, None, Some(Box::new(live)));
    }

    /// The condition is not met, for `reason` (declared now if it was not).
    pub fn not_ready(&self, name: &'static str, reason: impl Into<String>) {
        self.set(name, Some(reason.into()), None);
    }

    /// `/readyz` also requires Redis to answer a PING through this pool.
    pub fn require_redis(&self, pool: Pool) {
        *self.redis.lock().unwrap_or_else(|p| p.into_inner()) = Some(pool);
    }

    fn set(&self, name: &'static str, why_not: Option<String>, live: Option<Live>) {
        self.with(|conditions| match conditions.iter_mut().find(|c| c.name == name) {
            Some(condition) => {
                condition.why_not = why_not;
                condition.live = live;
            }
            None => conditions.push(Condition { name, why_not, live }),
        });
    }

    fn with<T>(&self, f: impl FnOnce(&mut Vec<Condition>) -> T) -> T {
        f(&mut self.conditions.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// Ok when every condition is met and Redis (if required) answers; else every reason, one
    /// per unmet condition (`broker: cannot connect to RabbitMQ at …`).
    pub async fn check(&self) -> Result<(), Vec<String>> {
        let mut unmet: Vec<String> = self.with(|conditions| {
            conditions
                .iter()
                .filter_map(|c| {
                    let why_not = match (&c.why_not, &c.live) {
                        (Some(why), _) => Some(why.clone()),
                        (None, Some(live)) => live().err(),
                        (None, None) => None,
                    };
                    why_not.map(|why| format!("{}: {why}", c.name))
                })
                .collect()
        });
        let pool = self.redis.lock().unwrap_or_else(|p| p.into_inner()).clone();
        if let Some(pool) = pool {
            if let Err(why) = ping(&pool).await {
                unmet.push(format!("redis: {why}"));
            }
        }
        if unmet.is_empty() {
            Ok(())
        } else {
            Err(unmet)
        }
    }
}

async fn ping(pool: &Pool) -> Result<(), String> {
    let ping = async {
        let mut conn = pool.get().await.map_err(|e| e.to_string())?;
        redis::cmd("PING").query_async::<String>(&mut conn).await.map_err(|e| e.to_string())
    };
    match tokio::time::timeout(REDIS_PING_TIMEOUT, ping).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(format!("no answer to PING: {e}")),
        Err(_) => Err(format!("no answer to PING within {} s", REDIS_PING_TIMEOUT.as_secs())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn unmet_until_every_condition_is_met() {
        let readiness = Readiness::default();
        assert_eq!(readiness.check().await, Ok(()), "nothing required");
        readiness.require(&["broker", "consuming"]);
        assert_eq!(
            readiness.check().await,
            Err(vec!["broker: starting".to_owned(), "consuming: starting".to_owned()])
        );
        readiness.ready("broker");
        readiness.not_ready("consuming", "waiting for Jobber");
        assert_eq!(readiness.check().await, Err(vec!["consuming: waiting for Jobber".to_owned()]));
        readiness.require(&["broker"]);
        readiness.ready("consuming");
        assert_eq!(readiness.check().await, Ok(()));
        readiness.not_ready("broker", "lost the connection");
        assert_eq!(readiness.check().await, Err(vec!["broker: lost the connection".to_owned()]));

        let connected = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
        let status = connected.clone();
        readiness.ready_while("broker", move || {
            if status.load(std::sync::atomic::Ordering::SeqCst) {
                Ok(())
            } else {
                Err("connection lost".to_owned())
            }
        });
        assert_eq!(readiness.check().await, Ok(()));
        connected.store(false, std::sync::atomic::Ordering::SeqCst);
        assert_eq!(readiness.check().await, Err(vec!["broker: connection lost".to_owned()]));
    }

    #[tokio::test]
    async fn redis_that_does_not_answer_is_a_reason() {
        let readiness = Readiness::default();
        // Nothing listens on port 1.
        let settings = crate::config::RedisSettings {
            url: crate::config::SecretUrl::parse("redis://127.0.0.1:1/0").unwrap(),
        };
        readiness.require_redis(crate::store::pool(&settings).unwrap());
        let unmet = readiness.check().await.unwrap_err();
        assert_eq!(unmet.len(), 1, "{unmet:?}");
        assert!(unmet[0].starts_with("redis: no answer to PING"), "{unmet:?}");
    }
}
