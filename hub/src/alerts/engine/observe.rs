//! How a condition's truth moves an alert: pending while it holds for less
//! than the rule's `for_secs`, firing after, resolved (or dropped, if it
//! never fired) when it ends.

use super::text::{annotations, fingerprint, labels};
use super::{Alert, AlertState, DEPLOY_NOTICE_MS, Engine, Transition};
use crate::live::ServerView;

impl Engine {
    /// Ends an alert: resolved if it fired (a transition), dropped if pending.
    pub(super) fn end(&mut self, fp: &str, now: i64) -> Option<Transition> {
        let mut a = self.alerts.remove(fp)?;
        if a.state != AlertState::Firing {
            return None;
        }
        a.state = AlertState::Resolved;
        a.ends_at = Some(now);
        Some(Transition { alert: a })
    }

    /// The condition of rule `ri` on a subject holds (`Some(value)`) or not.
    pub(super) fn observe(
        &mut self,
        ri: usize,
        v: &ServerView,
        app: Option<(&str, &str)>,
        value: Option<String>,
        now: i64,
        out: &mut Vec<Transition>,
    ) {
        self.observe_labelled(ri, v, app, None, value, now, out);
    }

    /// The same, for a subject told apart by one more label (an exception
    /// group's message).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn observe_labelled(
        &mut self,
        ri: usize,
        v: &ServerView,
        app: Option<(&str, &str)>,
        extra: Option<(&str, &str)>,
        value: Option<String>,
        now: i64,
        out: &mut Vec<Transition>,
    ) {
        let rule = &self.rules[ri];
        let mut l = labels(rule, v, app);
        if let Some((k, x)) = extra {
            l.insert(k.into(), x.into());
        }
        let fp = fingerprint(&l);
        let Some(value) = value else {
            out.extend(self.end(&fp, now));
            return;
        };
        let for_ms = rule.spec.for_secs as i64 * 1000;
        let deploy = rule.spec.kind.notice();
        let ann = annotations(rule, &l, &value);
        let rule_id = rule.id;
        let a = self.alerts.entry(fp.clone()).or_insert_with(|| Alert {
            fingerprint: fp,
            rule_id,
            state: AlertState::Pending,
            labels: l,
            annotations: ann.clone(),
            value: value.clone(),
            active_since: now,
            starts_at: None,
            ends_at: None,
            server_id: v.id,
            resolve_at: None,
        });
        a.value = value;
        a.annotations = ann;
        if deploy {
            a.resolve_at = Some(now + for_ms.max(DEPLOY_NOTICE_MS));
        }
        let due = deploy || now - a.active_since >= for_ms;
        if a.state == AlertState::Pending && due {
            a.state = AlertState::Firing;
            a.starts_at = Some(now);
            out.push(Transition { alert: a.clone() });
        }
    }
}
