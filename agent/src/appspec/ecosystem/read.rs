//! Reading an ecosystem file into JSON, whatever its format: JavaScript
//! (and `.json`, read as a JavaScript object literal, as pm2 does) through
//! `node`, YAML and TOML here, errors naming the line and column.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, bail};
use serde_json::Value;

/// Where `line:column` of a byte offset is, both from 1 and the column in
/// characters: TOML errors give a byte span, editors want a position.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

/// Reads the file into JSON, whatever its format. The format is the
/// extension's, never guessed from the content; what the JSON must hold is
/// checked after, by the caller (`ecosystem::load`).
pub fn read(path: &Path) -> anyhow::Result<Value> {
    let shown = path.display();
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
    if matches!(ext, "js" | "cjs" | "mjs") {
        return evaluate_js(path);
    }
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {shown}"))?;
    match ext {
        // pm2 reads .json files as JavaScript object literals (unquoted
        // keys, single quotes, comments): strict JSON first, then node.
        "json" => serde_json::from_str(&text).or_else(|e| {
            let strict = anyhow::anyhow!("{shown}:{}:{}: {e}", e.line(), e.column());
            evaluate_literal(path).map_err(|_| strict)
        }),
        "yaml" | "yml" => serde_norway::from_str(&text).map_err(|e| match e.location() {
            Some(l) => anyhow::anyhow!("{shown}:{}:{}: {e}", l.line(), l.column()),
            None => anyhow::anyhow!("{shown}: {e}"),
        }),
        "toml" => {
            let v: toml::Value = toml::from_str(&text).map_err(|e| match e.span() {
                Some(span) => {
                    let (l, c) = line_col(&text, span.start);
                    anyhow::anyhow!("{shown}:{l}:{c}: {}", e.message())
                }
                None => anyhow::anyhow!("{shown}: {e}"),
            })?;
            Ok(serde_json::to_value(v)?)
        }
        other => bail!(
            "{shown}: unknown ecosystem format .{other} (use .js, .cjs, .mjs, .json, .yaml, .yml or .toml)"
        ),
    }
}

/// Evaluates a `.json` file as a JavaScript object literal with `node`, as
/// pm2 reads them.
fn evaluate_literal(path: &Path) -> anyhow::Result<Value> {
    let script = "const t = require('fs').readFileSync(process.argv[1], 'utf8'); \
        process.stdout.write(JSON.stringify((0, eval)('(' + t + ')')))";
    let out = Command::new("node")
        .arg("-e")
        .arg(script)
        .arg(path)
        .output()?;
    anyhow::ensure!(
        out.status.success(),
        "not a JavaScript object literal either"
    );
    Ok(serde_json::from_slice(&out.stdout)?)
}

/// Runs `node` to evaluate a JavaScript ecosystem file, CommonJS or ESM.
fn evaluate_js(path: &Path) -> anyhow::Result<Value> {
    let abs = std::path::absolute(path)?;
    // `require` first: it is faster than the ESM loader; ESM files (`.mjs`,
    // or `type: module`) refuse it with ERR_REQUIRE_ESM and go through `import`.
    let script = "const f = process.argv[1]; let p; \
        try { const r = require(f); \
        p = Promise.resolve(r && r[Symbol.toStringTag] === 'Module' ? r : { default: r }); } \
        catch (e) { if (!e || e.code !== 'ERR_REQUIRE_ESM') { p = Promise.reject(e); } \
        else { p = import(require('url').pathToFileURL(f).href); } } \
        p.then(m => { const c = (m.default !== undefined ? m.default : m); \
        process.stdout.write(JSON.stringify(typeof c === 'function' ? c() : c)); })\
        .catch(e => { process.stderr.write(String(e && e.stack || e)); process.exit(1); })";
    let out = Command::new("node")
        .arg("-e")
        .arg(script)
        .arg(&abs)
        .current_dir(abs.parent().unwrap_or(Path::new("/")))
        .output()
        .map_err(|e| {
            anyhow::anyhow!(
                "{}: JavaScript ecosystem files are evaluated by node, which cannot be run ({e}); install node or use .json, .yaml or .toml",
                path.display()
            )
        })?;
    if !out.status.success() {
        bail!(
            "{}: node could not load it:\n{}",
            path.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    serde_json::from_slice(&out.stdout)
        .with_context(|| format!("{}: node printed no JSON config", path.display()))
}
