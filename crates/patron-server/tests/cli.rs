//! The `patron` binary as an operator uses it: real processes, real files.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Output, Stdio};

fn patron(args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_patron"))
        .args(args)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A failed command prints exactly one line, starting `error:`, and exits non-zero.
fn assert_one_line_error(out: &Output, contains: &str) {
    assert!(
        !out.status.success(),
        "expected failure, got {:?}",
        out.status
    );
    let err = text(&out.stderr);
    let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "stderr: {err}");
    assert!(lines[0].starts_with("error: "), "stderr: {err}");
    assert!(lines[0].contains(contains), "stderr: {err}");
}

fn data_arg(dir: &Path) -> String {
    dir.display().to_string()
}

#[test]
fn user_add_works_before_the_first_serve_and_refuses_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let d = data_arg(dir.path());
    let out = patron(
        &[
            "user",
            "add",
            "--data",
            &d,
            "--username",
            "Boss",
            "--role",
            "admin",
            "--password-stdin",
        ],
        "s3cret-pass\n",
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("created user boss with role admin"));
    let list = patron(&["user", "list", "--data", &d], "");
    assert!(text(&list.stdout).contains("boss\tadmin\tactive"));

    let out = patron(
        &[
            "user",
            "add",
            "--data",
            &d,
            "--username",
            "boss",
            "--role",
            "admin",
            "--password-stdin",
        ],
        "another-pass\n",
    );
    assert_one_line_error(&out, "already taken");
    let out = patron(
        &[
            "user",
            "add",
            "--data",
            &d,
            "--username",
            "xyz",
            "--role",
            "root",
            "--password-stdin",
        ],
        "long-enough\n",
    );
    assert_one_line_error(&out, "role");
    let out = patron(
        &[
            "user",
            "add",
            "--data",
            &d,
            "--username",
            "till",
            "--role",
            "cashier",
            "--password-stdin",
        ],
        "short\n",
    );
    assert_one_line_error(&out, "password");
    let out = patron(
        &[
            "user",
            "add",
            "--data",
            "/proc/definitely/not/writable",
            "--username",
            "till",
            "--role",
            "cashier",
            "--password-stdin",
        ],
        "long-enough\n",
    );
    assert_one_line_error(&out, "data directory");
}

#[test]
fn import_reports_rejected_rows_and_exports_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let d = data_arg(&dir.path().join("data"));
    let csv = dir.path().join("from-other-pos.csv");
    std::fs::write(
        &csv,
        "First Name,Surname,E-mail,Cell Phone,DOB,Loyalty Tier\n\
         Anna,Müller,anna@example.com,(201) 555-0123,1990-05-17,Gold\n\
         Bob,Stone,not-an-email,,,Silver\n\
         Cara,,cara@example.com,,,\n\
         Dan,Ray,ANNA@example.com,,,\n\
         Émile,Zola,emile@example.com,+33 1 23 45 67 89,1840-04-02,\n\
         Fay,Wong,fay@example.com,212-555-0143,,\n",
    )
    .unwrap();
    let out = patron(&["import", csv.to_str().unwrap(), "--data", &d], "");
    assert_eq!(
        out.status.code(),
        Some(2),
        "stdout: {} stderr: {}",
        text(&out.stdout),
        text(&out.stderr)
    );
    let stdout = text(&out.stdout);
    assert!(stdout.contains("imported 2 customers"), "{stdout}");
    assert!(stdout.contains("rejected 4 rows"), "{stdout}");
    assert!(text(&out.stderr).contains("ignored columns: Loyalty Tier"));
    let rejects = std::fs::read_to_string(format!("{}.rejected.csv", csv.display())).unwrap();
    let lines: Vec<&str> = rejects.lines().collect();
    assert_eq!(
        lines[0],
        "line,error,First Name,Surname,E-mail,Cell Phone,DOB,Loyalty Tier"
    );
    assert!(
        lines[1].starts_with("3,") && lines[1].contains("email"),
        "{rejects}"
    );
    assert!(
        lines[2].starts_with("4,") && lines[2].contains("last_name"),
        "{rejects}"
    );
    assert!(
        lines[3].starts_with("5,") && lines[3].contains("already used"),
        "{rejects}"
    );
    assert!(
        lines[4].starts_with("6,") && lines[4].contains("date_of_birth"),
        "{rejects}"
    );
    assert_eq!(lines.len(), 5);

    let export = dir.path().join("export.csv");
    let out = patron(
        &["export", "--data", &d, "--output", export.to_str().unwrap()],
        "",
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let exported = std::fs::read_to_string(&export).unwrap();
    assert!(exported.starts_with("code,id,first_name,last_name,email,phone,"));
    assert!(exported.contains("CUST-00001,"));
    assert!(exported.contains("Müller"));
    assert!(exported.contains("+12015550123"));
    assert_eq!(exported.lines().count(), 3);

    // The export imports back into a fresh node with nothing rejected.
    let d2 = data_arg(&dir.path().join("data2"));
    let out = patron(&["import", export.to_str().unwrap(), "--data", &d2], "");
    assert!(
        out.status.success(),
        "{} {}",
        text(&out.stdout),
        text(&out.stderr)
    );
    let again = patron(&["export", "--data", &d2], "");
    let strip = |s: &str| -> Vec<String> {
        // id and timestamps are new; everything the customer gave must match.
        s.lines()
            .map(|l| {
                let f: Vec<&str> = l.split(',').collect();
                f[2..f.len() - 2].join(",")
            })
            .collect()
    };
    assert_eq!(strip(&text(&again.stdout)), strip(&exported));
}

#[test]
fn strict_import_writes_nothing_and_bad_files_are_one_line_errors() {
    let dir = tempfile::tempdir().unwrap();
    let d = data_arg(&dir.path().join("data"));
    let csv = dir.path().join("c.csv");
    std::fs::write(
        &csv,
        "name,email\nAnn Lee,ann@example.com\nBob Ray,broken\n",
    )
    .unwrap();
    let out = patron(
        &["import", csv.to_str().unwrap(), "--data", &d, "--strict"],
        "",
    );
    assert_one_line_error(&out, "nothing imported");
    let export = patron(&["export", "--data", &d], "");
    assert_eq!(text(&export.stdout).lines().count(), 1, "only the header");

    let out = patron(&["import", "/no/such/file.csv", "--data", &d], "");
    assert_one_line_error(&out, "/no/such/file.csv");
    let nameless = dir.path().join("n.csv");
    std::fs::write(&nameless, "foo,bar\n1,2\n").unwrap();
    let out = patron(&["import", nameless.to_str().unwrap(), "--data", &d], "");
    assert_one_line_error(&out, "first");
    let out = patron(
        &[
            "import",
            nameless.to_str().unwrap(),
            "--data",
            &d,
            "--map",
            "foo=favourite",
        ],
        "",
    );
    assert_one_line_error(&out, "not a customer field");
}

#[test]
fn serve_demo_and_add_a_user_while_it_runs() {
    let dir = tempfile::tempdir().unwrap();
    let d = data_arg(dir.path());
    let mut server = Command::new(env!("CARGO_BIN_EXE_patron"))
        .args(["serve", "--data", &d, "--listen", "127.0.0.1:0", "--demo"])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(server.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    let addr = first.rsplit("http://").next().unwrap().trim().to_owned();
    let mut printed = Vec::new();
    for _ in 0..3 {
        printed.push(lines.next().unwrap().unwrap());
    }
    assert!(
        printed
            .iter()
            .any(|l| l.contains("demo login: admin / patron-demo")),
        "{printed:?}"
    );

    let out = patron(
        &[
            "user",
            "add",
            "--data",
            &d,
            "--username",
            "late",
            "--role",
            "cashier",
            "--password-stdin",
        ],
        "added-while-running\n",
    );
    assert!(out.status.success(), "{}", text(&out.stderr));

    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let client = reqwest::Client::new();
        let login = |u: &'static str, p: &'static str| {
            let client = client.clone();
            let addr = addr.clone();
            async move {
                client
                    .post(format!("http://{addr}/api/v1/auth/login"))
                    .json(&json!({"username": u, "password": p}))
                    .send()
                    .await
                    .unwrap()
            }
        };
        let r = login("late", "added-while-running").await;
        assert_eq!(r.status(), 200);
        let token = r.json::<Value>().await.unwrap()["token"]
            .as_str()
            .unwrap()
            .to_owned();
        let page: Value = client
            .get(format!("http://{addr}/api/v1/customers?limit=500"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(page["items"].as_array().unwrap().len(), 500);
        assert!(page["next_cursor"].is_string());
        assert_eq!(login("admin", "patron-demo").await.status(), 200);
    });
    server.kill().unwrap();
    let _ = server.wait();
}

#[test]
fn store_add_prints_the_token_last_and_store_nodes_refuse_foreign_data() {
    let dir = tempfile::tempdir().unwrap();
    let hq = dir.path().join("hq");
    let hq = hq.to_str().unwrap();
    let out = patron(
        &["store", "add", "--data", hq, "S01", "--name", "Main Street"],
        "",
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let token = stdout.lines().last().unwrap();
    assert!(token.starts_with("pst_") && token.len() > 40, "{stdout}");
    let out = patron(&["store", "list", "--data", hq], "");
    assert_eq!(text(&out.stdout).trim(), "S01\tMain Street");
    // Registering it again, or a bad id, is one clear line.
    let out = patron(
        &["store", "add", "--data", hq, "S01", "--name", "Again"],
        "",
    );
    assert_one_line_error(&out, "already registered");
    let out = patron(
        &["store", "add", "--data", hq, "no spaces!", "--name", "x"],
        "",
    );
    assert!(!out.status.success());
    // A user of a store that was never registered is refused.
    let out = patron(
        &[
            "user",
            "add",
            "--data",
            hq,
            "--username",
            "stray",
            "--role",
            "cashier",
            "--store",
            "S99",
            "--password-stdin",
        ],
        "long-enough-pw\n",
    );
    assert_one_line_error(&out, "store S99 is not registered");
    // A data directory with customers of its own cannot become a store's replica.
    let out = patron(
        &[
            "user",
            "add",
            "--data",
            hq,
            "--username",
            "ann",
            "--role",
            "admin",
            "--password-stdin",
        ],
        "long-enough-pw\n",
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let csv = dir.path().join("c.csv");
    std::fs::write(&csv, "first_name,last_name\nAnn,Lee\n").unwrap();
    let out = patron(&["import", csv.to_str().unwrap(), "--data", hq], "");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = patron(
        &[
            "serve",
            "--data",
            hq,
            "--listen",
            "127.0.0.1:0",
            "--store",
            "S01",
            "--hq",
            "http://127.0.0.1:9",
            "--token",
            token,
        ],
        "",
    );
    assert_one_line_error(&out, "already holds customers");
    // --store needs --hq and --token.
    let out = patron(&["serve", "--data", hq, "--store", "S01"], "");
    assert!(!out.status.success());
}
