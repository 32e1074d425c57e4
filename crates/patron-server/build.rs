//! Records the git commit the binary is built from, for `patron --version`
//! (and `unknown` when built outside a git checkout, e.g. from a source tarball).
//! A Docker build has no `.git`: it passes the commit as PATRON_GIT_COMMIT.

use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=PATRON_GIT_COMMIT");
    let given = std::env::var("PATRON_GIT_COMMIT")
        .ok()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty());
    let commit = given
        .or_else(|| {
            Command::new("git")
                .args(["rev-parse", "--short=12", "HEAD"])
                .output()
                .ok()
                .filter(|o| o.status.success())
                .and_then(|o| String::from_utf8(o.stdout).ok())
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
        })
        .unwrap_or_else(|| "unknown".to_owned());
    println!("cargo:rustc-env=PATRON_GIT_COMMIT={commit}");
    // A new commit moves the branch HEAD points to (or HEAD itself, detached).
    println!("cargo:rerun-if-changed=../../.git/HEAD");
    println!("cargo:rerun-if-changed=../../.git/packed-refs");
    if let Ok(head) = std::fs::read_to_string("../../.git/HEAD")
        && let Some(branch) = head.trim().strip_prefix("ref: ")
    {
        println!("cargo:rerun-if-changed=../../.git/{branch}");
    }
}
