//! Digital receipts: the text a receipt says, and the task that sends the
//! receipt emails the storage queued with each sale and return. Sending is
//! apart from selling: a mail server that is slow, refuses or is away only
//! delays the email (retried with back-off, see
//! `patron_storage::receipt_retry_at`), never the sale.

use lettre::message::{Mailbox, header::ContentType};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use patron_domain::loyalty::checkout::fmt_milli;
use patron_domain::loyalty::money::format_2;
use patron_storage::{
    OrderRecord, PendingReceipt, ReceiptFacts, ReceiptKind, ReceiptMail, ReturnRecord, Storage,
};
use std::sync::Arc;
use std::time::Duration;
use time::OffsetDateTime;

/// This node's mail server and who receipts come from.
#[derive(Clone)]
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    pub mode: ReceiptMail,
    /// How often the outbox is looked at when it was empty.
    pub poll: Duration,
    /// The first wait after a failed try (doubling after each next one).
    pub retry_base: Duration,
}

impl Mailer {
    /// `url` as lettre reads it: `smtps://user:pass@host:465` (TLS),
    /// `smtp://host:587?tls=required` (STARTTLS), `smtp://host:25` (plain,
    /// for a relay on the same machine or network).
    pub fn new(url: &str, from: &str, mode: ReceiptMail) -> anyhow::Result<Self> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map_err(|e| anyhow::anyhow!("--smtp-url is not a mail server address: {e}"))?
            .timeout(Some(Duration::from_secs(30)))
            .build();
        let from: Mailbox = from
            .parse()
            .map_err(|e| anyhow::anyhow!("--smtp-from is not an email address: {e}"))?;
        Ok(Self {
            transport,
            from,
            mode,
            poll: Duration::from_secs(2),
            retry_base: Duration::from_secs(30),
        })
    }

    /// Shorter waits (tests).
    pub fn with_timing(mut self, poll: Duration, retry_base: Duration) -> Self {
        self.poll = poll;
        self.retry_base = retry_base;
        self
    }
}

/// Sends what the outbox holds, for as long as the node runs.
pub fn spawn(storage: Arc<dyn Storage>, mailer: Mailer) {
    storage.set_receipt_mail(mailer.mode);
    tokio::spawn(async move {
        loop {
            let due = match storage.receipts_due(OffsetDateTime::now_utc(), 20).await {
                Ok(d) => d,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot read the receipt outbox");
                    Vec::new()
                }
            };
            if due.is_empty() {
                tokio::time::sleep(mailer.poll).await;
                continue;
            }
            for p in due {
                let outcome = send(&*storage, &mailer, &p).await;
                if let Err(why) = &outcome {
                    tracing::warn!(receipt = %p.reference, attempt = p.attempts + 1, %why, "receipt email not sent");
                }
                let now = OffsetDateTime::now_utc();
                let base = time::Duration::try_from(mailer.retry_base)
                    .unwrap_or(time::Duration::seconds(30));
                let retry_at = patron_storage::receipt_retry_at(now, p.attempts + 1, base);
                if let Err(e) = storage.receipt_tried(p.id, outcome, now, retry_at).await {
                    tracing::warn!(error = %e, "cannot record a receipt email's outcome");
                    tokio::time::sleep(mailer.poll).await;
                }
            }
        }
    });
}

async fn send(storage: &dyn Storage, mailer: &Mailer, p: &PendingReceipt) -> Result<(), String> {
    let why = |e: patron_storage::StorageError| e.to_string();
    let (subject, body) = match p.kind {
        ReceiptKind::Order => {
            let order = storage.order(&p.reference).await.map_err(why)?;
            let facts = storage
                .receipt_facts(order.customer_id, order.at)
                .await
                .map_err(why)?;
            (
                format!("Your receipt {}", order.id),
                order_text(&order, &facts),
            )
        }
        ReceiptKind::Return => {
            let ret = storage.return_record(&p.reference).await.map_err(why)?;
            let order = storage.order(&ret.order_id).await.map_err(why)?;
            let facts = storage
                .receipt_facts(order.customer_id, ret.at)
                .await
                .map_err(why)?;
            (
                format!("Your return {}", ret.id),
                return_text(&ret, &order, &facts),
            )
        }
    };
    let to: Mailbox =
        p.to.parse()
            .map_err(|e| format!("the customer's email {:?} cannot be sent to: {e}", p.to))?;
    let message = Message::builder()
        .from(mailer.from.clone())
        .to(to)
        .subject(subject)
        .header(ContentType::TEXT_PLAIN)
        .body(body)
        .map_err(|e| e.to_string())?;
    mailer
        .transport
        .send(message)
        .await
        .map(|_| ())
        .map_err(|e| e.to_string())
}

fn when(at: OffsetDateTime) -> String {
    let s = crate::wire::rfc3339(at);
    s.get(..16).unwrap_or(&s).replace('T', " ")
}

fn customer_lines(out: &mut String, f: &ReceiptFacts) {
    out.push_str(&format!("Customer: {} ({})\n", f.name, f.code));
    if let Some(t) = &f.tax_id {
        out.push_str(&format!("Tax ID: {t}\n"));
    }
}

/// "Label  12.34" on a line of its own.
fn amount(out: &mut String, label: &str, v: i64) {
    out.push_str(&format!("{label}  {}\n", format_2(v)));
}

/// The same, left out when there is nothing to say.
fn amount_if_any(out: &mut String, label: &str, v: i64) {
    if v != 0 {
        amount(out, label, v);
    }
}

fn balances(out: &mut String, f: &ReceiptFacts) {
    out.push_str(&format!(
        "\nBalance now: {} points, {} store credit\n",
        format_2(f.points_after),
        format_2(f.credit_after)
    ));
}

/// A sale's receipt as plain text (what the email says; the printed page
/// shows the same from the API).
pub fn order_text(o: &OrderRecord, f: &ReceiptFacts) -> String {
    let mut out = format!(
        "Receipt {}\n{}{}\n",
        o.id,
        when(o.at),
        o.store
            .as_deref()
            .map(|s| format!(" · store {s}"))
            .unwrap_or_default()
    );
    customer_lines(&mut out, f);
    out.push('\n');
    for l in &o.lines {
        out.push_str(&format!(
            "{} × {}  {}\n",
            fmt_milli(l.line.quantity),
            l.line.name,
            format_2(l.total)
        ));
    }
    out.push('\n');
    amount(&mut out, "Subtotal", o.subtotal);
    for d in &o.discounts {
        out.push_str(&format!("  {d}\n"));
    }
    if o.discount != 0 {
        out.push_str(&format!("Discounts  -{}\n", format_2(o.discount)));
    }
    amount(&mut out, "Total", o.total);
    amount_if_any(&mut out, "Points redeemed", o.points_redeemed);
    amount_if_any(&mut out, "Store credit used", o.credit_redeemed);
    amount(&mut out, "Paid", o.amount_paid);
    amount_if_any(&mut out, "Points earned", o.earned);
    balances(&mut out, f);
    out
}

/// A return's receipt as plain text.
pub fn return_text(r: &ReturnRecord, o: &OrderRecord, f: &ReceiptFacts) -> String {
    let mut out = format!("Return {} of receipt {}\n{}\n", r.id, o.id, when(r.at));
    customer_lines(&mut out, f);
    out.push('\n');
    for (line, q, net) in &r.lines {
        let name = o
            .lines
            .get(*line)
            .map_or("(line not found)", |l| l.line.name.as_str());
        out.push_str(&format!(
            "{} × {}  -{}\n",
            fmt_milli(*q),
            name,
            format_2(*net)
        ));
    }
    out.push('\n');
    amount(&mut out, "Refunded", r.money_refund);
    amount_if_any(&mut out, "Points given back", r.points_refund);
    amount_if_any(&mut out, "Store credit given back", r.credit_refund);
    amount_if_any(&mut out, "Points taken back", r.earned_reversal);
    balances(&mut out, f);
    out
}
