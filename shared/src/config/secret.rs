//! Values that must never be printed: [`Secret`] (a password, a token, a client secret) and
//! [`SecretUrl`] (a service's URL that may carry a password, as RabbitMQ's and Redis' do).
//!
//! Both print a placeholder in place of the secret in `Debug` and `Display`, so a setting can go
//! into a log line, an error or `--check-config` without a thought; the value itself is reached
//! only through a method named `expose`, so every use is easy to find.

use std::fmt;

use percent_encoding::percent_decode_str;
use serde::Deserialize;

/// What a secret prints as.
pub const HIDDEN: &str = "***";

/// A secret value. `Debug` and `Display` print a placeholder; [`Secret::expose`] is the one way
/// to the value, so every use is easy to find.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret(\"{HIDDEN}\")")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(HIDDEN)
    }
}

/// A URL with a host that may hold credentials (`amqp://user:password@host:5672/vhost`,
/// `redis://:password@host:6379/0`), parsed once when the configuration is read. `Debug` and
/// `Display` show it with the password replaced by `***` (`amqp://user:***@host:5672/vhost`);
/// [`SecretUrl::expose`] gives the whole URL to the client library that connects with it.
///
/// The scheme is not checked here (each setting accepts its own: see
/// [`SecretUrl::has_scheme`]); a URL without a host is refused.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretUrl {
    url: url::Url,
}

impl SecretUrl {
    /// Parses `text`. The error never repeats the text (it may hold a password): it says what is
    /// wrong and shows the expected form.
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let url = url::Url::parse(text)
            .map_err(|e| format!("not a URL such as scheme://user:password@host:port/path ({e})"))?;
        if url.cannot_be_a_base() || url.host_str().is_none_or(str::is_empty) {
            return Err("not a URL with a host, such as scheme://user:password@host:port/path".to_owned());
        }
        Ok(Self { url })
    }

    /// The whole URL, password included, for the library that connects with it. Never print it.
    pub fn expose(&self) -> &str {
        self.url.as_str()
    }

    /// The scheme, in lower case (`amqp`, `amqps`, `redis`…).
    pub fn scheme(&self) -> &str {
        self.url.scheme()
    }

    /// Whether the scheme is one of `schemes`.
    pub fn has_scheme(&self, schemes: &[&str]) -> bool {
        schemes.contains(&self.scheme())
    }

    /// The host as written (a name, an IPv4 address, or an IPv6 address in brackets).
    pub fn host(&self) -> &str {
        self.url.host_str().unwrap_or_default()
    }

    /// The port, when the URL names one.
    pub fn port(&self) -> Option<u16> {
        self.url.port()
    }

    /// The user name, percent-decoded (`""` when the URL has none).
    pub fn username(&self) -> String {
        percent_decode_str(self.url.username()).decode_utf8_lossy().into_owned()
    }

    /// The password, percent-decoded, when the URL has one.
    pub fn password(&self) -> Option<Secret> {
        self.url.password().map(|p| Secret::new(percent_decode_str(p).decode_utf8_lossy()))
    }

    /// The path without its leading `/` and as written (percent-encoded): an AMQP URL's virtual
    /// host (`%2f` for `/`), a Redis URL's database number; `""` when there is none.
    pub fn path(&self) -> &str {
        self.url.path().trim_start_matches('/')
    }

    /// `host:port/path`, without scheme, credentials or query: what to show of where a process
    /// connects (`127.0.0.1:5672/%2f`).
    pub fn endpoint(&self) -> String {
        let mut out = self.host().to_owned();
        if let Some(port) = self.port() {
            out.push_str(&format!(":{port}"));
        }
        out.push_str(self.url.path());
        out
    }

    /// The URL with `***` in place of the password (the user name stays).
    pub fn redacted(&self) -> String {
        let mut url = self.url.clone();
        if url.password().is_some() {
            // Only a URL that cannot be a base, or has no host, refuses a password: refused above.
            let _ = url.set_password(Some(HIDDEN));
        }
        url.into()
    }
}

impl std::str::FromStr for SecretUrl {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        Self::parse(text)
    }
}

impl fmt::Debug for SecretUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.redacted(), f)
    }
}

impl fmt::Display for SecretUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

impl<'de> Deserialize<'de> for SecretUrl {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_prints_a_placeholder() {
        let secret = Secret::new("hunter2");
        assert_eq!(format!("{secret} {secret:?}"), "*** Secret(\"***\")");
        assert_eq!(secret.expose(), "hunter2");
    }

    #[test]
    fn a_url_prints_without_its_password() {
        let url = SecretUrl::parse("amqp://bridge:p%40ss-XYZ@mq.example:5672/%2f?heartbeat=30").unwrap();
        assert_eq!(url.to_string(), "amqp://bridge:***@mq.example:5672/%2f?heartbeat=30");
        assert_eq!(format!("{url:?}"), "\"amqp://bridge:***@mq.example:5672/%2f?heartbeat=30\"");
        assert_eq!(format!("{url:#?}"), "\"amqp://bridge:***@mq.example:5672/%2f?heartbeat=30\"");
        assert_eq!(url.expose(), "amqp://bridge:p%40ss-XYZ@mq.example:5672/%2f?heartbeat=30");
        assert_eq!(url.username(), "bridge");
        assert_eq!(url.password().unwrap().expose(), "p@ss-XYZ");
        assert_eq!(
            (url.scheme(), url.host(), url.port(), url.path()),
            ("amqp", "mq.example", Some(5672), "%2f")
        );
        assert_eq!(url.endpoint(), "mq.example:5672/%2f");
        assert!(url.has_scheme(&["amqp", "amqps"]));

        let redis = SecretUrl::parse("redis://:s3cret-XYZ@db:6379/2").unwrap();
        assert_eq!(redis.to_string(), "redis://:***@db:6379/2");
        assert_eq!((redis.username().as_str(), redis.path()), ("", "2"));
        assert_eq!(redis.endpoint(), "db:6379/2");
    }

    #[test]
    fn a_url_without_credentials_or_path_is_kept_as_is() {
        let url = SecretUrl::parse("amqp://mq").unwrap();
        assert_eq!((url.to_string().as_str(), url.endpoint().as_str(), url.path()), ("amqp://mq", "mq", ""));
        assert!(url.password().is_none());
        let url = SecretUrl::parse("redis://127.0.0.1:6379/0").unwrap();
        assert_eq!(url.expose(), "redis://127.0.0.1:6379/0");
        let url = SecretUrl::parse("amqps://u:p@[::1]:5671/prod").unwrap();
        assert_eq!((url.host(), url.endpoint().as_str()), ("[::1]", "[::1]:5671/prod"));
    }

    #[test]
    fn a_malformed_url_is_refused_without_repeating_it() {
        for text in ["amqp://u:PW-XYZ@mq:notaport/%2f", "amqp:PW-XYZ", "PW-XYZ", "redis://:PW-XYZ@/0", ""] {
            let e = SecretUrl::parse(text).unwrap_err();
            assert!(!e.contains("PW-XYZ"), "{e}");
            assert!(e.contains("scheme://user:password@host"), "{e}");
        }
    }
}
