//! Receipts: what the order and return APIs give a receipt to print, and the
//! emailed copy, sent through a real SMTP server on loopback from the durable
//! outbox, retried when the server refuses, never holding up a sale.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::nodes::eventually;
use common::smtp::SmtpServer;
use common::{TestApp, spawn_app_built};
use patron_server::receipts::Mailer;
use patron_storage::ReceiptMail;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::time::Duration;

async fn app_mailing(url: &str, mode: ReceiptMail) -> TestApp {
    let mailer = Mailer::new(url, "Patron Receipts <receipts@chain.test>", mode)
        .unwrap()
        .with_timing(Duration::from_millis(30), Duration::from_millis(100));
    spawn_app_built(|_| {}, move |a| a.with_mailer(Some(mailer))).await
}

async fn json_of(r: reqwest::Response, status: StatusCode) -> Value {
    let got = r.status();
    let body: Value = r.json().await.unwrap();
    assert_eq!(got, status, "{body}");
    body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receipts_name_the_customer_and_are_emailed_once_through_a_busy_server() {
    // The server refuses the first transaction (451): the outbox tries again.
    let smtp = SmtpServer::start(1).await;
    let app = app_mailing(&smtp.url(), ReceiptMail::All).await;
    let admin = app.login("admin").await;
    let cashier = app.login("cashier").await;
    let c = app
        .create(
            &admin,
            json!({"first_name": "Rita", "last_name": "Receipt", "email": "rita@example.com",
                   "tax_id": "DE123456789"}),
        )
        .await;
    let (cid, code) = (c["id"].as_str().unwrap(), c["code"].as_str().unwrap());
    json_of(
        app.post(
            &admin,
            "/api/v1/groups",
            &json!({"name": "Points", "kind": "auto", "rule": "visits >= 0",
                    "program": {"kind": "points", "percent": 2.5, "max_redeem_percent": 30}}),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    json_of(
        app.post(
            &admin,
            &format!("/api/v1/customers/{cid}/ledger"),
            &json!({"account": "credit", "kind": "top-up", "amount": 2000, "reason": "gift card",
                    "idempotency_key": "gc-1"}),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;

    let sale = json!({"id": "reg1-000101", "customer": code, "lines": [
        {"sku": "TEA-1", "name": "Green tea", "quantity": 2, "unit_price": 1250},
        {"sku": "CUP-1", "name": "Cup", "quantity": 1, "unit_price": 799}
    ], "redeem_credit": 500});
    let o = json_of(
        app.post(&cashier, "/api/v1/orders", &sale).await,
        StatusCode::CREATED,
    )
    .await;
    let r = &o["receipt"];
    assert_eq!(r["customer_name"], "Rita Receipt", "{o}");
    assert_eq!(r["customer_code"], code);
    assert_eq!(r["tax_id"], "DE123456789");
    assert_eq!(r["credit_balance_after"], 1500);
    assert_eq!(r["points_balance_after"], o["earned"]);
    assert_eq!(o["credit_redeemed"], 500);
    // The same from a later read.
    let read = json_of(
        app.get(&cashier, "/api/v1/orders/reg1-000101").await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(read["receipt"], o["receipt"]);

    eventually("the sale's receipt email", || async {
        smtp.mails().len() == 1
    })
    .await;
    let mail = &smtp.mails()[0];
    assert!(mail.to[0].contains("rita@example.com"), "{mail:?}");
    assert!(mail.from.contains("receipts@chain.test"), "{mail:?}");
    for text in [
        "Subject: Your receipt reg1-000101",
        "Rita Receipt",
        code,
        "Tax ID: DE123456789",
        "Green tea",
        "Store credit used  5.00",
        "Balance now:",
    ] {
        assert!(
            mail.text().contains(text),
            "{text:?} not in\n{}",
            mail.text()
        );
    }
    assert_eq!(smtp.attempts.load(std::sync::atomic::Ordering::SeqCst), 2);

    // The sale sent again (a retry): recorded once, emailed once.
    json_of(
        app.post(&cashier, "/api/v1/orders", &sale).await,
        StatusCode::OK,
    )
    .await;

    // A return: its receipt and its email.
    let ret = json_of(
        app.post(
            &admin,
            "/api/v1/orders/reg1-000101/returns",
            &json!({"id": "ret-000101", "lines": [{"line": 1, "quantity": 1}]}),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(ret["receipt"]["customer_code"], code, "{ret}");
    let again = json_of(
        app.get(&cashier, "/api/v1/returns/ret-000101").await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(again["receipt"], ret["receipt"]);
    assert_eq!(again["net"], ret["net"]);
    let missing = app.get(&cashier, "/api/v1/returns/no-such-return").await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    eventually("the return's receipt email", || async {
        smtp.mails().len() == 2
    })
    .await;
    let mail = &smtp.mails()[1];
    assert!(
        mail.text().contains("Subject: Your return ret-000101")
            && mail.text().contains("1 × Cup  -7.99"),
        "{}",
        mail.text()
    );

    // No email, nothing queued.
    let plain = app
        .create(&admin, json!({"first_name": "No", "last_name": "Mail"}))
        .await;
    json_of(
        app.post(
            &cashier,
            "/api/v1/orders",
            &json!({"id": "reg1-000102", "customer": plain["code"],
                    "lines": [{"sku": "CUP-1", "name": "Cup", "quantity": 1, "unit_price": 799}]}),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    let status = app.storage.receipt_outbox_status().await.unwrap();
    assert_eq!((status.sent, status.pending, status.failed), (2, 0, 0));
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(smtp.mails().len(), 2, "the retried sale was emailed again");
}

/// With `consented`, only customers who agreed to email get one; with the
/// mail server away, sales still go through and their receipts wait.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_mail_server_never_holds_up_a_sale() {
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let app = app_mailing(
        &format!("smtp://127.0.0.1:{closed}"),
        ReceiptMail::Consented,
    )
    .await;
    let admin = app.login("admin").await;
    let yes = app
        .create(
            &admin,
            json!({"first_name": "Yes", "last_name": "Consent", "email": "yes@example.com",
                   "marketing_consent": true}),
        )
        .await;
    let no = app
        .create(
            &admin,
            json!({"first_name": "No", "last_name": "Consent", "email": "no@example.com"}),
        )
        .await;
    for (i, c) in [&yes, &no].into_iter().enumerate() {
        json_of(
            app.post(
                &admin,
                "/api/v1/orders",
                &json!({"id": format!("reg2-{i}"), "customer": c["code"],
                        "lines": [{"sku": "CUP-1", "name": "Cup", "quantity": 1, "unit_price": 799}]}),
            )
            .await,
            StatusCode::CREATED,
        )
        .await;
    }
    eventually("a failed try recorded", || async {
        app.storage
            .receipt_outbox_status()
            .await
            .unwrap()
            .last_error
            .is_some()
    })
    .await;
    let status = app.storage.receipt_outbox_status().await.unwrap();
    assert_eq!((status.pending, status.sent), (1, 0), "{status:?}");
}
