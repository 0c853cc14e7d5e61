//! Built-in log rotation: nothing lost or doubled under a continuous writer,
//! retain and gzip honoured, settings checked.

use crate::helper::{Pmr, wait_until};

fn logs(t: &Pmr) -> Vec<std::path::PathBuf> {
    std::fs::read_dir(t.home().join("logs"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect()
}

#[test]
fn rotation_under_a_continuous_writer_loses_no_line() {
    let t = Pmr::new();
    t.ok(&["set", "pmr:logrotate.max_size", "100K"]);
    t.ok(&["set", "pmr:logrotate.retain", "1000"]);
    const N: usize = 200_000;
    t.write(
        "seq.py",
        &format!("import sys, time\nfor i in range({N}):\n    sys.stdout.write('seq %08d %s\\n' % (i, 'y' * 60))\nsys.stdout.flush()\nprint('DONE', flush=True)\ntime.sleep(300)\n"),
    );
    t.ok(&["start", "seq.py"]);
    // DONE may land in a rotated file: look in all of them.
    wait_until("the writer to finish", || {
        logs(&t)
            .iter()
            .filter(|p| {
                p.file_name()
                    .unwrap()
                    .to_string_lossy()
                    .starts_with("seq-out")
            })
            .any(|p| {
                std::fs::read_to_string(p)
                    .unwrap_or_default()
                    .contains("DONE")
            })
            .then_some(())
    });
    let mut seen = vec![0u8; N];
    let mut rotated = 0;
    for p in logs(&t).into_iter().filter(|p| {
        p.file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("seq-out")
    }) {
        if p.file_name().unwrap().to_string_lossy().contains("__") {
            rotated += 1;
            let size = std::fs::metadata(&p).unwrap().len();
            assert!(
                (100 * 1024..400 * 1024).contains(&size),
                "{} is {size} bytes",
                p.display()
            );
        }
        for line in std::fs::read_to_string(&p).unwrap().lines() {
            if let Some(n) = line
                .strip_prefix("seq ")
                .and_then(|r| r.get(..8))
                .and_then(|d| d.parse::<usize>().ok())
            {
                assert!(
                    line.len() == 4 + 8 + 1 + 60,
                    "torn line in {}: {line}",
                    p.display()
                );
                seen[n] += 1;
            }
        }
    }
    assert!(rotated > 50, "only {rotated} rotations");
    let missing = seen.iter().filter(|c| **c == 0).count();
    let doubled = seen.iter().filter(|c| **c > 1).count();
    assert_eq!(
        (missing, doubled),
        (0, 0),
        "lines missing / doubled across rotated files"
    );
}

#[test]
fn retain_and_compress() {
    let t = Pmr::new();
    t.ok(&["set", "pmr:logrotate.max_size", "20K"]);
    t.ok(&["set", "pmr:logrotate.retain", "3"]);
    t.ok(&["set", "pmr:logrotate.compress", "true"]);
    // Paced, so that the daemon reads it in small batches: a log rotates
    // between whole writes, and one batch read under load can be larger
    // than max_size, which would make fewer rotations than retain needs.
    t.write(
        "chat.sh",
        "for i in $(seq 3000); do echo \"line $i padding padding padding padding\"; \
         [ $((i % 100)) = 0 ] && sleep 0.05; done; sleep 300\n",
    );
    t.ok(&["start", "chat.sh"]);
    let gz = wait_until("three compressed files, no more", || {
        let gz: Vec<_> = logs(&t)
            .into_iter()
            .filter(|p| p.to_string_lossy().ends_with(".log.gz"))
            .collect();
        let plain_rotated = logs(&t)
            .iter()
            .filter(|p| p.to_string_lossy().contains("__") && p.to_string_lossy().ends_with(".log"))
            .count();
        (gz.len() == 3 && plain_rotated == 0).then_some(gz)
    });
    for p in gz {
        let bytes = std::fs::read(&p).unwrap();
        assert_eq!(&bytes[..2], &[0x1f, 0x8b], "{} is not gzip", p.display());
    }
    // Bad settings are refused and change nothing.
    let err = t.fails(&["set", "pmr:logrotate.max_size", "huge"]);
    assert!(err.contains("max_size"), "{err}");
    let err = t.fails(&["set", "pmr:logrotate.nope", "1"]);
    assert!(err.contains("nope"), "{err}");
    let cfg = t.ok(&["get"]);
    assert!(
        cfg.contains("max_size = \"20K\"") && cfg.contains("retain = 3"),
        "{cfg}"
    );
}

#[test]
fn scheduled_rotation_moves_non_empty_logs_and_keeps_every_line() {
    let t = Pmr::new();
    // Every 2 seconds (croner's seconds field), far below the size limit.
    t.ok(&["set", "pm2-logrotate:rotateInterval", "*/2 * * * * *"]);
    t.write(
        "tick.sh",
        "i=0; while [ $i -lt 12 ]; do echo \"tick $i\"; i=$((i+1)); sleep 0.5; done; echo FIN; sleep 300\n",
    );
    t.ok(&["start", "tick.sh"]);
    let files = wait_until("FIN written and at least two scheduled rotations", || {
        let files: Vec<_> = logs(&t)
            .into_iter()
            .filter(|p| {
                p.file_name()
                    .unwrap()
                    .to_string_lossy()
                    .starts_with("tick-out")
            })
            .collect();
        let all: String = files
            .iter()
            .map(|p| std::fs::read_to_string(p).unwrap_or_default())
            .collect();
        let rotated = files
            .iter()
            .filter(|p| p.to_string_lossy().contains("__"))
            .count();
        (all.contains("FIN") && rotated >= 2).then_some(files)
    });
    let mut ticks = Vec::new();
    for p in &files {
        let body = std::fs::read_to_string(p).unwrap();
        if p.to_string_lossy().contains("__") {
            assert!(
                !body.is_empty(),
                "empty logs are not rotated: {}",
                p.display()
            );
        }
        ticks.extend(
            body.lines()
                .filter_map(|l| l.strip_prefix("tick "))
                .map(|n| n.parse::<u32>().unwrap()),
        );
    }
    ticks.sort();
    assert_eq!(ticks, (0..12).collect::<Vec<_>>(), "lines lost or doubled");
    // A pattern that is not cron is refused and changes nothing.
    let err = t.fails(&["set", "pmr:logrotate.rotate_interval", "every day"]);
    assert!(err.contains("rotate_interval"), "{err}");
    assert!(t.ok(&["get"]).contains("*/2 * * * * *"));
}
