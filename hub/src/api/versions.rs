//! `GET /api/v1/versions`: which revision of each app runs on which server,
//! and whether they differ (a deploy that did not reach every server).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use axum::extract::State;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use super::error::responses as r;
use super::extract::{Json, Query};
use crate::state::Hub;

/// Filter of `/api/v1/versions`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(super) struct AppFilter {
    /// Only this app (exact name).
    app: Option<String>,
}

/// One app's revisions across the fleet.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct AppVersions {
    /// App name.
    app: String,
    /// Distinct revisions running (an unknown revision counts as one).
    revisions: usize,
    /// More than one revision runs.
    differs: bool,
    /// Every instance of the app, by server.
    instances: Vec<AppInstance>,
}

/// One instance of an app and its revision.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct AppInstance {
    /// Server name.
    server: String,
    /// Server id.
    server_id: i64,
    /// The server's bucket.
    bucket: String,
    /// Instance id on that server.
    pm_id: u32,
    /// Git metadata in pm2's `versioning` shape; null when unknown.
    #[schema(value_type = Option<Object>)]
    versioning: Option<Value>,
}

/// Revisions of every app (or one) on every server seen since the hub started.
#[utoipa::path(
    get,
    path = "/api/v1/versions",
    tag = "versions",
    params(AppFilter),
    responses(
        (status = 200, description = "Apps by name with their instances' revisions", body = Vec<AppVersions>),
        r::Errors,
    )
)]
pub(super) async fn list_versions(
    State(hub): State<Arc<Hub>>,
    caller: super::Caller,
    Query(f): Query<AppFilter>,
) -> Json<Vec<AppVersions>> {
    let mut by_app: BTreeMap<String, Vec<AppInstance>> = BTreeMap::new();
    hub.live.each(|s| {
        if !caller.sees(&s.bucket) {
            return;
        }
        for p in s.processes.values() {
            if f.app.as_ref().is_some_and(|a| *a != p.name) {
                continue;
            }
            by_app.entry(p.name.clone()).or_default().push(AppInstance {
                server: s.name.clone(),
                server_id: s.id,
                bucket: s.bucket.clone(),
                pm_id: p.pm_id,
                versioning: p.versioning.clone(),
            });
        }
    });
    let out = by_app
        .into_iter()
        .map(|(app, instances)| {
            let revisions: BTreeSet<String> = instances
                .iter()
                .map(|i| revision(i.versioning.as_ref()).to_string())
                .collect();
            AppVersions {
                app,
                revisions: revisions.len(),
                differs: revisions.len() > 1,
                instances,
            }
        })
        .collect();
    Json(out)
}

/// The `revision` of a `versioning` object; null when absent.
fn revision(versioning: Option<&Value>) -> &Value {
    versioning.map_or(&Value::Null, |v| &v["revision"])
}
