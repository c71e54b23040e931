//! [`Governance`]: accounts, credentials, sessions, the catalogue and grants.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Mutex, RwLock, RwLockReadGuard};

use brain::{Action, Caller, Role, Scopes};
use rusqlite::Connection;
use serde::Serialize;

use crate::audit::{AuditKind, AuditLog, Entry, AUDIT_FILE};
use crate::db::{self, Cache, DB_FILE};
use crate::error::GovError;
use crate::limit::{Limiter, LoginLimits};
use crate::model::*;
use crate::oidc::OidcConfig;
use crate::retention::RetentionPolicy;
use crate::secret;

/// How governance is set up.
#[derive(Clone, Debug)]
pub struct GovConfig {
    /// Directory of `governance.sqlite` and `audit.log`.
    pub data_dir: PathBuf,
    /// PBKDF2 iterations for new password hashes.
    pub pbkdf2_iterations: u32,
    /// Seconds a dashboard session lives.
    pub session_ttl_s: f64,
    /// Longest lifetime of an API token, seconds.
    pub max_token_ttl_s: f64,
    pub retention: RetentionPolicy,
    /// OpenID Connect: accept JWTs of this issuer (keys from a JWKS file).
    pub oidc: Option<OidcConfig>,
    /// Failed logins allowed per account and per client address.
    pub login_limits: LoginLimits,
}

impl GovConfig {
    pub fn new(data_dir: impl Into<PathBuf>) -> GovConfig {
        GovConfig {
            data_dir: data_dir.into(),
            pbkdf2_iterations: secret::DEFAULT_PBKDF2_ITERATIONS,
            session_ttl_s: 8.0 * 3600.0,
            max_token_ttl_s: 400.0 * 86_400.0,
            retention: RetentionPolicy::default(),
            oidc: None,
            login_limits: LoginLimits::default(),
        }
    }
}

/// A dashboard session (server side; the browser holds only its random id).
#[derive(Clone, Debug)]
pub(crate) struct Session {
    pub principal: String,
    pub expires: f64,
}

/// The CSRF token of a session: derived from its id, so that nothing but the id's hash
/// is stored and a session reloaded after a restart keeps its token.
fn csrf_of(id: &str) -> String {
    let mut b = b"citybrain/csrf/".to_vec();
    b.extend_from_slice(id.as_bytes());
    secret::hex(&secret::sha256(&b)[..16])
}

/// A session just opened: the cookie value and the CSRF token for the page.
#[derive(Clone, Debug)]
pub struct NewSession {
    pub id: String,
    pub csrf: String,
    pub caller: Caller,
    pub expires: f64,
}

/// A token as listed (never its secret).
#[derive(Clone, Debug, Serialize)]
pub struct TokenInfo {
    pub id: String,
    pub principal: String,
    pub scopes: String,
    pub created: f64,
    pub expires: f64,
    pub revoked: Option<f64>,
    pub label: String,
}

/// The trust layer of a brain.
pub struct Governance {
    pub(crate) cfg: GovConfig,
    pub(crate) db: Mutex<Connection>,
    pub(crate) cache: RwLock<Cache>,
    pub(crate) sessions: Mutex<HashMap<[u8; 32], Session>>,
    pub(crate) limiter: Limiter,
    pub audit: AuditLog,
    /// The OpenID Connect issuer's keys, when configured.
    pub(crate) oidc: Option<crate::oidc::OidcVerifier>,
}

pub(crate) fn now() -> f64 {
    brain::wall_clock()
}

impl Governance {
    /// Open (or create) the governance store and the audit log in `cfg.data_dir`. A new
    /// store gets the default departments and the catalogue of the brain's datasets.
    pub fn open(cfg: GovConfig) -> Result<Governance, GovError> {
        std::fs::create_dir_all(&cfg.data_dir).map_err(GovError::io(&cfg.data_dir))?;
        let conn = db::open(&cfg.data_dir.join(DB_FILE))?;
        let mut cache = db::load(&conn)?;
        if cache.departments.is_empty() {
            for d in default_departments() {
                db::put_department(&conn, &d)?;
                cache.departments.insert(d.id.clone(), d);
            }
        }
        for d in default_datasets() {
            if !cache.datasets.contains_key(&d.name) {
                db::put_dataset(&conn, &d)?;
                cache.datasets.insert(d.name.clone(), d);
            }
        }
        let audit = AuditLog::open(&cfg.data_dir.join(AUDIT_FILE))?;
        let oidc = cfg.oidc.clone().map(crate::oidc::OidcVerifier::load).transpose()?;
        let sessions = db::load_sessions(&conn, now())?
            .into_iter()
            .map(|(k, principal, expires)| (k, Session { principal, expires }))
            .collect();
        Ok(Governance {
            limiter: Limiter::new(cfg.login_limits),
            cfg,
            db: Mutex::new(conn),
            cache: RwLock::new(cache),
            sessions: Mutex::new(sessions),
            audit,
            oidc,
        })
    }

    pub fn config(&self) -> &GovConfig {
        &self.cfg
    }

    pub(crate) fn cache(&self) -> RwLockReadGuard<'_, Cache> {
        self.cache.read().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn with_db<T>(&self, f: impl FnOnce(&Connection) -> Result<T, GovError>) -> Result<T, GovError> {
        f(&self.db.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// Append to the audit log; a failure is logged, never hidden from the operator.
    pub fn record(&self, e: Entry) {
        if let Err(err) = self.audit.append(now(), e) {
            tracing::error!("audit log: {err}");
        }
    }

    /// Whether any account exists (authentication is configured).
    pub fn has_accounts(&self) -> bool {
        !self.cache().principals.is_empty() || self.cfg.oidc.is_some()
    }

    pub fn departments(&self) -> Vec<Department> {
        self.cache().departments.values().cloned().collect()
    }

    /// The enabled accounts as (name, department, role), in name order (no secrets).
    pub fn accounts(&self) -> Vec<(String, String, Role)> {
        let mut v: Vec<_> = self
            .cache()
            .principals
            .values()
            .filter(|p| !p.disabled)
            .map(|p| (p.name.clone(), p.department.clone(), p.role))
            .collect();
        v.sort();
        v
    }

    pub fn datasets(&self) -> Vec<Dataset> {
        self.cache().datasets.values().cloned().collect()
    }

    /// Add a department (administration by the operator, from the CLI).
    pub fn add_department(&self, id: &str, name: &str) -> Result<(), GovError> {
        check_name("department", id)?;
        let d = Department { id: id.into(), name: name.into() };
        self.with_db(|c| db::put_department(c, &d))?;
        self.cache.write().unwrap_or_else(|e| e.into_inner()).departments.insert(d.id.clone(), d);
        Ok(())
    }

    /// Add or replace a dataset of the catalogue.
    pub fn put_dataset(&self, d: Dataset) -> Result<(), GovError> {
        check_name("dataset", &d.name)?;
        self.with_db(|c| db::put_dataset(c, &d))?;
        self.cache.write().unwrap_or_else(|e| e.into_inner()).datasets.insert(d.name.clone(), d);
        Ok(())
    }

    /// Create (or replace) an account. `password` only for users; service accounts
    /// authenticate with tokens. `by` must administer `department` (or be the system).
    pub fn put_principal(
        &self,
        by: &Caller,
        name: &str,
        department: &str,
        role: Role,
        password: Option<&str>,
    ) -> Result<(), GovError> {
        check_name("name", name)?;
        self.decide(by, &Action::Manage { dataset: &format!("department:{department}") }).map_err(forbidden)?;
        if !self.cache().departments.contains_key(department) {
            return Err(GovError::NotFound { what: "department", id: department.into() });
        }
        if matches!(role, Role::Public | Role::System) {
            return Err(GovError::Invalid(format!("role: {} cannot be given to an account", role.as_str())));
        }
        if let Some(p) = password {
            if p.chars().count() < 10 {
                return Err(GovError::Invalid("password: at least 10 characters".into()));
            }
        }
        let p = Principal {
            name: name.into(),
            department: department.into(),
            role,
            password_hash: password.map(|p| secret::hash_password(p, self.cfg.pbkdf2_iterations)),
            disabled: false,
        };
        self.with_db(|c| db::put_principal(c, &p))?;
        self.cache.write().unwrap_or_else(|e| e.into_inner()).principals.insert(p.name.clone(), p);
        self.record(Entry {
            kind: Some(AuditKind::Credential),
            actor: by.principal.clone(),
            department: Some(department.into()),
            detail: format!("account {name} ({}) created", role.as_str()),
            ..Default::default()
        });
        Ok(())
    }

    fn caller_of(p: &Principal, scopes: Scopes) -> Caller {
        Caller { principal: p.name.clone(), department: Some(p.department.clone()), role: p.role, scopes, purpose: None }
    }

    /// Issue an API token for `principal` with `scopes` (at most the role's), valid for
    /// `ttl_s`. Returns the token, shown once; only its hash is stored.
    pub fn issue_token(&self, by: &Caller, principal: &str, scopes: Scopes, ttl_s: f64, label: &str) -> Result<String, GovError> {
        let p = self
            .cache()
            .principals
            .get(principal)
            .cloned()
            .ok_or_else(|| GovError::NotFound { what: "principal", id: principal.into() })?;
        if by.principal == principal {
            // A personal token: never more than the credential it is minted with.
            if !by.scopes.contains(scopes) {
                return Err(GovError::Forbidden(format!("scopes: this credential holds {}", scopes_str(by.scopes))));
            }
        } else {
            self.decide(by, &Action::Manage { dataset: &format!("department:{}", p.department) }).map_err(forbidden)?;
        }
        if !(ttl_s.is_finite() && ttl_s > 0.0 && ttl_s <= self.cfg.max_token_ttl_s) {
            return Err(GovError::Invalid(format!("ttl_s: must be within 0..{} seconds, got {ttl_s}", self.cfg.max_token_ttl_s)));
        }
        let allowed = role_scopes(p.role);
        if !allowed.contains(scopes) || scopes.0 == 0 {
            return Err(GovError::Invalid(format!(
                "scopes: a {} may hold {}, asked {}",
                p.role.as_str(),
                scopes_str(allowed),
                scopes_str(scopes)
            )));
        }
        let (id, token, hash) = secret::new_token();
        let t = now();
        let rec = TokenRecord {
            id,
            principal: principal.into(),
            hash,
            scopes,
            created: t,
            expires: t + ttl_s,
            revoked: None,
            label: label.into(),
        };
        self.with_db(|c| db::put_token(c, &rec))?;
        self.record(Entry {
            kind: Some(AuditKind::Credential),
            actor: by.principal.clone(),
            department: Some(p.department.clone()),
            detail: format!("token {} issued to {principal} ({}), expires {:.0}", rec.id, scopes_str(scopes), rec.expires),
            ..Default::default()
        });
        self.cache.write().unwrap_or_else(|e| e.into_inner()).tokens.insert(rec.id.clone(), rec);
        Ok(token)
    }

    /// Revoke a token; effective on the next request.
    pub fn revoke_token(&self, by: &Caller, id: &str) -> Result<(), GovError> {
        let rec = self.cache().tokens.get(id).cloned().ok_or_else(|| GovError::NotFound { what: "token", id: id.into() })?;
        if by.principal != rec.principal {
            let dept = self.cache().principals.get(&rec.principal).map(|p| p.department.clone()).unwrap_or_default();
            self.decide(by, &Action::Manage { dataset: &format!("department:{dept}") }).map_err(forbidden)?;
        }
        let mut rec = rec;
        rec.revoked = Some(now());
        self.with_db(|c| db::put_token(c, &rec))?;
        self.cache.write().unwrap_or_else(|e| e.into_inner()).tokens.insert(rec.id.clone(), rec.clone());
        self.record(Entry {
            kind: Some(AuditKind::Credential),
            actor: by.principal.clone(),
            detail: format!("token {id} of {} revoked", rec.principal),
            ..Default::default()
        });
        Ok(())
    }

    /// Tokens the caller may see: their own, and their department's when administering it.
    pub fn tokens(&self, by: &Caller) -> Vec<TokenInfo> {
        let c = self.cache();
        let admin_of = by.department.as_deref().filter(|_| by.role == Role::Admin && by.scopes.contains(Scopes::ADMIN));
        c.tokens
            .values()
            .filter(|t| {
                t.principal == by.principal
                    || admin_of.is_some_and(|d| c.principals.get(&t.principal).is_some_and(|p| p.department == d))
            })
            .map(|t| TokenInfo {
                id: t.id.clone(),
                principal: t.principal.clone(),
                scopes: scopes_str(t.scopes),
                created: t.created,
                expires: t.expires,
                revoked: t.revoked,
                label: t.label.clone(),
            })
            .collect()
    }

    /// The caller a bearer token stands for.
    pub fn authenticate_token(&self, token: &str) -> Result<Caller, GovError> {
        let bad = || GovError::BadCredentials("unknown, expired or revoked token".into());
        let (id, hash) = secret::parse_token(token).ok_or_else(bad)?;
        let c = self.cache();
        let rec = c.tokens.get(id).ok_or_else(bad)?;
        let ok = secret::ct_eq(&rec.hash, &hash);
        if !ok || rec.revoked.is_some() || now() >= rec.expires {
            return Err(bad());
        }
        let p = c.principals.get(&rec.principal).filter(|p| !p.disabled).ok_or_else(bad)?;
        Ok(Self::caller_of(p, rec.scopes))
    }

    /// Check a user's password and open a session.
    pub fn login(&self, name: &str, password: &str) -> Result<NewSession, GovError> {
        self.login_from(name, password, None)
    }

    /// [`Self::login`] from client address `address`: refused with
    /// [`GovError::TooManyAttempts`] while the account or the address is locked.
    pub fn login_from(&self, name: &str, password: &str, address: Option<&str>) -> Result<NewSession, GovError> {
        let t = now();
        if let Err(l) = self.limiter.check(name, address, t) {
            self.record(Entry {
                kind: Some(AuditKind::Login),
                actor: name.chars().take(64).collect(),
                detail: format!("login refused: {}", l.message),
                ..Default::default()
            });
            return Err(GovError::TooManyAttempts { message: l.message, retry_after_s: l.retry_after_s });
        }
        let p = self.cache().principals.get(name).cloned();
        let ok = match &p {
            Some(p) if !p.disabled => p.password_hash.as_deref().is_some_and(|h| secret::verify_password(password, h)),
            _ => {
                // Same work for an unknown name, so timing does not tell which names exist.
                let _ = secret::verify_password(password, &format!("pbkdf2-sha256${}$00$00", self.cfg.pbkdf2_iterations));
                false
            }
        };
        self.record(Entry {
            kind: Some(AuditKind::Login),
            actor: name.chars().take(64).collect(),
            department: p.as_ref().map(|p| p.department.clone()),
            detail: if ok { "login".into() } else { "failed login".into() },
            ..Default::default()
        });
        if !ok {
            self.limiter.failed(name, address, t);
            return Err(GovError::BadCredentials("wrong user name or password".into()));
        }
        self.limiter.succeeded(name);
        let p = p.ok_or_else(|| GovError::BadCredentials("wrong user name or password".into()))?;
        self.open_session(&p)
    }

    pub(crate) fn open_session(&self, p: &Principal) -> Result<NewSession, GovError> {
        let id = secret::hex(&secret::random_bytes::<32>());
        let csrf = csrf_of(&id);
        let expires = now() + self.cfg.session_ttl_s;
        let key = secret::sha256(id.as_bytes());
        self.with_db(|c| db::put_session(c, &key, &p.name, expires))?;
        let s = Session { principal: p.name.clone(), expires };
        self.sessions.lock().unwrap_or_else(|e| e.into_inner()).insert(key, s);
        Ok(NewSession { id, csrf, caller: Self::caller_of(p, role_scopes(p.role)), expires })
    }

    /// The caller of a session cookie, and the session's CSRF token.
    pub fn session(&self, id: &str) -> Result<(Caller, String), GovError> {
        let bad = || GovError::BadCredentials("no such session (expired or logged out)".into());
        let key = secret::sha256(id.as_bytes());
        let s = {
            let mut sessions = self.sessions.lock().unwrap_or_else(|e| e.into_inner());
            match sessions.get(&key) {
                Some(s) if s.expires > now() => s.clone(),
                Some(_) => {
                    sessions.remove(&key);
                    let _ = self.with_db(|c| db::delete_session(c, &key));
                    return Err(bad());
                }
                None => return Err(bad()),
            }
        };
        let c = self.cache();
        let p = c.principals.get(&s.principal).filter(|p| !p.disabled).ok_or_else(bad)?;
        Ok((Self::caller_of(p, role_scopes(p.role)), csrf_of(id)))
    }

    pub fn logout(&self, id: &str) {
        let key = secret::sha256(id.as_bytes());
        let removed = self.sessions.lock().unwrap_or_else(|e| e.into_inner()).remove(&key);
        if let Err(e) = self.with_db(|c| db::delete_session(c, &key)) {
            tracing::warn!("logout: {e}");
        }
        if let Some(s) = removed {
            self.record(Entry {
                kind: Some(AuditKind::Login),
                actor: s.principal,
                detail: "logout".into(),
                ..Default::default()
            });
        }
    }
}

pub(crate) fn forbidden(d: brain::Denied) -> GovError {
    GovError::Forbidden(d.0)
}

/// Names are short and plain: letters, digits, `-`, `_`, `.`, `:`, `@`.
pub(crate) fn check_name(field: &str, s: &str) -> Result<(), GovError> {
    let ok = !s.is_empty()
        && s.len() <= 64
        && s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':' | '@'));
    if ok {
        Ok(())
    } else {
        Err(GovError::Invalid(format!("{field}: 1-64 characters of letters, digits, - _ . : @; got {s:?}")))
    }
}
