//! A chain moving in: the customer exports of the systems it comes from,
//! imported at HQ with their balances, totals and groups, reaching a store
//! node over real sync; a re-run changes nothing; `--dry-run` writes nothing.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::nodes::*;
use common::spawn_app;
use patron_server::import::{ImportOptionsArgs, import_file};
use serde_json::Value;
use std::path::PathBuf;
use std::process::Command;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/import_fixtures")
        .join(name)
}

async fn one(app: &common::TestApp, token: &str, q: &str) -> Value {
    let found = find(app, token, q).await;
    assert_eq!(found.len(), 1, "{q}: {found:?}");
    found[0].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_supported_export_imports_with_what_it_brings_and_reaches_a_store() {
    let hq = spawn_app().await;
    let th = hq.login("admin").await;
    let s1 = spawn_store(&hq, "S01").await;
    let t1 = s1.app.login("admin").await;
    let opts = ImportOptionsArgs {
        create_groups: true,
        ..Default::default()
    };
    let mut imported = 0;
    for (file, source, rows, rejected) in [
        ("square.csv", "Square (Customers export)", 6, 0),
        ("shopify.csv", "Shopify (customers export)", 5, 0),
        (
            "lightspeed_retail.csv",
            "Lightspeed Retail R-Series (customers export)",
            5,
            0,
        ),
        (
            "lightspeed_x.csv",
            "Lightspeed Retail X-Series / Vend (customers export)",
            4,
            // The WALKIN placeholder has no name.
            1,
        ),
        ("poster.csv", "Poster (clients export)", 5, 0),
    ] {
        let s = import_file(hq.storage.clone(), &fixture(file), &opts, false)
            .await
            .unwrap();
        assert_eq!(s.source, Some(source), "{file}");
        assert_eq!(s.imported(), rows, "{file}: {:?}", s.rejected);
        assert_eq!(s.rejected.len(), rejected, "{file}: {:?}", s.rejected);
        imported += rows;
    }
    assert_eq!(hq.storage.count_customers().await.unwrap(), imported as u64);

    // Square: "$1,284.50" lifetime spend and 47 transactions.
    let maria = one(&hq, &th, "maria.gonzalez").await;
    assert_eq!(maria["date_of_birth"], "1988-07-21");
    let id = maria["id"].as_str().unwrap().to_owned();
    let act = activity(&hq, &th, &id).await;
    assert_eq!(
        (act["total_spent"].as_i64(), act["visits"].as_i64()),
        (Some(128_450), Some(47))
    );
    // Shopify: tags became manual groups; the apostrophe-quoted phone is read.
    let olivia = one(&hq, &th, "olivia.bennett").await;
    assert_eq!(olivia["phone"], "+12015550111");
    let groups: Vec<String> = activity(&hq, &th, olivia["id"].as_str().unwrap()).await["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["name"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert!(
        groups.contains(&"VIP".to_owned()) && groups.contains(&"newsletter".to_owned()),
        "{groups:?}"
    );
    // Lightspeed X-Series: day-first dates; the loyalty balance as points,
    // written as an opening ledger entry.
    let ella = one(&hq, &th, "ella.morgan").await;
    assert_eq!(ella["date_of_birth"], "1986-11-23");
    let ella_id = ella["id"].as_str().unwrap().to_owned();
    let at_hq = get_customer(&hq, &th, &ella_id).await;
    assert_eq!(at_hq["balances"]["points"]["balance"], 1_250);
    let ledger: Value = hq
        .get(&th, &format!("/api/v1/customers/{ella_id}/ledger"))
        .await
        .json()
        .await
        .unwrap();
    let entries = ledger["items"]
        .as_array()
        .or(ledger.as_array())
        .unwrap()
        .clone();
    assert_eq!(entries.len(), 1, "{ledger}");
    assert_eq!(entries[0]["kind"], "opening");
    assert_eq!(entries[0]["amount"], 1_250);
    // Poster: last name first, decimal commas, Cyrillic column names.
    let olena = one(&hq, &th, "olena.kovalenko").await;
    assert_eq!(
        (olena["first_name"].as_str(), olena["last_name"].as_str()),
        (Some("Олена Петрівна"), Some("Коваленко"))
    );
    let olena_id = olena["id"].as_str().unwrap().to_owned();
    assert_eq!(
        get_customer(&hq, &th, &olena_id).await["balances"]["points"]["balance"],
        12_550
    );
    assert_eq!(activity(&hq, &th, &olena_id).await["total_spent"], 417_000);

    // The store has the same customers, balances and totals.
    eventually("the imported customers at the store", || async {
        let c = get_customer(&s1.app, &t1, &ella_id).await;
        c["balances"] == at_hq["balances"]
            && activity(&s1.app, &t1, &id).await["total_spent"] == 128_450
            && activity(&s1.app, &t1, &id).await["visits"] == 47
            && activity(&s1.app, &t1, &olena_id).await["total_spent"] == 417_000
    })
    .await;

    // The same files again: nothing changes.
    for file in [
        "square.csv",
        "shopify.csv",
        "lightspeed_retail.csv",
        "lightspeed_x.csv",
        "poster.csv",
    ] {
        let s = import_file(hq.storage.clone(), &fixture(file), &opts, false)
            .await
            .unwrap();
        assert_eq!(s.imported(), 0, "{file}");
        assert!(s.outcome.already_imported > 0, "{file}");
    }
    assert_eq!(hq.storage.count_customers().await.unwrap(), imported as u64);
    assert_eq!(
        get_customer(&hq, &th, &ella_id).await["balances"],
        at_hq["balances"]
    );
}

fn patron(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_patron"))
        .args(args)
        .env("RUST_LOG", "warn")
        .output()
        .unwrap()
}

#[test]
fn dry_run_shows_the_mapping_and_writes_nothing_then_a_rerun_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let d = data.display().to_string();
    let file = dir.path().join("shopify.csv");
    std::fs::copy(fixture("shopify.csv"), &file).unwrap();
    let f = file.display().to_string();
    let count = || {
        let out = patron(&["export", "--data", &d]);
        csv::Reader::from_reader(&out.stdout[..]).records().count()
    };

    let out = patron(&["import", &f, "--data", &d, "--dry-run"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.code() == Some(2), "{stdout}");
    assert!(stdout.contains("recognised as Shopify"), "{stdout}");
    assert!(
        stdout.contains("Total Spent") && stdout.contains("→ lifetime spend"),
        "{stdout}"
    );
    assert!(
        stdout.contains("Tags") && stdout.contains("→ groups"),
        "{stdout}"
    );
    // Only Tomás has no tags.
    assert!(stdout.contains("would import 1 customers"), "{stdout}");
    // Without --create-groups, the tags that are no group yet reject their rows.
    let rejects = std::fs::read_to_string(dir.path().join("shopify.csv.rejected.csv")).unwrap();
    assert!(rejects.contains("there is no group named VIP"), "{rejects}");
    assert_eq!(count(), 0);

    let out = patron(&["import", &f, "--data", &d, "--create-groups"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("imported 5 customers"), "{stdout}");
    assert!(
        stdout.contains("lifetime spend 7301.75, 57 visits"),
        "{stdout}"
    );
    assert_eq!(count(), 5);

    let out = patron(&["import", &f, "--data", &d, "--create-groups"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(stdout.contains("imported 0 customers"), "{stdout}");
    assert!(
        stdout.contains("skipped 5 rows imported before"),
        "{stdout}"
    );
    assert_eq!(count(), 5);
}
