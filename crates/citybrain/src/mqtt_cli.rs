//! The MQTT bridge's settings in `serve`'s configuration and on the command line
//! (`--mqtt HOST:PORT`), and starting it (see the `mqtt` crate). Off unless asked for.

use std::collections::HashMap;
use std::sync::Arc;

use anyhow::{anyhow, Result};
use serde::Deserialize;

/// `mqtt` of the `serve` configuration.
#[derive(Deserialize, Debug, Clone, Default)]
#[serde(deny_unknown_fields)]
pub struct MqttSettings {
    /// `host:port` of the broker (e.g. `127.0.0.1:1883`).
    pub broker: Option<String>,
    /// Fixed client id of the brain's persistent session (default `citybrain`).
    pub client_id: Option<String>,
    /// First topic level (default `citybrain`).
    pub prefix: Option<String>,
    /// Milliseconds publishes are gathered before one commit (default 5).
    pub batch_window_ms: Option<u64>,
    /// Largest accepted message body, bytes (default 16 MiB).
    pub max_payload_bytes: Option<usize>,
    /// Per department, the service token for messages that carry none (a private
    /// broker whose ACLs bind topics to devices).
    #[serde(default)]
    pub department_tokens: HashMap<String, String>,
    /// Publish live state, signals, incidents (default true).
    pub publish: Option<bool>,
    /// The bridge's user name at the broker (a broker with `password_file` and the ACL
    /// of `citybrain accounts mqtt-acl`).
    pub username: Option<String>,
    /// Name of the environment variable holding that user's password (default
    /// `CITYBRAIN_MQTT_PASSWORD`); the password is never written in the configuration.
    pub password_env: Option<String>,
}

impl MqttSettings {
    /// The bridge's configuration; `broker` (from `--mqtt`) overrides the file's.
    pub fn config(&self, broker: Option<&str>) -> Result<Option<mqtt::MqttConfig>> {
        let Some(addr) = broker.or(self.broker.as_deref()) else { return Ok(None) };
        let mut c = mqtt::MqttConfig::new(addr)?;
        if let Some(v) = &self.client_id {
            c.client_id = v.clone();
        }
        if let Some(v) = &self.prefix {
            c.prefix = v.clone();
        }
        if let Some(ms) = self.batch_window_ms {
            anyhow::ensure!(ms <= 10_000, "mqtt.batch_window_ms: at most 10000, got {ms}");
            c.batch_window = std::time::Duration::from_millis(ms);
        }
        if let Some(v) = self.max_payload_bytes {
            c.max_payload_bytes = v;
        }
        if let Some(v) = self.publish {
            c.publish = v;
        }
        c.department_tokens = self.department_tokens.clone();
        if let Some(user) = &self.username {
            let var = self.password_env.as_deref().unwrap_or("CITYBRAIN_MQTT_PASSWORD");
            let password = std::env::var(var)
                .map_err(|_| anyhow!("mqtt.username is set: the broker password must be in the environment variable {var}"))?;
            c.login = Some(mqtt::BrokerLogin { user: user.clone(), password });
        } else if self.password_env.is_some() {
            anyhow::bail!("mqtt.password_env without mqtt.username");
        }
        c.check()?;
        Ok(Some(c))
    }
}

/// Start the bridge for `brain`, authenticating devices' tokens with `gov`.
pub fn start(brain: &Arc<brain::Brain>, cfg: mqtt::MqttConfig, gov: Arc<governance::Governance>) -> Result<mqtt::Bridge> {
    let (host, port) = (cfg.host.clone(), cfg.port);
    let bridge = mqtt::Bridge::start(brain, cfg, gov).map_err(|e| anyhow!("{e}"))?;
    eprintln!("MQTT bridge to {host}:{port} (devices publish to <prefix>/<department>/observations)");
    Ok(bridge)
}
