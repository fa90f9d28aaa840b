//! Hand-written Prometheus counters. Labels are fixed words: no visit ids,
//! tokens or addresses ever become a label.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};

/// Why a token was refused, for the counter's `reason` label.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RejectReason {
    /// Not a token.
    Malformed,
    /// Bad signature or unknown key.
    Forged,
    /// Too late.
    Expired,
    /// Too early.
    NotYetValid,
    /// Withdrawn by the clinic.
    Revoked,
}

impl RejectReason {
    const ALL: [Self; 5] = [
        Self::Malformed,
        Self::Forged,
        Self::Expired,
        Self::NotYetValid,
        Self::Revoked,
    ];

    fn label(self) -> &'static str {
        match self {
            Self::Malformed => "malformed",
            Self::Forged => "forged",
            Self::Expired => "expired",
            Self::NotYetValid => "not_yet_valid",
            Self::Revoked => "revoked",
        }
    }
}

/// The relay's counters.
#[derive(Debug, Default)]
pub struct Metrics {
    patient_connections: AtomicU64,
    clinician_connections: AtomicU64,
    open_connections: AtomicU64,
    knocks: AtomicU64,
    rejected: [AtomicU64; 5],
    rate_limited: AtomicU64,
    refused_connections: AtomicU64,
    protocol_errors: AtomicU64,
    revocations: AtomicU64,
}

fn inc(c: &AtomicU64) {
    c.fetch_add(1, Ordering::Relaxed);
}

impl Metrics {
    pub(crate) fn connection_opened(&self, clinician: bool) {
        inc(if clinician {
            &self.clinician_connections
        } else {
            &self.patient_connections
        });
        inc(&self.open_connections);
    }
    pub(crate) fn connection_closed(&self) {
        self.open_connections.fetch_sub(1, Ordering::Relaxed);
    }
    pub(crate) fn knock(&self) {
        inc(&self.knocks);
    }
    pub(crate) fn rejected(&self, reason: RejectReason) {
        if let Some(i) = RejectReason::ALL.iter().position(|r| *r == reason) {
            inc(&self.rejected[i]);
        }
    }
    pub(crate) fn rate_limited(&self) {
        inc(&self.rate_limited);
    }
    pub(crate) fn refused_connection(&self) {
        inc(&self.refused_connections);
    }
    pub(crate) fn protocol_error(&self) {
        inc(&self.protocol_errors);
    }
    pub(crate) fn revoked(&self) {
        inc(&self.revocations);
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let g = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let mut s = String::new();
        let mut counter = |name: &str, help: &str, kind: &str, lines: Vec<(String, u64)>| {
            let _ = writeln!(s, "# HELP {name} {help}\n# TYPE {name} {kind}");
            for (labels, v) in lines {
                let _ = writeln!(s, "{name}{labels} {v}");
            }
        };
        counter(
            "bedside_relay_connections_total",
            "WebSocket connections accepted.",
            "counter",
            vec![
                ("{kind=\"patient\"}".into(), g(&self.patient_connections)),
                (
                    "{kind=\"clinician\"}".into(),
                    g(&self.clinician_connections),
                ),
            ],
        );
        counter(
            "bedside_relay_connections_open",
            "WebSocket connections open now.",
            "gauge",
            vec![(String::new(), g(&self.open_connections))],
        );
        counter(
            "bedside_relay_connections_refused_total",
            "Connections refused at the connection limit.",
            "counter",
            vec![(String::new(), g(&self.refused_connections))],
        );
        counter(
            "bedside_relay_knocks_total",
            "Knocks accepted into a waiting room.",
            "counter",
            vec![(String::new(), g(&self.knocks))],
        );
        counter(
            "bedside_relay_rejected_tokens_total",
            "Invite tokens refused, by reason.",
            "counter",
            RejectReason::ALL
                .iter()
                .zip(&self.rejected)
                .map(|(r, c)| (format!("{{reason=\"{}\"}}", r.label()), g(c)))
                .collect(),
        );
        counter(
            "bedside_relay_rate_limited_total",
            "Requests refused by a rate limit.",
            "counter",
            vec![(String::new(), g(&self.rate_limited))],
        );
        counter(
            "bedside_relay_protocol_errors_total",
            "Oversized, malformed or unknown messages.",
            "counter",
            vec![(String::new(), g(&self.protocol_errors))],
        );
        counter(
            "bedside_relay_revocations_total",
            "Invites revoked since start.",
            "counter",
            vec![(String::new(), g(&self.revocations))],
        );
        s
    }
}
