//! Likely the same person: the keys two customer records are compared by, and
//! which of them two records share.
//!
//! Offline stores create a second record for a person by design (SPEC §6), and
//! a cashier in a hurry does too. Two records are *likely the same person*
//! when they share a phone, an email, an ID document number, or a name and a
//! date of birth, ignoring case, accents and punctuation. Each key is an exact
//! string, so a backend finds the candidates with one index lookup per key.

use crate::customer::CustomerDraft;
use crate::search::fold;
use time::Date;

/// What two records have in common.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SameBy {
    IdDocument,
    Phone,
    Email,
    NameAndBirth,
}

impl SameBy {
    pub const ALL: [SameBy; 4] = [
        SameBy::IdDocument,
        SameBy::Phone,
        SameBy::Email,
        SameBy::NameAndBirth,
    ];

    pub fn name(self) -> &'static str {
        match self {
            SameBy::IdDocument => "id_document",
            SameBy::Phone => "phone",
            SameBy::Email => "email",
            SameBy::NameAndBirth => "name_and_date_of_birth",
        }
    }
}

/// The keys of one record; `None` where the record lacks the data.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DuplicateKeys {
    pub id_document: Option<String>,
    /// E.164 digits reversed: the form the phone is indexed under for search.
    pub phone: Option<String>,
    /// The lowercased email.
    pub email: Option<String>,
    pub person: Option<String>,
}

impl DuplicateKeys {
    pub fn get(&self, by: SameBy) -> Option<&str> {
        match by {
            SameBy::IdDocument => self.id_document.as_deref(),
            SameBy::Phone => self.phone.as_deref(),
            SameBy::Email => self.email.as_deref(),
            SameBy::NameAndBirth => self.person.as_deref(),
        }
    }

    /// What `self` and `other` share, strongest first.
    pub fn shared_with(&self, other: &DuplicateKeys) -> Vec<SameBy> {
        SameBy::ALL
            .into_iter()
            .filter(|by| self.get(*by).is_some_and(|k| other.get(*by) == Some(k)))
            .collect()
    }

    pub fn is_empty(&self) -> bool {
        SameBy::ALL.into_iter().all(|by| self.get(by).is_none())
    }
}

/// A document number compared without spaces, dashes or case: "d123-456 7"
/// and "D1234567" are one document. Numbers shorter than four characters say
/// too little to match on.
pub fn id_document_key(number: &str) -> Option<String> {
    let key: String = number
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_uppercase())
        .collect();
    (key.len() >= 4).then_some(key)
}

/// First and last name folded (case, accents, punctuation) with the date of
/// birth: "José  O'Brien" born 1990-05-17 and "jose obrien" born the same day
/// are one key. Without a date of birth a name alone is too common to match on.
pub fn person_key(first: &str, last: &str, date_of_birth: Option<Date>) -> Option<String> {
    let dob = date_of_birth?;
    let (first, last) = (fold(first), fold(last));
    if first.is_empty() && last.is_empty() {
        return None;
    }
    Some(format!("{first} {last}|{dob}"))
}

impl CustomerDraft {
    pub fn duplicate_keys(&self) -> DuplicateKeys {
        let search = self.search_keys();
        DuplicateKeys {
            id_document: self.id_document.number.as_deref().and_then(id_document_key),
            phone: search.phone_reversed,
            email: search.email,
            person: person_key(&self.first_name, &self.last_name, self.date_of_birth),
        }
    }
}

/// When `other` is merged into `survivor`: the fields the survivor lacks and
/// the other record has. The survivor's own values always stay.
pub fn merge_fill(survivor: &CustomerDraft, other: &CustomerDraft) -> crate::CustomerPatch {
    crate::customer::Field::ALL
        .into_iter()
        .filter(|f| survivor.get(*f).is_none())
        .filter_map(|f| other.get(f).map(|v| (f, crate::Patch::Set(v))))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::customer::{Field, ParseContext};
    use crate::phone::PhoneRegion;

    fn draft(fields: &[(Field, &str)]) -> CustomerDraft {
        let ctx = ParseContext {
            region: PhoneRegion::parse("US").unwrap(),
            today: time::macros::date!(2026 - 12 - 01),
        };
        CustomerDraft::parse(fields.iter().map(|(f, v)| (*f, (*v).to_owned())), &ctx).unwrap()
    }

    #[test]
    fn names_match_across_case_accents_and_punctuation_only_with_a_birth_date() {
        let a = draft(&[
            (Field::FirstName, "José"),
            (Field::LastName, "O'Brien"),
            (Field::DateOfBirth, "1990-05-17"),
        ]);
        let b = draft(&[
            (Field::FirstName, "JOSE"),
            (Field::LastName, "obrien"),
            (Field::DateOfBirth, "1990-05-17"),
        ]);
        assert_eq!(
            a.duplicate_keys().shared_with(&b.duplicate_keys()),
            vec![SameBy::NameAndBirth]
        );
        let c = draft(&[(Field::FirstName, "José"), (Field::LastName, "O'Brien")]);
        assert!(c.duplicate_keys().person.is_none());
        assert!(
            a.duplicate_keys()
                .shared_with(&c.duplicate_keys())
                .is_empty()
        );
        let d = draft(&[
            (Field::FirstName, "José"),
            (Field::LastName, "O'Brien"),
            (Field::DateOfBirth, "1990-05-18"),
        ]);
        assert!(
            a.duplicate_keys()
                .shared_with(&d.duplicate_keys())
                .is_empty()
        );
    }

    #[test]
    fn phones_emails_and_documents_match_in_any_format() {
        let a = draft(&[
            (Field::FirstName, "Ann"),
            (Field::LastName, "Lee"),
            (Field::Phone, "(512) 561-0721"),
            (Field::Email, "Ann.Lee@Example.com"),
            (Field::IdNumber, "d123-456 7"),
        ]);
        let b = draft(&[
            (Field::FirstName, "Annie"),
            (Field::LastName, "Leigh"),
            (Field::Phone, "+1 512 561 0721"),
            (Field::Email, "ann.lee@example.COM"),
            (Field::IdNumber, "D1234567"),
        ]);
        assert_eq!(
            a.duplicate_keys().shared_with(&b.duplicate_keys()),
            vec![SameBy::IdDocument, SameBy::Phone, SameBy::Email]
        );
    }

    #[test]
    fn a_merge_fills_only_what_the_survivor_lacks() {
        let survivor = draft(&[
            (Field::FirstName, "Ann"),
            (Field::LastName, "Lee"),
            (Field::Phone, "(512) 561-0721"),
        ]);
        let other = draft(&[
            (Field::FirstName, "Annie"),
            (Field::LastName, "Leigh"),
            (Field::Phone, "(512) 555-0100"),
            (Field::Email, "ann@example.com"),
        ]);
        assert_eq!(
            merge_fill(&survivor, &other),
            vec![(Field::Email, crate::Patch::Set("ann@example.com".into()))]
        );
    }

    #[test]
    fn short_document_numbers_do_not_match() {
        assert_eq!(id_document_key("A-1 2"), None);
        assert_eq!(id_document_key(" a1b2 "), Some("A1B2".into()));
    }
}
