//! An app's environment, in pm2's layers, lowest first: the caller's shell
//! (less what `filter_env` drops), `deploy.<name>.env`, the app's `env`
//! (with `port`), then `env_<name>` for `--env <name>`. Which variables
//! show as typed (written as numbers or booleans) follows the layer that
//! set them; pmr's own key variables never reach an app.

use std::collections::BTreeMap;

use pmr_shared::app::AppSpec;
use serde_json::Value;

use super::Ctx;
use super::loose::{self, Filter, Vars};

/// The app's environment, lowest first: the caller's shell (filtered),
/// `deploy.<name>.env`, `env` (with `port`), `env_<name>` (pm2's order);
/// `s.typed_env` follows which layer set each variable.
pub(super) fn layered_env(
    ctx: &Ctx<'_>,
    s: &mut AppSpec,
    shell: &BTreeMap<String, String>,
    filter: Option<Filter>,
    deploy_env: Option<&Value>,
    env: Vars,
    named_env: Option<Vars>,
) -> anyhow::Result<BTreeMap<String, String>> {
    let mut full: BTreeMap<String, String> = match filter {
        Some(Filter::All) => BTreeMap::new(),
        Some(Filter::None) | None => shell.clone(),
        Some(Filter::Prefixes(drop)) => shell
            .iter()
            .filter(|(k, _)| !drop.iter().any(|d| k.starts_with(d.as_str())))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    };
    s.typed_env = env.typed;
    if let Some(d) = deploy_env {
        let deploy = loose::vars(d).map_err(|what| ctx.option("deploy.env", &what))?;
        s.typed_env = deploy
            .typed
            .into_iter()
            .filter(|k| !env.vars.contains_key(k))
            .chain(std::mem::take(&mut s.typed_env))
            .collect();
        full.extend(deploy.vars);
    }
    full.extend(env.vars);
    if let Some(n) = named_env {
        s.typed_env.retain(|k| !n.vars.contains_key(k));
        s.typed_env.extend(n.typed);
        full.extend(n.vars);
    }
    full.retain(|k, _| !matches!(k.as_str(), "PMR_SECRET_KEY" | "PMR_PUBLIC_KEY"));
    Ok(full)
}
