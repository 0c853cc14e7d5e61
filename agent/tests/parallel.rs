//! Many CLIs at once against one `$PMR_HOME`.

use crate::helper::Pmr;

#[test]
fn twenty_starts_at_once_with_no_daemon_all_succeed() {
    // Whoever loses the race to start the daemon waits for the winner's.
    for round in 0..3 {
        let t = Pmr::new();
        t.write("app.sh", "sleep 300\n");
        let runs: Vec<_> = (0..20)
            .map(|i| {
                t.command()
                    .args(["start", "app.sh", "--name", &format!("a{i}"), "-m"])
                    .stdout(std::process::Stdio::piped())
                    .stderr(std::process::Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        for (i, run) in runs.into_iter().enumerate() {
            let out = run.wait_with_output().unwrap();
            assert!(
                out.status.success(),
                "round {round}: start a{i} failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        assert_eq!(t.jlist().len(), 20, "round {round}");
    }
}
