//! `[health]`: where a long-running process (`sj-poller`, `sj-worker`, `sj-alerter`) serves
//! `/healthz`, `/readyz` and `/metrics` (docs/operations.md, "Health and metrics").

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// `[health]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HealthSettings {
    /// `IP:port` to listen on (`SJ_HEALTH__LISTEN`). Port 0 (the default) takes any free port,
    /// so any number of processes run side by side on one host; the address is logged at start
    /// and written to `address_file`. Give a fixed port where something scrapes it
    /// (`0.0.0.0:9600` in a container).
    pub listen: SocketAddr,
    /// Where the bound address (`IP:port`) is written once listening
    /// (`SJ_HEALTH__ADDRESS_FILE`), so `sjctl probe` (a container's health check) finds a process
    /// whose port was 0. None: not written.
    pub address_file: Option<PathBuf>,
}

impl Default for HealthSettings {
    fn default() -> Self {
        Self { listen: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)), address_file: None }
    }
}

impl HealthSettings {
    pub(super) fn validate(&self, problems: &mut Vec<String>) {
        if let Some(file) = &self.address_file {
            if file.as_os_str().is_empty() || file.file_name().is_none() {
                problems.push(format!("health.address_file: {:?} must name a file", file.display()));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use figment::providers::{Env, Serialized};
    use figment::Figment;

    use super::*;

    #[test]
    fn any_free_port_on_loopback_by_default() {
        let settings = HealthSettings::default();
        assert_eq!(settings.listen.to_string(), "127.0.0.1:0");
        let mut problems = Vec::new();
        settings.validate(&mut problems);
        assert!(problems.is_empty());
    }

    #[test]
    fn read_from_the_environment() {
        std::env::set_var("SJT_HEALTH_LISTEN", "0.0.0.0:9600");
        std::env::set_var("SJT_HEALTH_ADDRESS_FILE", "/run/sj/health.addr");
        let settings: HealthSettings = Figment::from(Serialized::defaults(HealthSettings::default()))
            .merge(Env::prefixed("SJT_HEALTH_"))
            .extract()
            .unwrap();
        assert_eq!(settings.listen, "0.0.0.0:9600".parse().unwrap());
        assert_eq!(settings.address_file, Some(PathBuf::from("/run/sj/health.addr")));

        std::env::set_var("SJT_HEALTH2_LISTEN", "localhost:9600");
        let err = Figment::from(Serialized::defaults(HealthSettings::default()))
            .merge(Env::prefixed("SJT_HEALTH2_"))
            .extract::<HealthSettings>()
            .unwrap_err();
        assert!(err.to_string().contains("socket address"), "{err}");
    }
}
