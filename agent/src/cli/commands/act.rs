//! Actions on apps by target (`stop`, `restart`, `reload`, `delete`,
//! `reset`): a target is a name, an id, `all`, a namespace, an ecosystem
//! file (whose apps are meant, and which `restart`/`reload` read again),
//! or `-` for a JSON configuration on standard input. The daemon resolves
//! names; this side only reads files and options given with the action.

use std::process::ExitCode;

use pmr_shared::ipc::{Action, Request};

use super::{report, start};
use crate::cli::{Client, OutputArgs, TargetArgs};
use crate::paths::Paths;

/// `action` on the apps a configuration names (by name). The options
/// are the file's business: none goes with the request, only `--watch`.
fn act_on_apps(
    paths: &Paths,
    action: Action,
    loaded: crate::appspec::ecosystem::Loaded,
    watch: bool,
    out: &OutputArgs,
) -> anyhow::Result<ExitCode> {
    let names: Vec<String> = loaded.apps.into_iter().map(|a| a.name).collect();
    let mut client = Client::connect_or_start(paths)?;
    let reply = client.request(&Request::Act {
        action,
        targets: names,
        update_env: None,
        watch,
        options: None,
        by: None,
    })?;
    report(out, reply);
    Ok(ExitCode::SUCCESS)
}

/// `stop`, `restart`, `reload`, `delete`, `reset` on their targets: app
/// names, ids, `all`, a namespace, an ecosystem file, or `-` for a JSON
/// configuration on standard input.
pub(super) fn act(paths: &Paths, action: Action, t: TargetArgs) -> anyhow::Result<ExitCode> {
    let cwd = std::env::current_dir()?;
    // `pmr delete -` (and stop, restart...): the apps of a configuration
    // given on standard input, by name.
    if t.targets == ["-"] {
        let loaded = crate::appspec::ecosystem::load_stdin(
            &cwd,
            &t.only,
            t.env.as_deref(),
            &crate::appspec::shell_env(),
        )?;
        return act_on_apps(paths, action, loaded, false, &t.out);
    }
    // An ecosystem file among the targets: restart re-reads it (start what
    // is missing, restart what is known); other actions take its app names.
    // Only the first file counts: other targets given with it are not acted on.
    let is_file =
        |x: &String| crate::appspec::ecosystem::is_config_file(x) && cwd.join(x).is_file();
    if let Some(file) = t.targets.iter().find(|x| is_file(x)) {
        let file = cwd.join(file);
        if matches!(action, Action::Restart | Action::Start | Action::Reload) {
            let reload = action == Action::Reload;
            return start::start_file(
                paths,
                &file,
                &t.only,
                t.env.as_deref(),
                false,
                reload,
                &t.out,
            );
        }
        let loaded = crate::appspec::ecosystem::load(
            &file,
            &t.only,
            t.env.as_deref(),
            &crate::appspec::shell_env(),
        )?;
        return act_on_apps(paths, action, loaded, t.watch, &t.out);
    }
    let update_env = t.update_env.then(crate::appspec::shell_env);
    let mut client = Client::connect_or_start(paths)?;
    // App options given with the action (pm2: `restart app --cron-restart 0`).
    let options = pmr_shared::ipc::Overrides {
        cron_restart: t.cron_restart.clone(),
        node_args: t.node_args.clone(),
        deep_monitoring: crate::appspec::deep_monitoring_env().then_some(true),
        name: t.name.clone(),
    };
    let options = (options != Default::default()).then_some(options);
    let reply = client.request(&Request::Act {
        action,
        targets: t.targets,
        update_env,
        watch: t.watch,
        options,
        by: None,
    })?;
    report(&t.out, reply);
    Ok(ExitCode::SUCCESS)
}
