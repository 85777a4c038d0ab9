//! [`HumanDuration`]: how every duration setting is written (`"5s"`, `"30m"`, `"1h 30m"`).

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// A duration written the human way in the configuration: `"5s"`, `"30m"`, `"1h 30m"`, `"250ms"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HumanDuration(pub Duration);

impl Serialize for HumanDuration {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&humantime::format_duration(self.0).to_string())
    }
}

impl<'de> Deserialize<'de> for HumanDuration {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        humantime::parse_duration(&text).map(HumanDuration).map_err(|e| {
            serde::de::Error::custom(format!("{text:?} is not a duration such as \"5s\" or \"30m\" ({e})"))
        })
    }
}

/// `n` seconds, for the sections' defaults.
pub(super) fn secs(n: u64) -> HumanDuration {
    HumanDuration(Duration::from_secs(n))
}
