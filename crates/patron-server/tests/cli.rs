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

/// `patron user add` with the password on stdin, as an operator types it.
fn add_user(data: &str, username: &str, role: &str, password: &str) -> Output {
    patron(
        &[
            "user",
            "add",
            "--data",
            data,
            "--username",
            username,
            "--role",
            role,
            "--password-stdin",
        ],
        password,
    )
}

/// `patron serve` on a free loopback port: the process, its address, and its
/// stdout, which the caller keeps open (the node prints more; a closed pipe
/// would end it).
fn serve(
    data: &str,
    extra: &[&str],
) -> (
    std::process::Child,
    String,
    std::io::Lines<BufReader<std::process::ChildStdout>>,
) {
    let mut server = Command::new(env!("CARGO_BIN_EXE_patron"))
        .args(["serve", "--data", data, "--listen", "127.0.0.1:0"])
        .args(extra)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(server.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    let addr = first.rsplit("://").next().unwrap().trim().to_owned();
    (server, addr, lines)
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
    let out = add_user(&d, "Boss", "admin", "s3cret-pass\n");
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("created user boss with role admin"));
    let list = patron(&["user", "list", "--data", &d], "");
    assert!(text(&list.stdout).contains("boss\tadmin\tactive"));

    let out = add_user(&d, "boss", "admin", "another-pass\n");
    assert_one_line_error(&out, "already taken");
    let out = add_user(&d, "xyz", "root", "long-enough\n");
    assert_one_line_error(&out, "role");
    let out = add_user(&d, "till", "cashier", "short\n");
    assert_one_line_error(&out, "password");
    let out = add_user(
        "/proc/definitely/not/writable",
        "till",
        "cashier",
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
    assert_eq!(out.status.code(), Some(2), "rows rejected, not a failure");
    let rejects = std::fs::read_to_string(format!("{}.rejected.csv", csv.display())).unwrap();
    assert!(
        rejects.lines().nth(1).unwrap().starts_with("3,"),
        "{rejects}"
    );
    let export = patron(&["export", "--data", &d], "");
    assert_eq!(text(&export.stdout).lines().count(), 1, "only the header");
    // A usage error is one line too, and status 1: 2 means "rows rejected".
    let out = patron(&["import", "--data", &d], "");
    assert_one_line_error(&out, "<FILE>");
    assert_eq!(out.status.code(), Some(1));

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

/// Runs `patron import` on `content`; returns the output and the rejects file's lines.
fn import_bytes(dir: &Path, content: &[u8], extra: &[&str]) -> (Output, Vec<String>) {
    let csv = dir.join("in.csv");
    std::fs::write(&csv, content).unwrap();
    let rejects = dir.join("rejects.csv");
    let _ = std::fs::remove_file(&rejects);
    let d = data_arg(&dir.join("data"));
    let mut args = vec![
        "import",
        csv.to_str().unwrap(),
        "--data",
        &d,
        "--rejects",
        rejects.to_str().unwrap(),
    ];
    args.extend(extra);
    let out = patron(&args, "");
    let lines = std::fs::read(&rejects)
        .map(|r| text(&r).lines().map(str::to_owned).collect())
        .unwrap_or_default();
    (out, lines)
}

/// The exported customers as (first_name, last_name, email, notes), sorted.
fn exported(dir: &Path) -> Vec<[String; 4]> {
    let out = patron(&["export", "--data", &data_arg(&dir.join("data"))], "");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let mut rows: Vec<[String; 4]> = csv::Reader::from_reader(&out.stdout[..])
        .records()
        .map(|r| {
            let r = r.unwrap();
            [2, 3, 4, 14].map(|i| r[i].to_owned())
        })
        .collect();
    rows.sort();
    rows
}

fn names(rows: &[[String; 4]]) -> Vec<&str> {
    rows.iter().map(|r| r[0].as_str()).collect()
}

#[test]
fn an_unterminated_quote_rejects_its_line_and_the_rows_after_it_import() {
    let dir = tempfile::tempdir().unwrap();
    let (out, rejects) = import_bytes(
        dir.path(),
        b"first_name,last_name,email\n\
          Ann,Lee,ann@example.com\n\
          \"Bob,Ray,bob@example.com\n\
          Cy,Fox,cy@example.com\n\
          \"Dee, Jr\",Ho,dee@example.com\n\
          Eve,Ng,eve@example.com\n",
        &[],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert_eq!(rejects.len(), 2, "{rejects:?}");
    assert!(
        rejects[1].starts_with("3,") && rejects[1].contains("unterminated quote"),
        "{rejects:?}"
    );
    assert!(
        rejects[1].contains("Bob,Ray,bob@example.com"),
        "{rejects:?}"
    );
    assert_eq!(
        names(&exported(dir.path())),
        ["Ann", "Cy", "Dee, Jr", "Eve"]
    );
    // Open at the very end of the file: that line alone.
    let dir = tempfile::tempdir().unwrap();
    let (out, rejects) = import_bytes(dir.path(), b"name\nAnn Lee\n\"Bob Ray", &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        rejects[1].starts_with("3,unterminated quote,"),
        "{rejects:?}"
    );
}

#[test]
fn a_quoted_field_across_lines_imports_and_later_lines_keep_their_numbers() {
    let dir = tempfile::tempdir().unwrap();
    let (out, rejects) = import_bytes(
        dir.path(),
        b"first_name,last_name,email,notes\n\
          Ann,Lee,ann@example.com,\"Allergic to nuts, and\n\
          \n\
          call before 5 pm (\"\"urgent\"\")\"\n\
          Bob,Ray,bob@example.com,\n",
        &[],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(rejects.is_empty());
    let rows = exported(dir.path());
    assert_eq!(
        rows[0][3],
        "Allergic to nuts, and\n\ncall before 5 pm (\"urgent\")"
    );
    assert_eq!(names(&rows), ["Ann", "Bob"]);

    // The rows after a multi-line one (and after blank lines, in a CRLF file
    // with a byte-order mark) are numbered as an editor numbers them.
    let dir = tempfile::tempdir().unwrap();
    let (out, rejects) = import_bytes(
        dir.path(),
        b"\xEF\xBB\xBFfirst_name,last_name,email,notes\r\n\
          Ann,Lee,ann@example.com,\"two\r\nlines\"\r\n\
          \r\n\
          Bob,Ray,not-an-email,\r\n",
        &[],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        rejects[1].starts_with("5,") && rejects[1].contains("email"),
        "{rejects:?}"
    );
    assert_eq!(exported(dir.path())[0][3], "two\r\nlines");
}

#[test]
fn short_long_and_non_utf8_rows_are_rejected_with_their_line() {
    let dir = tempfile::tempdir().unwrap();
    let (out, rejects) = import_bytes(
        dir.path(),
        b"first_name,last_name,email\n\
          Ann,Lee,ann@example.com\n\
          Bob,Ray\n\
          Cy,Fox,cy@example.com,extra\n\
          D\xFFe,Ho,dee@example.com\n\
          Eve,Ng,eve@example.com\n",
        &[],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("imported 2 customers"));
    // The rejected cells are the original bytes (here shown lossily).
    assert_eq!(
        rejects,
        [
            "line,error,first_name,last_name,email",
            "3,2 fields where the header has 3,Bob,Ray",
            "4,4 fields where the header has 3,Cy,Fox,cy@example.com,extra",
            "5,column 1 is not valid UTF-8,D\u{FFFD}e,Ho,dee@example.com",
        ]
    );
    assert_eq!(names(&exported(dir.path())), ["Ann", "Eve"]);

    // With --strict, the same file writes nothing, and still lists every reject.
    let dir = tempfile::tempdir().unwrap();
    let (out, strict_rejects) = import_bytes(
        dir.path(),
        b"first_name,last_name,email\nAnn,Lee,ann@example.com\nBob,Ray\n",
        &["--strict"],
    );
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(strict_rejects.len(), 2);
    assert!(exported(dir.path()).is_empty());
    // So does a row only the database rejects (an email used twice).
    let (out, strict_rejects) = import_bytes(
        dir.path(),
        b"first_name,last_name,email\nAnn,Lee,ann@example.com\nAnn,Ray,ANN@example.com\n",
        &["--strict"],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(
        strict_rejects[1].starts_with("3,") && strict_rejects[1].contains("already used"),
        "{strict_rejects:?}"
    );
    assert!(exported(dir.path()).is_empty());
}

#[test]
fn a_formula_like_name_survives_export_and_import() {
    let name = "=cmd|' /C calc'!A0";
    let dir = tempfile::tempdir().unwrap();
    let (out, _) = import_bytes(
        dir.path(),
        format!("first_name,last_name\n\"{name}\",-Lee\n").as_bytes(),
        &[],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let first = patron(
        &["export", "--data", &data_arg(&dir.path().join("data"))],
        "",
    );
    // Neutralised for spreadsheets...
    assert!(text(&first.stdout).contains(&format!("'{name},'-Lee")));
    let again = tempfile::tempdir().unwrap();
    let (out, _) = import_bytes(again.path(), &first.stdout, &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    // ...and exactly the same after a second trip.
    let second = exported(again.path());
    assert_eq!(second, exported(dir.path()));
    assert_eq!(second[0][0], format!("'{name}"));
}

#[test]
fn serve_demo_and_add_a_user_while_it_runs() {
    let dir = tempfile::tempdir().unwrap();
    let d = data_arg(dir.path());
    let (mut server, addr, mut lines) = serve(&d, &["--demo"]);
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

    let out = add_user(&d, "late", "cashier", "added-while-running\n");
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
    let out = add_user(hq, "ann", "admin", "long-enough-pw\n");
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

#[test]
fn accounts_and_store_tokens_can_be_taken_back_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let d = data_arg(dir.path());
    let add = |name: &str, role: &str| add_user(&d, name, role, "a fine password\n");
    assert!(add("boss", "admin").status.success());
    // Roles are defined, listed, assigned, and removed only when unused.
    let out = patron(
        &[
            "role",
            "set",
            "--data",
            &d,
            "shift lead",
            "--permissions",
            "customers.view,orders.create,orders.refund",
        ],
        "",
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = patron(
        &["role", "set", "--data", &d, "bad", "--permissions", "root"],
        "",
    );
    assert_one_line_error(&out, "not a permission");
    let list = text(&patron(&["role", "list", "--data", &d], "").stdout);
    assert!(list.contains("shift lead\tcustom\tcustomers.view,orders.create,orders.refund"));
    assert!(list.contains("cashier\tbuilt-in\t"));
    assert!(add("lee", "shift lead").status.success());
    assert_one_line_error(
        &patron(&["role", "remove", "--data", &d, "shift lead"], ""),
        "hold the role",
    );

    // Deactivate, reactivate, change role, set a password.
    let out = patron(&["user", "deactivate", "--data", &d, "lee"], "");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let users = text(&patron(&["user", "list", "--data", &d], "").stdout);
    assert!(users.contains("lee\tshift lead\tinactive\tHQ"), "{users}");
    assert!(
        patron(&["user", "reactivate", "--data", &d, "lee"], "")
            .status
            .success()
    );
    let out = patron(
        &["user", "set", "--data", &d, "lee", "--role", "cashier"],
        "",
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_one_line_error(
        &patron(&["user", "set", "--data", &d, "lee", "--store", "S99"], ""),
        "not registered",
    );
    assert_one_line_error(
        &patron(
            &[
                "user",
                "set-password",
                "--data",
                &d,
                "lee",
                "--password-stdin",
            ],
            "password\n",
        ),
        "commonly used",
    );
    let out = patron(
        &[
            "user",
            "set-password",
            "--data",
            &d,
            "lee",
            "--password-stdin",
        ],
        "a new good one\n",
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    // The last admin cannot be deactivated.
    assert_one_line_error(
        &patron(&["user", "deactivate", "--data", &d, "boss"], ""),
        "manage users",
    );
    assert!(
        patron(&["role", "remove", "--data", &d, "shift lead"], "")
            .status
            .success()
    );

    // A store's token is rotated (printed on the last line) and revoked.
    let out = patron(&["store", "add", "--data", &d, "S01", "--name", "One"], "");
    assert!(out.status.success());
    let first = text(&out.stdout).lines().last().unwrap().to_owned();
    let out = patron(&["store", "rotate-token", "--data", &d, "S01"], "");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let second = text(&out.stdout).lines().last().unwrap().to_owned();
    assert!(second.starts_with("pst_") && second != first);
    assert!(
        patron(&["store", "revoke", "--data", &d, "S01"], "")
            .status
            .success()
    );
    assert_one_line_error(
        &patron(&["store", "revoke", "--data", &d, "S77"], ""),
        "not registered",
    );
    // A store node needs its token from the environment or a file, not argv.
    let out = patron(
        &[
            "serve",
            "--data",
            &d,
            "--store",
            "S01",
            "--hq",
            "http://127.0.0.1:9",
        ],
        "",
    );
    assert_one_line_error(&out, "PATRON_SYNC_TOKEN");
}

/// `patron --version` names the release and the commit it was built from.
#[test]
fn version_names_the_release_and_the_commit() {
    let out = patron(&["--version"], "");
    assert!(out.status.success());
    let v = text(&out.stdout);
    let expected = format!("patron {} (commit ", env!("CARGO_PKG_VERSION"));
    assert!(v.starts_with(&expected), "{v}");
    let commit = v.trim().trim_start_matches(&expected).trim_end_matches(')');
    assert!(
        commit == "unknown"
            || (commit.len() == 12 && commit.chars().all(|c| c.is_ascii_hexdigit())),
        "{v}"
    );
}

/// Logs written anywhere but a terminal are one JSON object a line, with no
/// colour codes; `PATRON_LOG_FORMAT=text` gives plain text, still uncoloured.
#[test]
fn logs_off_a_terminal_are_json_lines_without_colour() {
    let dir = tempfile::tempdir().unwrap();
    let run = |format: Option<&str>, data: &Path| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_patron"));
        cmd.args(["user", "list", "--data", &data_arg(data)])
            .env("RUST_LOG", "info")
            .env_remove("PATRON_LOG_FORMAT")
            .stdin(Stdio::null());
        if let Some(f) = format {
            cmd.env("PATRON_LOG_FORMAT", f);
        }
        cmd.output().unwrap()
    };
    let out = run(None, &dir.path().join("a"));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(!err.contains('\u{1b}'), "{err}");
    let lines: Vec<&str> = err.lines().collect();
    assert!(!lines.is_empty());
    for l in &lines {
        let v: Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"));
        assert!(
            v["level"].is_string() && v["fields"]["message"].is_string(),
            "{l}"
        );
    }
    assert!(err.contains("applied database migration"), "{err}");
    let out = run(Some("text"), &dir.path().join("b"));
    let err = text(&out.stderr);
    assert!(
        err.contains("INFO") && !err.contains('\u{1b}') && !err.starts_with('{'),
        "{err}"
    );
}

/// SIGTERM (what service managers and containers send) drains like Ctrl-C:
/// the node stops taking connections, answers what it took, exits 0; no
/// write is committed without its answer.
#[test]
fn sigterm_drains_and_leaves_no_write_unanswered() {
    let dir = tempfile::tempdir().unwrap();
    let d = data_arg(dir.path());
    let out = add_user(&d, "admin", "admin", "a long secret 123\n");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let (mut server, addr, _out) = serve(&d, &[]);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let login = |addr: String| async move {
        let r: Value = reqwest::Client::new()
            .post(format!("http://{addr}/api/v1/auth/login"))
            .json(&json!({"username": "admin", "password": "a long secret 123"}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        r["token"].as_str().unwrap().to_owned()
    };
    let unanswered: Vec<String> = rt.block_on(async {
        let token = login(addr.clone()).await;
        let client = reqwest::Client::new();
        // Four registers creating customers as fast as they can.
        let mut tasks = Vec::new();
        for w in 0..4 {
            let (client, addr, token) = (client.clone(), addr.clone(), token.clone());
            tasks.push(tokio::spawn(async move {
                let mut lost = Vec::new();
                for i in 0..100_000 {
                    let id = uuid::Uuid::now_v7().to_string();
                    let r = client
                        .post(format!("http://{addr}/api/v1/customers"))
                        .bearer_auth(&token)
                        .json(&json!({"id": id, "first_name": "Term", "last_name": format!("W{w}N{i}")}))
                        .send()
                        .await;
                    match r {
                        Ok(r) if r.status().is_success() => {}
                        Ok(r) if r.status() == 503 => break,
                        Ok(r) => panic!("{}", r.status()),
                        // Refused or cut: whether it was written is checked below.
                        Err(_) => {
                            lost.push(id);
                            break;
                        }
                    }
                }
                lost
            }));
        }
        tokio::time::sleep(std::time::Duration::from_millis(700)).await;
        let killed = Command::new("kill")
            .args(["-TERM", &server.id().to_string()])
            .status()
            .unwrap();
        assert!(killed.success());
        let mut lost = Vec::new();
        for t in tasks {
            lost.extend(t.await.unwrap());
        }
        lost
    });
    eprintln!("creates without an answer: {}", unanswered.len());
    // It exits by itself, cleanly, within the drain bound.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    let status = loop {
        if let Some(s) = server.try_wait().unwrap() {
            break s;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "still running after SIGTERM"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    assert!(status.success(), "exit {status:?}");
    // Every create that got no answer was not written.
    let (mut again, addr, _out2) = serve(&d, &[]);
    rt.block_on(async {
        let token = login(addr.clone()).await;
        let client = reqwest::Client::new();
        for id in &unanswered {
            let r = client
                .get(format!("http://{addr}/api/v1/customers/{id}"))
                .bearer_auth(&token)
                .send()
                .await
                .unwrap();
            assert_eq!(
                r.status(),
                404,
                "customer {id} was written but never answered"
            );
        }
    });
    let _ = again.kill();
}
