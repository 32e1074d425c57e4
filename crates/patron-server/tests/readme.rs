//! Every curl example in README.md, run as written against a real demo node.
//!
//! The convention: the line before a fenced code block may carry a marker,
//!
//! - `<!-- readme-test -->`: this test runs the block;
//! - `<!-- readme-test skip: REASON -->`: it does not, and says why.
//!
//! Every block that contains `curl` must carry one of the two, so an example
//! added without a marker fails here rather than going untested. The marked
//! blocks run in README order in one `bash` session, as a new user would paste
//! them (the token from the sign-in, the ids from a create carry on), against
//! `patron serve --demo` started the way the Quick start says. The text runs
//! verbatim: `curl` is a shell function that sends the README's
//! `localhost:8080` and `127.0.0.1:8080` to the test node's port
//! (`--connect-to`), adds `--fail-with-body` (a 4xx or 5xx answer fails the
//! run, its body shown), ignores `~/.curlrc` and any proxy. Nothing leaves
//! loopback. Without curl or jq on the machine the test says it was skipped
//! (`.ci/run` installs both).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const RUN: &str = "<!-- readme-test -->";
const SKIP: &str = "<!-- readme-test skip:";
/// How long the demo may take to load (10,000 customers, ~3,000 orders in a
/// debug build on a busy machine) and the examples to run.
const START_TIMEOUT: Duration = Duration::from_secs(180);
const RUN_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Debug, PartialEq)]
enum Marker {
    None,
    Run,
    Skip(String),
}

#[derive(Debug)]
struct Block {
    /// 1-based line of the opening fence.
    line: usize,
    lang: String,
    text: String,
    marker: Marker,
}

/// The fenced code blocks of a Markdown text with their markers, or every
/// misuse of the convention (as `line N: what`).
fn blocks(md: &str) -> (Vec<Block>, Vec<String>) {
    let mut out = Vec::new();
    let mut errors = Vec::new();
    let mut pending: Option<(usize, Marker)> = None;
    let mut open: Option<(usize, String, String, Marker)> = None;
    for (i, raw) in md.lines().enumerate() {
        let n = i + 1;
        let line = raw.trim();
        if let Some((start, lang, mut text, marker)) = open.take() {
            if line.starts_with("```") && line.trim_start_matches('`').is_empty() {
                out.push(Block {
                    line: start,
                    lang,
                    text,
                    marker,
                });
            } else {
                text.push_str(raw);
                text.push('\n');
                open = Some((start, lang, text, marker));
            }
            continue;
        }
        if let Some(lang) = line.strip_prefix("```") {
            let marker = pending.take().map_or(Marker::None, |(_, m)| m);
            open = Some((n, lang.trim().to_owned(), String::new(), marker));
            continue;
        }
        if line.is_empty() {
            continue;
        }
        if let Some((at, _)) = pending.take() {
            errors.push(format!(
                "line {at}: a readme-test marker must be the line just before a code block"
            ));
        }
        if line.starts_with("<!-- readme-test") {
            if line == RUN {
                pending = Some((n, Marker::Run));
            } else if let Some(reason) = line
                .strip_prefix(SKIP)
                .and_then(|r| r.strip_suffix("-->"))
                .map(str::trim)
                .filter(|r| !r.is_empty())
            {
                pending = Some((n, Marker::Skip(reason.to_owned())));
            } else {
                errors.push(format!(
                    "line {n}: write `{RUN}` or `{SKIP} REASON -->`, not `{line}`"
                ));
            }
        }
    }
    if let Some((start, ..)) = open {
        errors.push(format!("line {start}: a code block is never closed"));
    }
    if let Some((at, _)) = pending {
        errors.push(format!(
            "line {at}: a readme-test marker must be the line just before a code block"
        ));
    }
    for b in &out {
        match &b.marker {
            Marker::None if b.text.contains("curl") => errors.push(format!(
                "line {}: a code block with curl needs `{RUN}` (run it) or `{SKIP} REASON -->` \
                 on the line before it",
                b.line
            )),
            Marker::Run if !matches!(b.lang.as_str(), "sh" | "bash") => errors.push(format!(
                "line {}: only ```sh blocks can be run, not ```{}",
                b.line, b.lang
            )),
            _ => {}
        }
    }
    (out, errors)
}

fn readme() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../README.md");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn every_curl_example_is_marked() {
    let (blocks, errors) = blocks(&readme());
    assert!(errors.is_empty(), "README.md:\n{}", errors.join("\n"));
    assert!(
        blocks.iter().filter(|b| b.marker == Marker::Run).count() >= 3,
        "README.md has fewer runnable examples than expected: {blocks:#?}"
    );
}

#[test]
fn the_convention_catches_what_it_should() {
    let md = [
        "x",                                              // 1
        "",                                               // 2
        "```sh",                                          // 3: curl, unmarked
        "curl -s localhost:8080/healthz",                 // 4
        "```",                                            // 5
        "",                                               // 6
        "<!-- readme-test -->",                           // 7
        "```sh",                                          // 8
        "curl a",                                         // 9
        "```",                                            // 10
        "<!-- readme-test skip: needs a second node -->", // 11
        "```sh",                                          // 12
        "curl b",                                         // 13
        "```",                                            // 14
        "<!-- readme-test skip: -->",                     // 15: no reason
        "```sh",                                          // 16: so unmarked
        "curl c",                                         // 17
        "```",                                            // 18
        "<!-- readme-test -->",                           // 19: stray
        "",                                               // 20
        "prose",                                          // 21
        "```json",                                        // 22: no curl, no marker: fine
        "{\"a\": 1}",                                     // 23
        "```",                                            // 24
        "<!-- readme-test -->",                           // 25
        "```json",                                        // 26: cannot be run
        "{}",                                             // 27
        "```",                                            // 28
        "```",                                            // 29: curl without a language
        "curl b",                                         // 30
        "```",                                            // 31
    ]
    .join("\n");
    let (blocks, errors) = blocks(&md);
    let at = |n: usize| {
        errors
            .iter()
            .filter(|e| e.starts_with(&format!("line {n}:")))
            .count()
    };
    assert_eq!(at(3), 1, "unmarked curl block: {errors:#?}");
    assert_eq!(at(15), 1, "skip without a reason: {errors:#?}");
    assert_eq!(
        at(16),
        1,
        "the block after the empty skip is unmarked: {errors:#?}"
    );
    assert_eq!(at(19), 1, "stray marker: {errors:#?}");
    assert_eq!(at(26), 1, "a json block marked to run: {errors:#?}");
    assert_eq!(at(29), 1, "curl in a block without a language: {errors:#?}");
    assert_eq!(errors.len(), 6, "{errors:#?}");
    assert_eq!(blocks[1].marker, Marker::Run);
    assert_eq!(blocks[1].text, "curl a\n");
    assert_eq!(blocks[2].marker, Marker::Skip("needs a second node".into()));
}

/// Kills the server however the test ends.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn have(tool: &str) -> bool {
    Command::new("bash")
        .args(["-c", &format!("command -v {tool}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

#[test]
fn readme_examples_run_against_the_demo() {
    let md = readme();
    let (blocks, errors) = blocks(&md);
    assert!(errors.is_empty(), "README.md:\n{}", errors.join("\n"));
    let run: Vec<&Block> = blocks.iter().filter(|b| b.marker == Marker::Run).collect();
    let missing: Vec<&str> = ["bash", "curl", "jq"]
        .into_iter()
        .filter(|t| !have(t))
        .collect();
    if !missing.is_empty() {
        eprintln!(
            "README examples skipped: {} not installed (.ci/run installs them)",
            missing.join(" and ")
        );
        return;
    }

    // The Quick start's command, in an empty directory: `serve --demo` with the
    // default data directory, on a free port instead of 8080.
    let started = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_patron"))
        .args(["serve", "--demo", "--listen", "127.0.0.1:0"])
        .current_dir(dir.path())
        .env_remove("PATRON_DATA")
        .env_remove("PATRON_LISTEN")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let _server = Server(child);
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            if tx.send(line.unwrap_or_default()).is_err() {
                break;
            }
        }
    });
    let mut printed = Vec::new();
    for _ in 0..4 {
        let line = rx.recv_timeout(START_TIMEOUT).unwrap_or_else(|e| {
            panic!("the demo node did not print its 4 lines in {START_TIMEOUT:?} ({e}); got {printed:?}")
        });
        printed.push(line);
    }
    let port = printed[0]
        .rsplit(':')
        .next()
        .and_then(|p| p.trim().parse::<u16>().ok())
        .unwrap_or_else(|| panic!("no port in {:?}", printed[0]));
    let loaded = started.elapsed();

    // What the Quick start says `serve --demo` prints, on port 8080.
    let shown = blocks
        .iter()
        .find(|b| b.text.starts_with("Patron HQ node listening on"))
        .expect("the Quick start shows what `serve --demo` prints");
    let as_documented: Vec<String> = printed
        .iter()
        .map(|l| l.replace(&format!("127.0.0.1:{port}"), "127.0.0.1:8080"))
        .collect();
    assert_eq!(
        as_documented,
        shown.text.lines().collect::<Vec<_>>(),
        "README.md line {}: what `serve --demo` prints",
        shown.line
    );

    // Every marked block, in order, in one shell.
    let mut script = format!(
        "set -eo pipefail\n\
         curl() {{ command curl -q --fail-with-body --show-error --noproxy '*' \
         --connect-to localhost:8080:127.0.0.1:{port} \
         --connect-to 127.0.0.1:8080:127.0.0.1:{port} \"$@\"; }}\n"
    );
    for b in &run {
        script.push_str(&format!("echo '--- README.md line {}' >&2\n", b.line));
        script.push_str(&b.text);
    }
    script.push_str("echo '--- every README example ran' >&2\n");
    let script_path = dir.path().join("readme.sh");
    std::fs::write(&script_path, &script).unwrap();
    let out_path = dir.path().join("stdout");
    let err_path = dir.path().join("stderr");
    let examples = Instant::now();
    let mut shell = Command::new("bash")
        .arg("--noprofile")
        .arg("--norc")
        .arg(&script_path)
        .current_dir(dir.path())
        .env_remove("TOKEN")
        .env("CURL_HOME", dir.path())
        .env("NO_PROXY", "*")
        .env("no_proxy", "*")
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(std::fs::File::create(&err_path).unwrap())
        .spawn()
        .unwrap();
    let status = loop {
        if let Some(s) = shell.try_wait().unwrap() {
            break Some(s);
        }
        if examples.elapsed() > RUN_TIMEOUT {
            let _ = shell.kill();
            let _ = shell.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let stdout = std::fs::read_to_string(&out_path).unwrap_or_default();
    let stderr = std::fs::read_to_string(&err_path).unwrap_or_default();
    let last_block = stderr
        .lines()
        .rev()
        .find(|l| l.starts_with("--- README.md line"))
        .unwrap_or("(before the first block)");
    let ok = status.is_some_and(|s| s.success()) && stderr.contains("--- every README example ran");
    // The failed call's answer is last; what came before can be long (a search).
    let tail = stdout
        .char_indices()
        .rev()
        .nth(1500)
        .map_or(stdout.as_str(), |(i, _)| &stdout[i..]);
    assert!(
        ok,
        "a README example failed ({}) in the block at {}\n\
         --- the end of its output:\n{}\n--- stderr:\n{}",
        status.map_or("timed out".to_owned(), |s| s.to_string()),
        last_block.trim_start_matches("--- "),
        tail,
        stderr
    );
    eprintln!(
        "{} README blocks ran in {:?} against the demo (loaded in {loaded:?})",
        run.len(),
        examples.elapsed()
    );
}
