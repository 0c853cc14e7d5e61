//! `pmr startup [systemd]` / `pmr unstartup`: a systemd unit that resurrects
//! this user's saved apps at boot, for this `$PMR_HOME`.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use anyhow::{Context, bail};
use clap::Args;

use crate::paths::Paths;

/// `pmr startup` options, as pm2 names them.
#[derive(Debug, Args)]
pub struct StartupArgs {
    /// Init system; only systemd is supported.
    pub platform: Option<String>,
    /// User the apps run as (default: the current one).
    #[arg(short = 'u', long)]
    pub user: Option<String>,
    /// Unit name (default: pmr-<user>).
    #[arg(long)]
    pub service_name: Option<String>,
    /// Where the unit goes (default: /etc/systemd/system).
    #[arg(long, default_value = "/etc/systemd/system")]
    pub unit_dir: PathBuf,
}

/// The user the unit runs as and the unit's name; only systemd is supported.
fn names(a: &StartupArgs) -> anyhow::Result<(String, String)> {
    if let Some(p) = &a.platform
        && p != "systemd"
    {
        bail!("startup platform {p:?} is not supported; pmr writes systemd units");
    }
    let user = match &a.user {
        Some(u) => u.clone(),
        None => nix::unistd::User::from_uid(nix::unistd::getuid())?
            .map(|u| u.name)
            .context("cannot tell who the current user is; give -u USER")?,
    };
    let service = a
        .service_name
        .clone()
        .unwrap_or_else(|| format!("pmr-{user}"));
    Ok((user, service))
}

/// The unit text: `resurrect` starts the daemon and its saved apps. systemd
/// watches the keeper, not the daemon: a daemon that crashes is replaced
/// by the keeper with every app running, where a unit restart would stop
/// the whole group.
pub(crate) fn unit(exe: &Path, paths: &Paths, user: &str) -> String {
    let home = paths.home.display();
    let exe = exe.display();
    format!(
        "[Unit]\n\
         Description=pmr process manager for {user} ({home})\n\
         After=network-online.target\n\
         Wants=network-online.target\n\
         \n\
         [Service]\n\
         Type=forking\n\
         User={user}\n\
         Environment=PMR_HOME={home}\n\
         PIDFile={home}/keeper.pid\n\
         LimitNOFILE=infinity\n\
         ExecStart={exe} resurrect\n\
         ExecReload={exe} reloadLogs\n\
         ExecStop={exe} kill\n\
         Restart=on-failure\n\
         \n\
         [Install]\n\
         WantedBy=multi-user.target\n"
    )
}

/// Runs `systemctl`; the error is what it printed.
fn systemctl(args: &[&str]) -> Result<(), String> {
    match Command::new("systemctl").args(args).output() {
        Ok(o) if o.status.success() => Ok(()),
        Ok(o) => Err(String::from_utf8_lossy(&o.stderr).trim().to_string()),
        Err(e) => Err(e.to_string()),
    }
}

/// `pmr startup`: writes a systemd unit that starts the daemon (and
/// resurrects the saved apps) at boot, and enables it when it can.
pub(crate) fn startup(paths: &Paths, a: StartupArgs) -> anyhow::Result<ExitCode> {
    let (user, service) = names(&a)?;
    let exe = std::env::current_exe()?;
    let path = a.unit_dir.join(format!("{service}.service"));
    let text = unit(&exe, paths, &user);
    if let Err(e) = std::fs::create_dir_all(&a.unit_dir).and_then(|()| std::fs::write(&path, &text))
    {
        if e.kind() == std::io::ErrorKind::PermissionDenied {
            println!("[PMR] Writing {} needs root. Run:", path.display());
            println!(
                "sudo env PATH=$PATH PMR_HOME={} {} startup systemd -u {user} --service-name {service}",
                paths.home.display(),
                exe.display()
            );
            return Ok(ExitCode::FAILURE);
        }
        return Err(e).with_context(|| format!("cannot write {}", path.display()));
    }
    println!("[PMR] Wrote {}", path.display());
    if a.unit_dir != Path::new("/etc/systemd/system") {
        println!(
            "[PMR] Not enabled (custom --unit-dir); enable it with: systemctl enable {service}"
        );
        return Ok(ExitCode::SUCCESS);
    }
    match systemctl(&["daemon-reload"])
        .and_then(|()| systemctl(&["enable", &format!("{service}.service")]))
    {
        Ok(()) => {
            println!(
                "[PMR] Enabled {service}: `pmr save` now, and the saved apps come back at boot"
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            println!("[PMR] The unit is written but systemd could not enable it: {e}");
            println!(
                "[PMR] Once systemd runs: systemctl daemon-reload && systemctl enable {service}"
            );
            Ok(ExitCode::FAILURE)
        }
    }
}

/// `pmr unstartup`: disables and removes the unit `startup` wrote.
pub(crate) fn unstartup(a: StartupArgs) -> anyhow::Result<ExitCode> {
    let (_, service) = names(&a)?;
    let path = a.unit_dir.join(format!("{service}.service"));
    if a.unit_dir == Path::new("/etc/systemd/system") {
        let _ = systemctl(&["disable", &format!("{service}.service")]);
    }
    match std::fs::remove_file(&path) {
        Ok(()) => println!("[PMR] Removed {}", path.display()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            println!("[PMR] No unit at {}", path.display())
        }
        Err(e) => return Err(e).with_context(|| format!("cannot remove {}", path.display())),
    }
    Ok(ExitCode::SUCCESS)
}
