//! Citizens' tickets: a public report (category, place, text, optional photo reference)
//! gets an unguessable ticket number, is routed to the responsible department by
//! category and place, and is answered there; the citizen follows it by number, and the
//! response times go on the public KPI page.

use brain::{Action, Caller};
use rusqlite::{params, OptionalExtension};
use serde::{Deserialize, Serialize};

use crate::audit::{AuditKind, Entry};
use crate::error::GovError;
use crate::gov::{forbidden, now, Governance};
use crate::secret;

/// Categories a citizen may choose.
pub const CATEGORIES: [&str; 10] = [
    "accident",
    "congestion",
    "signal-fault",
    "hazard",
    "road-damage",
    "street-light",
    "parking",
    "noise",
    "air-quality",
    "other",
];

/// Categories handed to the incident pipeline as citizen reports.
pub const TRAFFIC_CATEGORIES: [&str; 4] = ["accident", "congestion", "signal-fault", "hazard"];

/// Ticket states.
pub const STATUSES: [&str; 4] = ["open", "in-progress", "answered", "closed"];

/// One routing rule: a category (or `*`) and an optional lon/lat box; first match wins.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Route {
    pub category: String,
    /// `[min_lon, min_lat, max_lon, max_lat]`
    pub bbox: Option<[f64; 4]>,
    pub department: String,
}

/// The default routing of a city.
pub fn default_routes() -> Vec<Route> {
    let r = |c: &str, d: &str| Route { category: c.into(), bbox: None, department: d.into() };
    vec![
        r("accident", "traffic-police"),
        r("congestion", "traffic-police"),
        r("signal-fault", "traffic-police"),
        r("hazard", "traffic-police"),
        r("parking", "traffic-police"),
        r("road-damage", "transport-bureau"),
        r("street-light", "transport-bureau"),
        r("noise", "environment"),
        r("air-quality", "environment"),
        r("*", "city-hotline"),
    ]
}

/// A citizen's report as submitted.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct NewTicket {
    pub category: String,
    pub lon: Option<f64>,
    pub lat: Option<f64>,
    pub text: String,
    pub photo_ref: Option<String>,
}

/// A ticket as its department sees it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Ticket {
    pub number: String,
    pub created: f64,
    pub category: String,
    pub lon: Option<f64>,
    pub lat: Option<f64>,
    /// Empty once erased after the personal retention.
    pub text: String,
    pub photo_ref: Option<String>,
    pub department: String,
    pub status: String,
    pub answer: Option<String>,
    pub answered_at: Option<f64>,
}

/// What anyone holding the number sees (no text, no place: those may be personal).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TicketStatus {
    pub number: String,
    pub created: f64,
    pub category: String,
    pub department: String,
    pub status: String,
    pub answer: Option<String>,
    pub answered_at: Option<f64>,
}

/// Response figures of one department (public KPI page).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct QueueKpi {
    pub department: String,
    pub received: u64,
    pub open: u64,
    pub answered: u64,
    /// Mean and 90th percentile seconds from report to first answer.
    pub mean_response_s: Option<f64>,
    pub p90_response_s: Option<f64>,
}

impl Governance {
    /// The department responsible for a report.
    pub fn route(&self, category: &str, lon: Option<f64>, lat: Option<f64>) -> String {
        for r in default_routes() {
            if r.category != "*" && r.category != category {
                continue;
            }
            if let Some([x0, y0, x1, y1]) = r.bbox {
                match (lon, lat) {
                    (Some(x), Some(y)) if x >= x0 && x <= x1 && y >= y0 && y <= y1 => {}
                    _ => continue,
                }
            }
            return r.department;
        }
        "city-hotline".into()
    }

    /// Record a citizen's report; returns the ticket (its number is the citizen's key).
    pub fn submit_ticket(&self, caller: &Caller, t: NewTicket) -> Result<Ticket, GovError> {
        if !CATEGORIES.contains(&t.category.as_str()) {
            return Err(GovError::Invalid(format!("category: one of {}, got {:?}", CATEGORIES.join(", "), t.category)));
        }
        let text = t.text.trim();
        if text.is_empty() || text.chars().count() > 2000 {
            return Err(GovError::Invalid("text: 1-2000 characters".into()));
        }
        match (t.lon, t.lat) {
            (Some(x), Some(y)) if (-180.0..=180.0).contains(&x) && (-90.0..=90.0).contains(&y) => {}
            (None, None) => {}
            _ => return Err(GovError::Invalid("lon/lat: both, within -180..180 and -90..90, or neither".into())),
        }
        if let Some(p) = &t.photo_ref {
            if p.chars().count() > 300 || p.chars().any(char::is_control) {
                return Err(GovError::Invalid("photo_ref: at most 300 printable characters".into()));
            }
        }
        let department = self.route(&t.category, t.lon, t.lat);
        let ticket = Ticket {
            number: secret::ticket_number(),
            created: now(),
            category: t.category.clone(),
            lon: t.lon,
            lat: t.lat,
            text: text.into(),
            photo_ref: t.photo_ref.clone().filter(|p| !p.is_empty()),
            department: department.clone(),
            status: "open".into(),
            answer: None,
            answered_at: None,
        };
        self.with_db(|c| {
            c.execute(
                "INSERT INTO tickets (number, created, category, lon, lat, text, photo_ref, department, status) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,'open')",
                params![ticket.number, ticket.created, ticket.category, ticket.lon, ticket.lat, ticket.text, ticket.photo_ref, department],
            )?;
            Ok(())
        })?;
        self.record(Entry {
            kind: Some(AuditKind::Write),
            actor: caller.principal.clone(),
            dataset: Some(format!("tickets:{department}")),
            owner: Some(department),
            detail: format!("ticket {} ({}) received", ticket.number, ticket.category),
            ..Default::default()
        });
        Ok(ticket)
    }

    /// A ticket's public status, by its number.
    pub fn ticket_status(&self, number: &str) -> Result<TicketStatus, GovError> {
        let t =
            self.ticket(number)?.ok_or_else(|| GovError::NotFound { what: "ticket", id: number.chars().take(20).collect() })?;
        Ok(TicketStatus {
            number: t.number,
            created: t.created,
            category: t.category,
            department: t.department,
            status: t.status,
            answer: t.answer,
            answered_at: t.answered_at,
        })
    }

    fn ticket(&self, number: &str) -> Result<Option<Ticket>, GovError> {
        self.with_db(|c| {
            Ok(c.query_row(
                "SELECT number, created, category, lon, lat, text, photo_ref, department, status, answer, answered_at FROM tickets WHERE number = ?1",
                [number],
                row_ticket,
            )
            .optional()?)
        })
    }

    /// A department's queue (open first, oldest first), for its staff.
    pub fn queue(&self, caller: &Caller, department: &str, limit: usize) -> Result<Vec<Ticket>, GovError> {
        self.decide(caller, &Action::Read { dataset: &format!("tickets:{department}") }).map_err(forbidden)?;
        self.with_db(|c| {
            let mut s = c.prepare(
                "SELECT number, created, category, lon, lat, text, photo_ref, department, status, answer, answered_at FROM tickets
                 WHERE department = ?1 ORDER BY (status IN ('answered','closed')), created LIMIT ?2",
            )?;
            let rows = s.query_map(params![department, limit as i64], row_ticket)?.collect::<Result<Vec<_>, _>>()?;
            Ok(rows)
        })
    }

    /// Answer a ticket or change its status (its department's operators).
    pub fn answer_ticket(
        &self,
        caller: &Caller,
        number: &str,
        status: &str,
        answer: Option<&str>,
    ) -> Result<TicketStatus, GovError> {
        let t =
            self.ticket(number)?.ok_or_else(|| GovError::NotFound { what: "ticket", id: number.chars().take(20).collect() })?;
        self.decide(caller, &Action::Write { dataset: &format!("tickets:{}", t.department) }).map_err(forbidden)?;
        if !STATUSES.contains(&status) {
            return Err(GovError::Invalid(format!("status: one of {}, got {status:?}", STATUSES.join(", "))));
        }
        if let Some(a) = answer {
            if a.trim().is_empty() || a.chars().count() > 2000 {
                return Err(GovError::Invalid("answer: 1-2000 characters".into()));
            }
        }
        let at = now();
        self.with_db(|c| {
            c.execute(
                "UPDATE tickets SET status = ?2, answer = COALESCE(?3, answer), answered_at = COALESCE(answered_at, CASE WHEN ?3 IS NULL THEN NULL ELSE ?4 END) WHERE number = ?1",
                params![number, status, answer.map(str::trim), at],
            )?;
            Ok(())
        })?;
        self.ticket_status(number)
    }

    /// Response figures per department.
    pub fn ticket_kpis(&self) -> Result<Vec<QueueKpi>, GovError> {
        let rows: Vec<(String, String, f64, Option<f64>)> = self.with_db(|c| {
            let mut s = c.prepare("SELECT department, status, created, answered_at FROM tickets")?;
            let rows = s.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?.collect::<Result<Vec<_>, _>>()?;
            Ok(rows)
        })?;
        let mut by: std::collections::BTreeMap<String, (QueueKpi, Vec<f64>)> = Default::default();
        for (dept, status, created, answered) in rows {
            let e = by.entry(dept.clone()).or_insert_with(|| (QueueKpi { department: dept, ..Default::default() }, Vec::new()));
            e.0.received += 1;
            if status == "open" || status == "in-progress" {
                e.0.open += 1;
            }
            if let Some(a) = answered {
                e.0.answered += 1;
                e.1.push((a - created).max(0.0));
            }
        }
        Ok(by
            .into_values()
            .map(|(mut k, mut times)| {
                if !times.is_empty() {
                    times.sort_by(f64::total_cmp);
                    k.mean_response_s = Some(times.iter().sum::<f64>() / times.len() as f64);
                    let i = ((times.len() as f64 * 0.9).ceil() as usize).clamp(1, times.len()) - 1;
                    k.p90_response_s = Some(times[i]);
                }
                k
            })
            .collect())
    }

    /// Erase the personal parts (text, place, photo) of tickets older than `before`;
    /// returns how many were erased.
    pub fn erase_tickets_before(&self, before: f64) -> Result<usize, GovError> {
        self.with_db(|c| {
            Ok(c.execute(
                "UPDATE tickets SET text = '', lon = NULL, lat = NULL, photo_ref = NULL, erased = 1 WHERE created < ?1 AND erased = 0",
                [before],
            )?)
        })
    }

    /// Tickets whose personal parts are still held.
    pub fn tickets_held(&self) -> Result<(u64, Option<f64>), GovError> {
        self.with_db(|c| {
            Ok(c.query_row("SELECT COUNT(*), MIN(created) FROM tickets WHERE erased = 0", [], |r| {
                Ok((r.get::<_, i64>(0)? as u64, r.get(1)?))
            })?)
        })
    }
}

fn row_ticket(r: &rusqlite::Row<'_>) -> rusqlite::Result<Ticket> {
    Ok(Ticket {
        number: r.get(0)?,
        created: r.get(1)?,
        category: r.get(2)?,
        lon: r.get(3)?,
        lat: r.get(4)?,
        text: r.get(5)?,
        photo_ref: r.get(6)?,
        department: r.get(7)?,
        status: r.get(8)?,
        answer: r.get(9)?,
        answered_at: r.get(10)?,
    })
}
