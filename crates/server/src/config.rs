//! [`HttpSettings`]: the `http` section of `citybrain serve`'s JSON configuration, every
//! field optional (the [`HttpConfig`] defaults apply), unknown fields refused.
//!
//! ```json
//! "http": {"max_connections": 1024, "header_read_timeout_s": 10, "idle_timeout_s": 120,
//!          "max_body_bytes": 16777216, "ws_max_clients": 256, "ws_max_message_bytes": 65536,
//!          "ws_allowed_origins": ["https://ops.example.org"],
//!          "history_max_window_s": 604800, "events_max_window_s": 86400}
//! ```

use std::time::Duration;

use serde::Deserialize;

use crate::HttpConfig;

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct HttpSettings {
    pub max_body_bytes: Option<usize>,
    pub max_connections: Option<usize>,
    pub header_read_timeout_s: Option<f64>,
    pub idle_timeout_s: Option<f64>,
    pub ws_max_clients: Option<usize>,
    pub ws_max_message_bytes: Option<usize>,
    #[serde(default)]
    pub ws_allowed_origins: Vec<String>,
    pub history_default_window_s: Option<f64>,
    pub history_max_window_s: Option<f64>,
    pub events_default_window_s: Option<f64>,
    pub events_max_window_s: Option<f64>,
    pub rejected_max_limit: Option<usize>,
}

/// A setting out of range, naming it.
#[derive(Debug, thiserror::Error, PartialEq)]
#[error("http.{field}: {message}")]
pub struct SettingsError {
    pub field: &'static str,
    pub message: String,
}

impl HttpSettings {
    /// The defaults with these settings applied.
    pub fn apply(&self, mut c: HttpConfig) -> Result<HttpConfig, SettingsError> {
        let positive = |field: &'static str, v: f64| {
            if v.is_finite() && v > 0.0 {
                Ok(v)
            } else {
                Err(SettingsError { field, message: format!("must be a positive number of seconds, got {v}") })
            }
        };
        let at_least_one = |field: &'static str, v: usize| {
            if v >= 1 {
                Ok(v)
            } else {
                Err(SettingsError { field, message: "must be at least 1".into() })
            }
        };
        if let Some(v) = self.max_body_bytes {
            c.max_body_bytes = at_least_one("max_body_bytes", v)?;
        }
        if let Some(v) = self.max_connections {
            c.max_connections = at_least_one("max_connections", v)?;
        }
        if let Some(v) = self.header_read_timeout_s {
            c.header_read_timeout = Duration::from_secs_f64(positive("header_read_timeout_s", v)?);
        }
        if let Some(v) = self.idle_timeout_s {
            c.idle_timeout = Duration::from_secs_f64(positive("idle_timeout_s", v)?);
        }
        if let Some(v) = self.ws_max_clients {
            c.ws_max_clients = at_least_one("ws_max_clients", v)?;
        }
        if let Some(v) = self.ws_max_message_bytes {
            c.ws_max_message_bytes = at_least_one("ws_max_message_bytes", v)?;
        }
        for o in &self.ws_allowed_origins {
            if !(o.starts_with("http://") || o.starts_with("https://")) {
                return Err(SettingsError { field: "ws_allowed_origins", message: format!("{o:?} is not an http(s) origin") });
            }
        }
        c.ws_allowed_origins.extend(self.ws_allowed_origins.iter().cloned());
        if let Some(v) = self.history_default_window_s {
            c.history_default_window_s = positive("history_default_window_s", v)?;
        }
        if let Some(v) = self.history_max_window_s {
            c.history_max_window_s = positive("history_max_window_s", v)?;
        }
        if let Some(v) = self.events_default_window_s {
            c.events_default_window_s = positive("events_default_window_s", v)?;
        }
        if let Some(v) = self.events_max_window_s {
            c.events_max_window_s = positive("events_max_window_s", v)?;
        }
        if let Some(v) = self.rejected_max_limit {
            c.rejected_max_limit = at_least_one("rejected_max_limit", v)?;
            c.rejected_default_limit = c.rejected_default_limit.min(c.rejected_max_limit);
        }
        Ok(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_apply_and_are_checked() {
        let s: HttpSettings =
            serde_json::from_str(r#"{"ws_max_clients": 3, "idle_timeout_s": 1.5, "ws_allowed_origins": ["https://a.example"]}"#)
                .unwrap();
        let c = s.apply(HttpConfig::default()).unwrap();
        assert_eq!((c.ws_max_clients, c.idle_timeout), (3, Duration::from_millis(1500)));
        assert_eq!(c.ws_allowed_origins, vec!["https://a.example".to_string()]);
        assert!(serde_json::from_str::<HttpSettings>(r#"{"ws_max_client": 3}"#).is_err(), "a typo is refused");
        let bad: HttpSettings = serde_json::from_str(r#"{"idle_timeout_s": 0}"#).unwrap();
        assert_eq!(bad.apply(HttpConfig::default()).unwrap_err().field, "idle_timeout_s");
        let bad: HttpSettings = serde_json::from_str(r#"{"ws_allowed_origins": ["evil.example"]}"#).unwrap();
        assert_eq!(bad.apply(HttpConfig::default()).unwrap_err().field, "ws_allowed_origins");
    }
}
