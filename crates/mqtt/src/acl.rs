//! The broker's access control list: who may publish and subscribe to which of the
//! brain's topics. Pure text generation, no IO (`citybrain accounts mqtt-acl` writes it).
//!
//! The brain authenticates every record itself (a message carries its department's
//! token), but it cannot decide who *subscribes*: that is the broker's job. Without an
//! ACL any client of the broker could read every department's error topic (which names
//! its sensors, record ids and what was wrong with them) or publish on another
//! department's topic. The file this module writes, for Mosquitto's `acl_file`, gives:
//! - everyone, anonymous clients included: read of the open topics
//!   (`{prefix}/state/#`, `{prefix}/signals/#`, `{prefix}/incidents`, `{prefix}/events`;
//!   the bridge publishes there only what the public may read);
//! - each account (broker user name = citybrain account name): read of its own
//!   department's `{prefix}/{department}/errors`; service accounts also write to
//!   `{prefix}/{department}/observations` and `{prefix}/{department}/ngsi-ld`;
//! - the brain's bridge user: read and write under `{prefix}/#`.
//!
//! Nothing else: no account reads another department's errors or `{prefix}/errors`
//! (reports of messages that named no department, for the brain's operators), and no
//! one but the bridge publishes on the open topics.
//!
//! ## Invariants
//! - Every line of the file names a topic under `{prefix}/`; a name that could change
//!   the file's meaning (white space, a newline, `+`, `#`, `%`, `/`) is refused, never
//!   written.

use crate::topic::valid_department;
use crate::ConfigError;

/// An account the broker should know, as the governance holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AclAccount {
    pub name: String,
    pub department: String,
    /// Service accounts (gateways, devices, other systems) publish; users only read.
    pub service: bool,
}

/// First topic levels the brain uses itself; no department may have one of them as id.
const RESERVED: [&str; 5] = ["errors", "state", "signals", "incidents", "events"];

/// The open topics: readable by anyone who can connect.
pub fn open_topics(prefix: &str) -> [String; 4] {
    [format!("{prefix}/state/#"), format!("{prefix}/signals/#"), format!("{prefix}/incidents"), format!("{prefix}/events")]
}

/// Whether `s` can stand in an ACL line as a user name: the governance's account names
/// (letters, digits, `-_.:@`), nothing that splits a line or matches topics.
fn valid_user(s: &str) -> bool {
    !s.is_empty() && s.len() <= 64 && s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':' | '@'))
}

/// Mosquitto's `acl_file` for the brain's topics under `prefix`, with `brain_user` the
/// bridge's broker user. Accounts are written in name order (the file is deterministic).
/// Disabled accounts must not be passed. A user name or department that could change
/// the file's meaning is an error naming it.
pub fn mosquitto_acl(prefix: &str, brain_user: &str, accounts: &[AclAccount]) -> Result<String, ConfigError> {
    let ok_prefix = !prefix.is_empty()
        && !prefix.starts_with('/')
        && !prefix.ends_with('/')
        && !prefix.chars().any(|c| c.is_whitespace() || matches!(c, '+' | '#' | '%' | '\0'));
    if !ok_prefix {
        return Err(ConfigError(format!("prefix {prefix:?}: a topic level without white space, +, # or %")));
    }
    if !valid_user(brain_user) {
        return Err(ConfigError(format!("brain user {brain_user:?}: 1-64 letters, digits, - _ . : @")));
    }
    let mut accounts: Vec<&AclAccount> = accounts.iter().collect();
    accounts.sort_by(|a, b| a.name.cmp(&b.name));
    let mut out = format!(
        "# Mosquitto ACL for citybrain's topics under {prefix}/ (written by `citybrain accounts mqtt-acl`).\n\
         # Broker user names are citybrain account names; set their passwords with mosquitto_passwd.\n\
         #\n\
         # Everyone, anonymous clients included: the open topics (the brain publishes only public data there).\n"
    );
    for t in open_topics(prefix) {
        out.push_str(&format!("pattern read {t}\n"));
    }
    out.push_str(&format!("\n# The brain's bridge.\nuser {brain_user}\ntopic readwrite {prefix}/#\n"));
    for a in accounts {
        if !valid_user(&a.name) {
            return Err(ConfigError(format!("account name {:?}: 1-64 letters, digits, - _ . : @", a.name)));
        }
        if !valid_department(&a.department) || RESERVED.contains(&a.department.as_str()) {
            return Err(ConfigError(format!("account {}: department {:?} cannot name a topic level", a.name, a.department)));
        }
        if a.name == brain_user {
            return Err(ConfigError(format!("account {} has the bridge's broker user name", a.name)));
        }
        let d = &a.department;
        out.push_str(&format!("\n# {} ({})\nuser {}\n", d, if a.service { "service" } else { "user" }, a.name));
        out.push_str(&format!("topic read {prefix}/{d}/errors\n"));
        if a.service {
            out.push_str(&format!("topic write {prefix}/{d}/observations\ntopic write {prefix}/{d}/ngsi-ld\n"));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn acc(name: &str, dept: &str, service: bool) -> AclAccount {
        AclAccount { name: name.into(), department: dept.into(), service }
    }

    /// (user or None for the pattern/anonymous part, access, topic) of every rule.
    fn rules(acl: &str) -> Vec<(Option<String>, String, String)> {
        let mut user = None;
        let mut out = Vec::new();
        for l in acl.lines().filter(|l| !l.starts_with('#') && !l.trim().is_empty()) {
            let w: Vec<&str> = l.split(' ').collect();
            match w[0] {
                "user" => user = Some(w[1].to_string()),
                "topic" => out.push((user.clone(), w[1].to_string(), w[2].to_string())),
                "pattern" => out.push((None, w[1].to_string(), w[2].to_string())),
                other => panic!("unexpected line {other:?}"),
            }
        }
        out
    }

    #[test]
    fn departments_get_only_their_own_topics() {
        let acl = mosquitto_acl(
            "cb",
            "citybrain",
            &[acc("tb.loops", "transport-bureau", true), acc("tp.viewer", "traffic-police", false)],
        )
        .unwrap();
        let r = rules(&acl);
        let of = |u: &str| r.iter().filter(|x| x.0.as_deref() == Some(u)).map(|x| (x.1.clone(), x.2.clone())).collect::<Vec<_>>();
        assert_eq!(
            of("tb.loops"),
            vec![
                ("read".into(), "cb/transport-bureau/errors".into()),
                ("write".into(), "cb/transport-bureau/observations".into()),
                ("write".into(), "cb/transport-bureau/ngsi-ld".into()),
            ]
        );
        assert_eq!(of("tp.viewer"), vec![("read".into(), "cb/traffic-police/errors".into())]);
        assert_eq!(of("citybrain"), vec![("readwrite".into(), "cb/#".into())]);
        let public: Vec<_> = r.iter().filter(|x| x.0.is_none()).collect();
        assert_eq!(public.len(), 4);
        assert!(public.iter().all(|x| x.1 == "read" && !x.2.contains("errors")));
    }

    #[test]
    fn names_that_could_change_the_file_are_refused() {
        for bad in ["a\nuser x", "a b", "a#", "a+", "", "a/b"] {
            assert!(mosquitto_acl("cb", "citybrain", &[acc(bad, "transport-bureau", true)]).is_err(), "{bad:?}");
            assert!(mosquitto_acl("cb", "citybrain", &[acc("ok", bad, true)]).is_err(), "{bad:?}");
        }
        for reserved in RESERVED {
            assert!(mosquitto_acl("cb", "citybrain", &[acc("ok", reserved, true)]).is_err(), "{reserved}");
        }
        assert!(mosquitto_acl("cb/#", "citybrain", &[]).is_err());
        assert!(mosquitto_acl("cb", "citybrain x", &[]).is_err());
        assert!(mosquitto_acl("cb", "citybrain", &[acc("citybrain", "transport-bureau", true)]).is_err());
    }

    proptest! {
        /// Whatever the accounts, every rule is under the prefix, the public part is
        /// read-only, and an account's rules name only its own department.
        #[test]
        fn no_rule_outside_the_account_department(
            names in proptest::collection::vec(("[a-z.@:_-]{1,8}", "[a-z0-9._-]{1,8}", any::<bool>()), 0..8)
        ) {
            let accounts: Vec<AclAccount> = names.iter().enumerate()
                .map(|(i, (n, d, s))| acc(&format!("{n}{i}"), d, *s)).collect();
            let Ok(acl) = mosquitto_acl("cb", "brain", &accounts) else { return Ok(()) };
            for (user, access, topic) in rules(&acl) {
                prop_assert!(topic.starts_with("cb/"));
                match user.as_deref() {
                    None => prop_assert_eq!(access.as_str(), "read"),
                    Some("brain") => {}
                    Some(u) => {
                        let a = accounts.iter().find(|a| a.name == u).unwrap();
                        let own = format!("cb/{}/", a.department);
                        prop_assert!(topic.starts_with(&own), "{} got {}", u, topic);
                        prop_assert!(a.service || access == "read");
                    }
                }
            }
        }
    }
}
