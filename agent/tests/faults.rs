//! What an unlucky or hostile user runs into: programs that cannot be run,
//! bad names, broken saved lists, bad flag values. Each is a clear error,
//! a non-zero exit, and nothing half-done.

use std::os::unix::fs::PermissionsExt;

use crate::helper::Pmr;

#[test]
fn a_program_that_cannot_run_is_an_error_and_nothing_is_added() {
    let t = Pmr::new();
    let script = t.write("job.sh", "#!/bin/sh\nsleep 300\n");
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o644)).unwrap();
    let err = t.fails(&["start", "job.sh", "--interpreter", "none"]);
    assert!(
        err.contains("[job](0) could not start") && err.contains("Permission denied"),
        "{err}"
    );
    assert!(t.jlist().is_empty(), "nothing half-done: {:?}", t.jlist());
    // An app that runs, then cannot be run again: the restart says why.
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    t.ok(&["start", "job.sh", "--interpreter", "none"]);
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o644)).unwrap();
    let err = t.fails(&["restart", "job"]);
    assert!(
        err.contains("could not start") && err.contains("Permission denied"),
        "{err}"
    );
    assert_eq!(t.status(0), "errored");
}
