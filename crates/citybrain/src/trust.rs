//! `citybrain audit verify`, `citybrain accounts add`, and the governance set-up of
//! `demo` and `serve` (demo departments and accounts; refusing to bind beyond loopback
//! without authentication).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result};
use brain::{Caller, Role, Scopes};
use clap::{Args, Subcommand};
use governance::{GovConfig, Governance};

#[derive(Args, Debug)]
pub struct AuditArgs {
    #[command(subcommand)]
    pub cmd: AuditCmd,
}

#[derive(Subcommand, Debug)]
pub enum AuditCmd {
    /// Check the hash chain of the audit log; name the first broken record.
    Verify {
        /// Data directory of the brain (its `audit.log`), or the log file itself.
        #[arg(long, default_value = "citybrain-data")]
        data_dir: PathBuf,
    },
}

#[derive(Args, Debug)]
pub struct AccountsArgs {
    #[command(subcommand)]
    pub cmd: AccountsCmd,
}

#[derive(Subcommand, Debug)]
pub enum AccountsCmd {
    /// Create (or reset) an account; prints its password (users) or a token (services).
    Add {
        #[arg(long, default_value = "citybrain-data")]
        data_dir: PathBuf,
        #[arg(long)]
        name: String,
        /// Department id (`traffic-police`, `transport-bureau`, ...).
        #[arg(long)]
        department: String,
        /// `viewer`, `operator`, `admin` or `service`.
        #[arg(long)]
        role: String,
        /// Days the service token is valid.
        #[arg(long, default_value_t = 90.0)]
        token_days: f64,
    },
    /// Write a Mosquitto ACL (`acl_file`) for the brain's MQTT topics: every account
    /// reads its own department's error topic, service accounts publish on their
    /// department's topics, the open topics are read-only for everyone, the bridge
    /// user reads and writes everything under the prefix.
    MqttAcl {
        #[arg(long, default_value = "citybrain-data")]
        data_dir: PathBuf,
        /// First topic level (the `mqtt.prefix` of the serve configuration).
        #[arg(long, default_value = "citybrain")]
        prefix: String,
        /// The bridge's user name at the broker (`mqtt.username`).
        #[arg(long, default_value = "citybrain")]
        brain_user: String,
        /// Write here instead of standard output.
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

pub fn audit(a: &AuditArgs) -> Result<()> {
    match &a.cmd {
        AuditCmd::Verify { data_dir } => {
            let path = if data_dir.is_dir() { data_dir.join(governance::audit::AUDIT_FILE) } else { data_dir.clone() };
            match governance::audit::verify(&path)? {
                Ok((n, head)) => {
                    println!("audit log {}: intact, {n} records, head {head}", path.display());
                    Ok(())
                }
                Err(b) => {
                    eprintln!("audit log {}: {b}", path.display());
                    std::process::exit(2);
                }
            }
        }
    }
}

pub fn accounts(a: &AccountsArgs) -> Result<()> {
    match &a.cmd {
        AccountsCmd::Add { data_dir, name, department, role, token_days } => {
            let gov = Governance::open(GovConfig::new(data_dir))?;
            let role = Role::parse(role).with_context(|| format!("--role: viewer, operator, admin or service, got {role}"))?;
            let sys = Caller::system();
            if role == Role::Service {
                gov.put_principal(&sys, name, department, role, None)?;
                let t = gov.issue_token(&sys, name, Scopes::READ.union(Scopes::WRITE), token_days * 86_400.0, "cli")?;
                println!("service account {name} ({department}); token (shown once): {t}");
            } else {
                let pw = governance::secret::random_password();
                gov.put_principal(&sys, name, department, role, Some(&pw))?;
                println!("user {name} ({department}, {}); password (shown once): {pw}", role.as_str());
            }
            Ok(())
        }
        AccountsCmd::MqttAcl { data_dir, prefix, brain_user, out } => {
            let gov = Governance::open(GovConfig::new(data_dir))?;
            let accounts: Vec<mqtt::acl::AclAccount> = gov
                .accounts()
                .into_iter()
                .map(|(name, department, role)| mqtt::acl::AclAccount { name, department, service: role == Role::Service })
                .collect();
            let acl = mqtt::acl::mosquitto_acl(prefix, brain_user, &accounts)?;
            match out {
                Some(p) => {
                    std::fs::write(p, acl).with_context(|| format!("writing {}", p.display()))?;
                    eprintln!("wrote {} ({} accounts)", p.display(), accounts.len());
                }
                None => print!("{acl}"),
            }
            Ok(())
        }
    }
}

/// Open governance in `data_dir` with the serve configuration's settings.
pub fn open(
    data_dir: &Path,
    oidc: Option<governance::oidc::OidcConfig>,
    retention: Option<governance::RetentionPolicy>,
) -> Result<Arc<Governance>> {
    let mut cfg = GovConfig::new(data_dir);
    cfg.oidc = oidc;
    if let Some(r) = retention {
        cfg.retention = r;
    }
    Ok(Arc::new(Governance::open(cfg).context("opening governance")?))
}

/// A fresh server must not be reachable beyond loopback without authentication.
pub fn check_bind(addr: &std::net::SocketAddr, gov: &Governance) -> Result<()> {
    if !addr.ip().is_loopback() && !gov.has_accounts() {
        anyhow::bail!(
            "refusing to listen on {addr} beyond loopback: no accounts are configured, so nobody could be \
             authenticated. Create them with `citybrain accounts add --data-dir ...` (or configure OpenID Connect), \
             or bind 127.0.0.1"
        );
    }
    Ok(())
}

/// The demo's accounts: (name, department, role).
pub const DEMO_ACCOUNTS: [(&str, &str, Role); 11] = [
    ("tp.admin", "traffic-police", Role::Admin),
    ("tp.operator", "traffic-police", Role::Operator),
    ("tp.cameras", "traffic-police", Role::Service),
    ("tb.admin", "transport-bureau", Role::Admin),
    ("tb.analyst", "transport-bureau", Role::Viewer),
    ("tb.loops", "transport-bureau", Role::Service),
    ("es.operator", "emergency-services", Role::Operator),
    ("env.analyst", "environment", Role::Viewer),
    ("hotline.operator", "city-hotline", Role::Operator),
    ("taxi.feed", "taxi-company", Role::Service),
    ("cdo.admin", "city-data-office", Role::Admin),
];

/// Create (or reset) the demo accounts and print how to log in. Passwords and tokens
/// are new random values on every start and exist only in this output.
pub fn demo_accounts(gov: &Governance, base_url: &str) -> Result<()> {
    let sys = Caller::system();
    println!("demo accounts (new random passwords and tokens on every start; shown only here):");
    for (name, dept, role) in DEMO_ACCOUNTS {
        if role == Role::Service {
            gov.put_principal(&sys, name, dept, role, None)?;
            let t = gov.issue_token(&sys, name, Scopes::READ.union(Scopes::WRITE), 86_400.0, "demo")?;
            println!("  service {name:<17} {dept:<19} token {t}");
        } else {
            let pw = governance::secret::random_password();
            gov.put_principal(&sys, name, dept, role, Some(&pw))?;
            println!("  user    {name:<17} {dept:<19} {:<9} password {pw}", role.as_str());
        }
    }
    println!("log in at {base_url}login.html; report a problem at {base_url}citizen.html");
    println!("API: curl -H 'Authorization: Bearer <token>' {base_url}api/v1/auth/me");
    Ok(())
}

/// Create (or reset) a service account in `data_dir`'s governance and return a fresh
/// token for it (benchmarks and durability runs that post over HTTP).
pub fn service_token(data_dir: &Path, name: &str, department: &str) -> Result<String> {
    let gov = Governance::open(GovConfig::new(data_dir))?;
    let sys = Caller::system();
    gov.put_principal(&sys, name, department, Role::Service, None)?;
    Ok(gov.issue_token(&sys, name, Scopes::READ.union(Scopes::WRITE), 86_400.0, "bench")?)
}

/// `citybrain bench --auth N`: the authorisation path timed in-process, per request:
/// the credential resolved to a caller (as the HTTP middleware does) and the decision
/// (with its audit record when the data is not public).
pub fn bench_auth(n: usize) -> Result<()> {
    use axum::http::{HeaderMap, HeaderValue, Method};
    use brain::Action;
    let dir = std::env::temp_dir().join(format!("citybrain-bench-auth-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut cfg = GovConfig::new(&dir);
    cfg.pbkdf2_iterations = 1000;
    let gov = Arc::new(Governance::open(cfg)?);
    let sys = Caller::system();
    gov.put_principal(&sys, "tb.loops", "transport-bureau", Role::Service, None)?;
    gov.put_principal(&sys, "tb.analyst", "transport-bureau", Role::Viewer, Some("bench password"))?;
    gov.put_principal(&sys, "tp.admin", "traffic-police", Role::Admin, Some("bench password"))?;
    let token = gov.issue_token(&sys, "tb.loops", Scopes::READ.union(Scopes::WRITE), 3600.0, "bench")?;
    let session = gov.login("tb.analyst", "bench password")?;
    let admin = gov.login("tp.admin", "bench password")?.caller;
    gov.grant(&admin, governance::datasets::SIGNAL_EVENTS, "transport-bureau", "bench", brain::wall_clock() + 3600.0)?;
    let mut bearer = HeaderMap::new();
    bearer.insert("authorization", HeaderValue::from_str(&format!("Bearer {token}"))?);
    let mut cookie = HeaderMap::new();
    cookie.insert("cookie", HeaderValue::from_str(&format!("cb_session={}", session.id))?);
    let cases: [(&str, &HeaderMap, Action<'_>); 4] = [
        ("public, live state (no credential)", &HeaderMap::new(), Action::ReadLive),
        ("service token, sensor registry (internal, audited)", &bearer, Action::ReadSensors),
        ("session, signal events under a grant (audited)", &cookie, Action::ReadRaw { intersection: None }),
        ("service token, one record's sensor owner", &bearer, Action::IngestFor { sensor: "loop:x", owner: "transport-bureau" }),
    ];
    println!("## Authorisation per request, {n} requests per case (credential → caller → decision → audit)\n");
    println!("| case | p50 µs | p99 µs | max µs |\n|---|---|---|---|");
    for (name, headers, action) in cases {
        let mut t = Vec::with_capacity(n);
        for _ in 0..n {
            let s = std::time::Instant::now();
            let caller = server::auth::resolve(Some(&gov), &Method::GET, headers).map_err(|e| anyhow::anyhow!("{e}"))?;
            gov.decide(&caller, &action).map_err(|e| anyhow::anyhow!("{name}: {e}"))?;
            t.push(s.elapsed().as_secs_f64() * 1e6);
        }
        t.sort_by(f64::total_cmp);
        let p = |q: f64| t[((t.len() - 1) as f64 * q).round() as usize];
        println!("| {name} | {:.1} | {:.1} | {:.1} |", p(0.5), p(0.99), t[t.len() - 1]);
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
