//! What `pmr start` runs, from its words: the working directory, then the
//! script (a file, a shell command, a program on `PATH`) or, after `--`,
//! a whole command line; the interpreter follows from what was found.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use pmr_shared::app::AppSpec;

use super::super::{absolute, find_in_path, interpreter_for, stem};

/// `--cwd` under the caller's directory (which it is by default); it must
/// exist, since the app would fail to start in it anyway.
pub(super) fn working_dir(cwd: Option<&String>, shell_cwd: &Path) -> anyhow::Result<PathBuf> {
    let Some(c) = cwd else {
        return Ok(shell_cwd.to_path_buf());
    };
    let c = shell_cwd.join(c);
    if !c.is_dir() {
        bail!("--cwd: {} is not a directory", c.display());
    }
    Ok(c)
}

/// Sets the spec's script, interpreter and arguments for `target` (none:
/// `rest` is the whole command), and returns the app's default name.
pub(super) fn what_runs(
    spec: &mut AppSpec,
    cwd: &Path,
    target: Option<&String>,
    rest: &[String],
) -> anyhow::Result<String> {
    let Some(target) = target else {
        // `pmr start -- cmd args`: run the command itself.
        let program = &rest[0];
        spec.script = find_in_path(program)
            .map(|p| p.to_string_lossy().into_owned())
            .or_else(|| cwd.join(program).is_file().then(|| absolute(cwd, program)))
            .with_context(|| format!("command not found: {program}"))?;
        spec.args = rest[1..].to_vec();
        spec.interpreter = "none".into();
        return Ok(stem(program));
    };
    spec.args = rest.to_vec();
    let file = cwd.join(target);
    if file.is_file() {
        spec.script = file.to_string_lossy().into_owned();
        spec.interpreter = interpreter_for(&file);
        Ok(stem(target))
    } else if target.contains(' ') {
        spec.script = target.to_string();
        spec.interpreter = "bash".into();
        spec.interpreter_args = Some(vec!["-c".into()]);
        Ok(target.to_string())
    } else if let Some(bin) = find_in_path(target) {
        spec.script = bin.to_string_lossy().into_owned();
        spec.interpreter = interpreter_for(&bin);
        Ok(stem(target))
    } else {
        bail!("Script not found: {}", file.display());
    }
}

/// `--interpreter` and `--interpreter-args` over what the script implied:
/// naming an interpreter drops the implied flags (`bash -c`).
pub(super) fn interpreter(spec: &mut AppSpec, interpreter: Option<&String>, args: Option<&String>) {
    if let Some(i) = interpreter {
        spec.interpreter = i.clone();
        if i != "none" {
            spec.interpreter_args = Some(Vec::new());
        }
    }
    if let Some(ia) = args {
        spec.interpreter_args = pmr_shared::app::parse_node_args(ia);
    }
}
