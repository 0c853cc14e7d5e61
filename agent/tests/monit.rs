//! `pmr monit` driven in a real terminal (tmux): it shows the apps and the
//! selected app's logs, follows the arrow keys, and leaves the terminal as
//! it found it.

use std::process::Command;

use crate::helper::{Pmr, wait_until};

/// A private tmux server, killed when the test ends.
struct Tmux {
    socket: String,
}

impl Tmux {
    fn new(t: &Pmr, width: u32, height: u32, cmd: &str) -> Self {
        let home = t.home().file_name().unwrap().to_string_lossy();
        let socket = format!("pmr-monit-{home}");
        let tmux = Tmux { socket };
        let ok = tmux
            .cmd()
            .args([
                "new-session",
                "-d",
                "-s",
                "m",
                "-x",
                &width.to_string(),
                "-y",
                &height.to_string(),
            ])
            .arg(cmd)
            .env("PMR_HOME", t.home())
            .current_dir(t.work())
            .status()
            .expect("tmux is installed (.ci/run installs it)");
        assert!(ok.success(), "tmux new-session failed");
        tmux
    }

    fn cmd(&self) -> Command {
        let mut c = Command::new("tmux");
        c.args(["-L", &self.socket]).env_remove("TMUX");
        c
    }

    fn screen(&self) -> String {
        let out = self
            .cmd()
            .args(["capture-pane", "-p", "-t", "m"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn keys(&self, keys: &[&str]) {
        let mut c = self.cmd();
        c.args(["send-keys", "-t", "m"]).args(keys);
        assert!(c.status().unwrap().success());
    }

    fn wait_for(&self, what: &str, f: impl Fn(&str) -> bool) -> String {
        let mut last = String::new();
        let found = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            wait_until(what, || {
                last = self.screen();
                f(&last).then_some(())
            })
        }));
        if found.is_err() {
            panic!("{what}: the screen was\n{last}");
        }
        last
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.cmd().arg("kill-server").status();
    }
}

#[test]
fn monit_shows_apps_logs_and_follows_the_selection() {
    let t = Pmr::new();
    t.write(
        "alpha.sh",
        "i=0; while true; do echo \"alpha-line $i\"; i=$((i+1)); sleep 0.2; done\n",
    );
    t.ok(&["start", "alpha.sh"]);
    // beta also publishes a custom metric through the notify socket.
    t.write(
        "beta.py",
        "import os, socket, time\ns = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)\ns.connect(os.environ['PMR_NOTIFY_SOCKET'])\ni = 0\nwhile True:\n    print('beta-line %d' % i, flush=True)\n    s.send(b'METRIC=queue=7 jobs')\n    i += 1\n    time.sleep(0.2)\n",
    );
    t.ok(&["start", "beta.py"]);
    let pmr = env!("CARGO_BIN_EXE_pmr");
    let tmux = Tmux::new(
        &t,
        160,
        45,
        &format!("{pmr} monit; echo EXIT=$?; sleep 600"),
    );
    // Waits for a whole frame: tmux may be captured halfway through one.
    let screen = tmux.wait_for("both apps and alpha's logs", |s| {
        s.contains("alpha")
            && s.contains("beta")
            && s.contains("online")
            && s.contains("alpha-line")
            && s.contains("Processes")
            && s.contains("CPU")
            && s.contains("Memory")
            && s.contains("select app")
    });
    assert!(
        !screen.contains("beta-line"),
        "only the selected app's logs:\n{screen}"
    );
    tmux.keys(&["Down"]);
    tmux.wait_for("beta selected: its logs, metadata and metric", |s| {
        s.contains("beta-line")
            && s.contains("beta [1]")
            && !s.contains("alpha-line")
            && s.lines()
                .any(|l| l.contains("queue") && l.contains("7 jobs"))
    });
    // A restart shows in the restart column and the metadata.
    t.ok(&["restart", "beta"]);
    tmux.wait_for("beta's restart counted", |s| {
        s.lines()
            .any(|l| l.contains("restarts") && l.trim_end_matches('│').trim_end().ends_with('1'))
    });
    tmux.keys(&["q"]);
    let screen = tmux.wait_for("monit exits cleanly", |s| s.contains("EXIT=0"));
    assert!(
        !screen.contains("Processes"),
        "the alternate screen was left:\n{screen}"
    );
}

#[test]
fn monit_without_a_terminal_says_so() {
    let t = Pmr::new();
    let out = t.run(&["monit"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("needs a terminal"), "{err}");
}
