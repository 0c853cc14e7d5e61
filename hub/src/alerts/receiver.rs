//! Receivers: where notifications go, how alerts are grouped for them, and
//! the body each kind gets: Alertmanager's webhook format (version 4) for
//! `webhook`, a readable message for `slack` and `discord`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;

use super::invalid::Invalid;

/// The kinds of receiver.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReceiverKind {
    /// Alertmanager's webhook body, signed (`X-Pmr-Signature`).
    Webhook,
    /// A Slack incoming webhook.
    Slack,
    /// A Discord webhook.
    Discord,
}

impl ReceiverKind {
    /// The name stored.
    pub fn as_str(self) -> &'static str {
        match self {
            ReceiverKind::Webhook => "webhook",
            ReceiverKind::Slack => "slack",
            ReceiverKind::Discord => "discord",
        }
    }
}

fn default_group_by() -> Vec<String> {
    vec!["alertname".into()]
}
fn thirty() -> u64 {
    30
}
fn five_min() -> u64 {
    300
}
fn four_h() -> u64 {
    4 * 3600
}
fn yes() -> bool {
    true
}
fn ten() -> u64 {
    10
}
fn five() -> u32 {
    5
}

/// Grouping, timing and delivery of one receiver (no secret in it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReceiverSpec {
    /// Its name; unique.
    pub name: String,
    /// Its kind.
    pub kind: ReceiverKind,
    /// Labels whose values make a group: one notification per group.
    #[serde(default = "default_group_by")]
    pub group_by: Vec<String>,
    /// Wait before a new group's first notification, seconds.
    #[serde(default = "thirty")]
    pub group_wait_secs: u64,
    /// Wait before notifying a group's changes, seconds.
    #[serde(default = "five_min")]
    pub group_interval_secs: u64,
    /// Wait before notifying an unchanged firing group again, seconds.
    #[serde(default = "four_h")]
    pub repeat_interval_secs: u64,
    /// Also notify when alerts resolve.
    #[serde(default = "yes")]
    pub send_resolved: bool,
    /// Each attempt's time limit, seconds.
    #[serde(default = "ten")]
    pub timeout_secs: u64,
    /// Attempts on network errors and 5xx answers (never on 4xx).
    #[serde(default = "five")]
    pub max_attempts: u32,
}

impl ReceiverSpec {
    /// Reads and checks a receiver's settings; the error names the field.
    pub fn parse(v: Value) -> Result<ReceiverSpec, Invalid> {
        if !v.is_object() {
            return Err(Invalid::new("", "a receiver is a JSON object"));
        }
        let spec: ReceiverSpec = Invalid::parse(v)?;
        spec.check()?;
        Ok(spec)
    }

    /// Checks every field; the error names the field.
    pub fn check(&self) -> Result<(), Invalid> {
        if self.name.is_empty()
            || self.name.chars().count() > 128
            || self.name.chars().any(char::is_control)
        {
            return Err(Invalid::new(
                "name",
                "1 to 128 characters, no control characters",
            ));
        }
        for (i, l) in self.group_by.iter().enumerate() {
            if l.is_empty() || l.chars().count() > 128 || l.chars().any(char::is_control) {
                let field = format!("group_by[{i}]");
                return Err(Invalid::new(field, "a label name, 1 to 128 characters"));
            }
        }
        for (field, v) in [
            ("group_wait_secs", self.group_wait_secs),
            ("group_interval_secs", self.group_interval_secs),
            ("repeat_interval_secs", self.repeat_interval_secs),
        ] {
            let min = u64::from(field != "group_wait_secs");
            if !(min..=7 * 86400).contains(&v) {
                return Err(Invalid::new(field, format!("{min} to 604800 (a week)")));
            }
        }
        if !(1..=60).contains(&self.timeout_secs) {
            return Err(Invalid::new("timeout_secs", "1 to 60"));
        }
        if !(1..=10).contains(&self.max_attempts) {
            return Err(Invalid::new("max_attempts", "1 to 10"));
        }
        Ok(())
    }
}

/// One alert in a notification, in Alertmanager's shape.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AlertOut {
    /// `firing` or `resolved`.
    pub status: String,
    /// Its labels.
    pub labels: BTreeMap<String, String>,
    /// Its annotations.
    pub annotations: BTreeMap<String, String>,
    /// RFC 3339.
    pub starts_at: String,
    /// RFC 3339; `0001-01-01T00:00:00Z` while firing.
    pub ends_at: String,
    /// The page of the alert's subject in the dashboard.
    #[serde(rename = "generatorURL")]
    pub generator_url: String,
    /// Hash of the labels, hex.
    pub fingerprint: String,
}

/// One notification: a group's alerts for one receiver.
#[derive(Debug, Clone)]
pub struct Notification {
    /// Receiver row id.
    pub receiver_id: i64,
    /// Receiver name.
    pub receiver: String,
    /// The group's key (receiver and group label values).
    pub group_key: String,
    /// The group labels' values.
    pub group_labels: BTreeMap<String, String>,
    /// Its alerts, firing first.
    pub alerts: Vec<AlertOut>,
    /// The hub's address for links.
    pub external_url: String,
}

fn common(maps: impl Iterator<Item = BTreeMap<String, String>>) -> BTreeMap<String, String> {
    let mut out: Option<BTreeMap<String, String>> = None;
    for m in maps {
        out = Some(match out {
            None => m,
            Some(acc) => acc
                .into_iter()
                .filter(|(k, v)| m.get(k) == Some(v))
                .collect(),
        });
    }
    out.unwrap_or_default()
}

impl Notification {
    /// `firing` while any alert fires, else `resolved`.
    pub fn status(&self) -> &'static str {
        if self.alerts.iter().any(|a| a.status == "firing") {
            "firing"
        } else {
            "resolved"
        }
    }

    /// Alertmanager's webhook body, version 4.
    pub fn alertmanager(&self) -> Value {
        json!({
            "version": "4",
            "groupKey": self.group_key,
            "truncatedAlerts": 0,
            "status": self.status(),
            "receiver": self.receiver,
            "groupLabels": self.group_labels,
            "commonLabels": common(self.alerts.iter().map(|a| a.labels.clone())),
            "commonAnnotations": common(self.alerts.iter().map(|a| a.annotations.clone())),
            "externalURL": self.external_url,
            "alerts": self.alerts,
        })
    }

    /// One line per alert: status, name, app, server, summary, link.
    fn lines(&self, link: impl Fn(&str, &str) -> String) -> Vec<String> {
        self.alerts
            .iter()
            .map(|a| {
                let l = |k: &str| a.labels.get(k).cloned().unwrap_or_default();
                let what = match (l("app").as_str(), l("server").as_str()) {
                    ("", s) => s.to_string(),
                    (app, s) => format!("{app} on {s}"),
                };
                let summary = a.annotations.get("summary").cloned().unwrap_or_default();
                let mark = if a.status == "firing" { "🔴" } else { "✅" };
                format!(
                    "{mark} {} — {what}: {summary} {}",
                    a.status.to_uppercase(),
                    link(&a.generator_url, "open")
                )
            })
            .collect()
    }

    fn title(&self) -> String {
        let firing = self.alerts.iter().filter(|a| a.status == "firing").count();
        let name = self
            .group_labels
            .get("alertname")
            .cloned()
            .unwrap_or_else(|| {
                self.alerts
                    .first()
                    .and_then(|a| a.labels.get("alertname").cloned())
                    .unwrap_or_default()
            });
        match self.status() {
            "firing" => format!("[FIRING:{firing}] {name}"),
            _ => format!("[RESOLVED] {name}"),
        }
    }

    /// A Slack incoming webhook's body (`text` is required; mrkdwn links).
    pub fn slack(&self) -> Value {
        let lines = self.lines(|url, label| format!("<{url}|{label}>"));
        json!({ "text": format!("*{}*\n{}", self.title(), lines.join("\n")) })
    }

    /// A Discord webhook's body (`content`, at most 2,000 characters).
    pub fn discord(&self) -> Value {
        let lines = self.lines(|url, label| format!("[{label}](<{url}>)"));
        let mut text = format!("**{}**\n{}", self.title(), lines.join("\n"));
        if text.chars().count() > 2000 {
            text = text.chars().take(1990).collect::<String>() + "\n…";
        }
        json!({ "content": text, "allowed_mentions": { "parse": [] } })
    }

    /// The body for a receiver of `kind`.
    pub fn body(&self, kind: ReceiverKind) -> Value {
        match kind {
            ReceiverKind::Webhook => self.alertmanager(),
            ReceiverKind::Slack => self.slack(),
            ReceiverKind::Discord => self.discord(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alert(status: &str, server: &str) -> AlertOut {
        AlertOut {
            status: status.into(),
            labels: BTreeMap::from([
                ("alertname".into(), "crash loop".into()),
                ("app".into(), "api".into()),
                ("server".into(), server.into()),
            ]),
            annotations: BTreeMap::from([("summary".into(), "5 restarts within 60 s".into())]),
            starts_at: "2026-12-01T00:00:00.000Z".into(),
            ends_at: "0001-01-01T00:00:00Z".into(),
            generator_url: "https://hub/processes?q=api".into(),
            fingerprint: "0123456789abcdef".into(),
        }
    }

    fn notification() -> Notification {
        Notification {
            receiver_id: 1,
            receiver: "ops".into(),
            group_key: "ops:{alertname=\"crash loop\"}".into(),
            group_labels: BTreeMap::from([("alertname".into(), "crash loop".into())]),
            alerts: vec![alert("firing", "web-1"), alert("resolved", "web-2")],
            external_url: "https://hub".into(),
        }
    }

    #[test]
    fn alertmanager_body_has_common_labels_of_every_alert() {
        let b = notification().alertmanager();
        assert_eq!(b["status"], "firing");
        assert_eq!(
            b["commonLabels"],
            serde_json::json!({"alertname": "crash loop", "app": "api"})
        );
        assert_eq!(
            b["alerts"][1]["generatorURL"],
            "https://hub/processes?q=api"
        );
    }

    #[test]
    fn slack_and_discord_bodies_carry_what_they_require() {
        // Slack requires `text` (a string; mrkdwn links as <url|label>).
        let s = notification().slack();
        let text = s["text"].as_str().unwrap();
        assert!(text.starts_with("*[FIRING:1] crash loop*"), "{text}");
        assert!(
            text.contains(
                "api on web-1: 5 restarts within 60 s <https://hub/processes?q=api|open>"
            ),
            "{text}"
        );
        assert!(text.contains("RESOLVED — api on web-2"), "{text}");
        // Discord requires `content` of at most 2,000 characters; no pings.
        let d = notification().discord();
        assert!(d["content"].as_str().unwrap().chars().count() <= 2000);
        assert_eq!(d["allowed_mentions"]["parse"], serde_json::json!([]));
        let mut big = notification();
        big.alerts = (0..200)
            .map(|i| alert("firing", &format!("web-{i}")))
            .collect();
        assert!(big.discord()["content"].as_str().unwrap().chars().count() <= 2000);
    }
}
