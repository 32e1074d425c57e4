//! The JSON shapes of likely-same customers and the duplicates report.

use super::CustomerView;
use patron_domain::SameBy;
use patron_storage::{DuplicateCluster, DuplicateReport, LikelySame};
use serde::Serialize;
use utoipa::ToSchema;

/// What two records share.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SameByView {
    IdDocument,
    Phone,
    Email,
    NameAndDateOfBirth,
}

impl From<SameBy> for SameByView {
    fn from(by: SameBy) -> Self {
        match by {
            SameBy::IdDocument => SameByView::IdDocument,
            SameBy::Phone => SameByView::Phone,
            SameBy::Email => SameByView::Email,
            SameBy::NameAndBirth => SameByView::NameAndDateOfBirth,
        }
    }
}

impl SameByView {
    /// The input field that holds the shared key.
    pub fn field(self) -> &'static str {
        match self {
            SameByView::IdDocument => "id_document.number",
            SameByView::Phone => "phone",
            SameByView::Email => "email",
            SameByView::NameAndDateOfBirth => "date_of_birth",
        }
    }
}

/// A customer who is likely the same person, and why.
#[derive(Debug, Serialize, ToSchema)]
pub struct DuplicateCandidateView {
    pub customer: CustomerView,
    /// Strongest first.
    pub same: Vec<SameByView>,
}

impl From<&LikelySame> for DuplicateCandidateView {
    fn from(l: &LikelySame) -> Self {
        DuplicateCandidateView {
            customer: CustomerView::from(&l.customer),
            same: l.by.iter().copied().map(SameByView::from).collect(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DuplicateCandidateList {
    pub items: Vec<DuplicateCandidateView>,
}

/// Customers linked by shared phone, email, document or name and birth date.
#[derive(Debug, Serialize, ToSchema)]
pub struct DuplicateClusterView {
    pub customers: Vec<CustomerView>,
    pub same: Vec<SameByView>,
}

impl From<&DuplicateCluster> for DuplicateClusterView {
    fn from(c: &DuplicateCluster) -> Self {
        DuplicateClusterView {
            customers: c.customers.iter().map(CustomerView::from).collect(),
            same: c.by.iter().copied().map(SameByView::from).collect(),
        }
    }
}

/// A page of the duplicates report, biggest clusters first.
#[derive(Debug, Serialize, ToSchema)]
pub struct DuplicateReportView {
    pub items: Vec<DuplicateClusterView>,
    pub total_clusters: usize,
    pub total_customers: usize,
    /// The `offset` of the next page; absent on the last.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_offset: Option<usize>,
}

impl DuplicateReportView {
    pub fn new(r: &DuplicateReport, offset: usize) -> Self {
        let end = offset + r.clusters.len();
        DuplicateReportView {
            items: r.clusters.iter().map(DuplicateClusterView::from).collect(),
            total_clusters: r.total_clusters,
            total_customers: r.total_customers,
            next_offset: (end < r.total_clusters && !r.clusters.is_empty()).then_some(end),
        }
    }
}
