//! Login rate limiting: failed logins are counted per account and per client address
//! in a sliding window; once either count reaches its limit, further attempts for that
//! account or from that address are refused (before the password is checked) until the
//! oldest failure leaves the window. A successful login clears its account's failures.
//! Memory is bounded: entries whose failures have all left the window are dropped, and
//! at most [`MAX_KEYS`] accounts and addresses are tracked (the oldest are forgotten).

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

/// Most accounts (and, separately, addresses) tracked at once.
pub const MAX_KEYS: usize = 100_000;

/// The limits.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LoginLimits {
    /// Sliding window, seconds.
    pub window_s: f64,
    /// Failed logins per account within the window before it is locked.
    pub per_account: u32,
    /// Failed logins per client address within the window before it is locked.
    pub per_address: u32,
}

impl Default for LoginLimits {
    fn default() -> Self {
        LoginLimits { window_s: 900.0, per_account: 5, per_address: 20 }
    }
}

/// Why an attempt is refused: which key is locked and for how long.
#[derive(Clone, Debug, PartialEq)]
pub struct Locked {
    pub message: String,
    pub retry_after_s: u64,
}

#[derive(Default)]
struct Counts {
    map: HashMap<String, VecDeque<f64>>,
}

impl Counts {
    fn prune(&mut self, key: &str, since: f64) -> usize {
        let Some(q) = self.map.get_mut(key) else { return 0 };
        while q.front().is_some_and(|&t| t <= since) {
            q.pop_front();
        }
        let n = q.len();
        if n == 0 {
            self.map.remove(key);
        }
        n
    }

    fn add(&mut self, key: &str, t: f64, since: f64) {
        if self.map.len() >= MAX_KEYS && !self.map.contains_key(key) {
            self.map.retain(|_, q| q.back().is_some_and(|&last| last > since));
            if self.map.len() >= MAX_KEYS {
                // Forget the key whose last failure is oldest.
                if let Some(old) = self
                    .map
                    .iter()
                    .min_by(|a, b| a.1.back().unwrap_or(&0.0).total_cmp(b.1.back().unwrap_or(&0.0)))
                    .map(|e| e.0.clone())
                {
                    self.map.remove(&old);
                }
            }
        }
        self.map.entry(key.to_string()).or_default().push_back(t);
    }

    fn oldest(&self, key: &str) -> Option<f64> {
        self.map.get(key).and_then(|q| q.front().copied())
    }
}

/// The per-account and per-address failure counts.
#[derive(Default)]
pub struct Limiter {
    limits: LoginLimits,
    accounts: Mutex<Counts>,
    addresses: Mutex<Counts>,
}

impl Limiter {
    pub fn new(limits: LoginLimits) -> Limiter {
        Limiter { limits, ..Default::default() }
    }

    /// Whether an attempt for `account` from `address` may be checked at `t`.
    pub fn check(&self, account: &str, address: Option<&str>, t: f64) -> Result<(), Locked> {
        let l = self.limits;
        let since = t - l.window_s;
        let retry = |oldest: Option<f64>| ((oldest.unwrap_or(t) + l.window_s - t).ceil().max(1.0)) as u64;
        {
            let mut a = self.accounts.lock().unwrap_or_else(|e| e.into_inner());
            if a.prune(account, since) >= l.per_account as usize {
                let retry_after_s = retry(a.oldest(account));
                return Err(Locked {
                    message: format!(
                        "too many failed logins for this account ({} in {:.0} minutes); try again in {retry_after_s} s",
                        l.per_account,
                        l.window_s / 60.0
                    ),
                    retry_after_s,
                });
            }
        }
        if let Some(addr) = address {
            let mut a = self.addresses.lock().unwrap_or_else(|e| e.into_inner());
            if a.prune(addr, since) >= l.per_address as usize {
                let retry_after_s = retry(a.oldest(addr));
                return Err(Locked {
                    message: format!(
                        "too many failed logins from this address ({} in {:.0} minutes); try again in {retry_after_s} s",
                        l.per_address,
                        l.window_s / 60.0
                    ),
                    retry_after_s,
                });
            }
        }
        Ok(())
    }

    /// Count a failed attempt.
    pub fn failed(&self, account: &str, address: Option<&str>, t: f64) {
        let since = t - self.limits.window_s;
        self.accounts.lock().unwrap_or_else(|e| e.into_inner()).add(account, t, since);
        if let Some(addr) = address {
            self.addresses.lock().unwrap_or_else(|e| e.into_inner()).add(addr, t, since);
        }
    }

    /// A successful login clears its account's failures.
    pub fn succeeded(&self, account: &str) {
        self.accounts.lock().unwrap_or_else(|e| e.into_inner()).map.remove(account);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_account_locks_after_its_limit_and_unlocks_after_the_window() {
        let l = Limiter::new(LoginLimits { window_s: 60.0, per_account: 3, per_address: 10 });
        for k in 0..3 {
            assert!(l.check("ann", Some("10.0.0.1"), 100.0 + k as f64).is_ok());
            l.failed("ann", Some("10.0.0.1"), 100.0 + k as f64);
        }
        let e = l.check("ann", Some("10.0.0.2"), 110.0).unwrap_err();
        assert_eq!(e.retry_after_s, 50);
        assert!(e.message.contains("this account"), "{}", e.message);
        // Another account from the same address is not locked.
        assert!(l.check("bob", Some("10.0.0.1"), 110.0).is_ok());
        assert!(l.check("ann", None, 160.5).is_ok(), "the first failure left the window");
    }

    #[test]
    fn an_address_locks_across_accounts_and_success_clears_the_account() {
        let l = Limiter::new(LoginLimits { window_s: 60.0, per_account: 3, per_address: 4 });
        for (k, name) in ["a", "b", "c", "d"].iter().enumerate() {
            l.failed(name, Some("192.0.2.7"), k as f64);
        }
        let e = l.check("e", Some("192.0.2.7"), 5.0).unwrap_err();
        assert!(e.message.contains("this address"), "{}", e.message);
        assert!(l.check("e", Some("192.0.2.8"), 5.0).is_ok());
        l.failed("x", None, 1.0);
        l.failed("x", None, 2.0);
        l.succeeded("x");
        l.failed("x", None, 3.0);
        l.failed("x", None, 4.0);
        assert!(l.check("x", None, 5.0).is_ok(), "success cleared the earlier failures");
    }

    #[test]
    fn memory_stays_bounded_under_a_flood_of_names() {
        let l = Limiter::new(LoginLimits::default());
        for k in 0..(MAX_KEYS + 50) {
            l.failed(&format!("user{k}"), None, k as f64 * 1e-3);
        }
        assert!(l.accounts.lock().unwrap().map.len() <= MAX_KEYS);
    }
}
