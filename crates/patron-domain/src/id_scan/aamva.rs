//! From scanned text to the DL/ID subfile's elements: header, subfile directory,
//! subfile, element boundaries. Nothing here trusts the layout the standard
//! prescribes, because keyboard-wedge scanners rewrite it: separators become
//! newlines, spaces or nothing, noise lands before the header, and the
//! directory's offsets stop matching the text. Each step therefore searches
//! rather than indexes, and works on `char`s so no cut can split a UTF-8
//! sequence.

use super::DocumentKind;
use super::elements::{self, CORE};

/// The fixed-width header after the compliance indicator and separators:
/// `ANSI ` + IIN + AAMVA version + jurisdiction version (v2+) + entry count.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Header {
    pub iin: Option<String>,
    pub version: Option<u8>,
    pub jurisdiction_version: Option<u8>,
}

/// The DL/ID subfile's elements, in the order found, values untrimmed.
#[derive(Debug, Clone, Default)]
pub(crate) struct RawRecord {
    pub header: Option<Header>,
    pub kind: DocumentKind,
    pub elements: Vec<(String, String)>,
}

/// A separator a scanner may put between elements: the standard's LF, RS and
/// CR, the CRLF and tab keyboard wedges send, the pipe some drivers use, and any
/// other control character. Spaces are not among them: values contain spaces.
fn is_hard_separator(c: char) -> bool {
    c == '|' || (c.is_control() && c != ' ')
}

fn is_gap(c: char) -> bool {
    c.is_whitespace() || c.is_control() || c == '|'
}

fn id_at(chars: &[char], i: usize) -> Option<[char; 3]> {
    match chars.get(i..i.checked_add(3)?)? {
        [a, b, c] => Some([*a, *b, *c]),
        _ => None,
    }
}

fn known_at(chars: &[char], i: usize) -> Option<usize> {
    id_at(chars, i).and_then(elements::lookup)
}

fn starts_with(chars: &[char], i: usize, word: &str) -> bool {
    (i..)
        .zip(word.chars())
        .all(|(k, w)| chars.get(k) == Some(&w))
}

fn digit_run(chars: &[char], from: usize) -> usize {
    chars
        .get(from..)
        .map_or(0, |s| s.iter().take_while(|c| c.is_ascii_digit()).count())
}

fn two_digits(chars: &[char], at: usize) -> Option<u8> {
    match chars.get(at..at.checked_add(2)?)? {
        [a, b] => Some(u8::try_from(a.to_digit(10)? * 10 + b.to_digit(10)?).ok()?),
        _ => None,
    }
}

fn string(chars: &[char], from: usize, to: usize) -> String {
    chars.get(from..to).unwrap_or(&[]).iter().collect()
}

/// Finds `ANSI` (or the `AAMVA` of some pre-2005 cards) followed by at least
/// the six IIN digits; returns the header and where its digits end.
fn find_header(chars: &[char]) -> Option<(Header, usize)> {
    let mut i = 0;
    while i < chars.len() {
        let word = if starts_with(chars, i, "ANSI") {
            4
        } else if starts_with(chars, i, "AAMVA") {
            5
        } else {
            i += 1;
            continue;
        };
        let mut p = i + word;
        while chars.get(p).is_some_and(|c| is_gap(*c)) && p < i + word + 4 {
            p += 1;
        }
        let run = digit_run(chars, p);
        if run >= 6 {
            let mut header = Header {
                iin: Some(string(chars, p, p + 6)),
                ..Header::default()
            };
            if run >= 8 {
                header.version = two_digits(chars, p + 6);
            }
            // Version 1 has no jurisdiction version: IIN, version, entries.
            // Decide by how many digits follow rather than by the version
            // number, since some cards disagree with their own version.
            if run >= 12 {
                header.jurisdiction_version = two_digits(chars, p + 8);
            }
            return Some((header, p + run));
        }
        i += word;
    }
    None
}

/// Skips the subfile directory: entries of a two-letter type and eight digits
/// (offset, length). Their numbers are not used: they rarely survive a keyboard
/// wedge. Returns the position after the last entry and the first DL/ID type.
fn skip_directory(chars: &[char], from: usize) -> (usize, Option<DocumentKind>) {
    let mut p = from;
    let mut kind = None;
    for _ in 0..16 {
        let mut q = p;
        while chars.get(q).is_some_and(|c| is_gap(*c)) {
            q += 1;
        }
        let Some([a, b, _]) = id_at(chars, q) else {
            break;
        };
        if !(a.is_ascii_uppercase() && b.is_ascii_uppercase()) || digit_run(chars, q + 2) < 8 {
            break;
        }
        if kind.is_none() {
            kind = subfile_kind(a, b);
        }
        p = q + 10;
    }
    (p, kind)
}

fn subfile_kind(a: char, b: char) -> Option<DocumentKind> {
    match (a, b) {
        ('D', 'L') => Some(DocumentKind::DriverLicence),
        ('I', 'D') => Some(DocumentKind::IdCard),
        _ => None,
    }
}

/// `DL` or `ID` directly followed by a known element id: a subfile's start.
fn subfile_at(chars: &[char], i: usize) -> Option<DocumentKind> {
    let (a, b) = (*chars.get(i)?, *chars.get(i + 1)?);
    let kind = subfile_kind(a, b)?;
    known_at(chars, i + 2).map(|_| kind)
}

/// Where the DL/ID subfile's first element id starts, searching from `from`.
fn find_subfile(chars: &[char], from: usize) -> Option<(usize, Option<DocumentKind>)> {
    let mut p = from;
    while chars.get(p).is_some_and(|c| is_gap(*c)) {
        p += 1;
    }
    if let Some(kind) = subfile_at(chars, p) {
        return Some((p + 2, Some(kind)));
    }
    // Old Connecticut cards: the first element follows the directory with no
    // subfile type.
    if known_at(chars, p).is_some() {
        return Some((p, None));
    }
    if let Some(i) = (from..chars.len()).find(|&i| subfile_at(chars, i).is_some()) {
        return Some((i + 2, subfile_at(chars, i)));
    }
    // No subfile type anywhere: the first known id at a line start.
    (from..chars.len())
        .find(|&i| {
            known_at(chars, i).is_some()
                && (i == from || i == 0 || chars.get(i - 1).is_some_and(|c| is_gap(*c)))
        })
        .map(|i| (i, None))
}

/// A jurisdiction subfile's start: its type `Zx` and its first element `Zx?`.
fn z_subfile_at(chars: &[char], i: usize) -> bool {
    matches!(
        chars.get(i..i + 5),
        Some(['Z', x, 'Z', y, z]) if x == y && x.is_ascii_uppercase() && z.is_ascii_uppercase()
    )
}

/// Splits the text into the header (if any) and the DL/ID subfile's elements.
/// `None` when there is neither a header nor a subfile-like run of elements.
pub(crate) fn split(chars: &[char]) -> Option<RawRecord> {
    let header = find_header(chars);
    let (scan_from, dir_kind) = match &header {
        Some((_, end)) => skip_directory(chars, *end),
        None => (0, None),
    };
    let version = header.as_ref().and_then(|(h, _)| h.version);
    let found = find_subfile(chars, scan_from);
    let mut record = RawRecord {
        header: header.map(|(h, _)| h),
        kind: dir_kind.unwrap_or_default(),
        elements: Vec::new(),
    };
    if let Some((start, kind)) = found {
        if let Some(kind) = kind {
            record.kind = kind;
        }
        // The subfile ends where a jurisdiction subfile starts on its own line;
        // one glued to the last element is left to the segmentation.
        let end = (start + 3..chars.len())
            .find(|&i| z_subfile_at(chars, i) && chars.get(i - 1).is_some_and(|c| is_gap(*c)))
            .unwrap_or(chars.len());
        record.elements = segment_body(chars.get(start..end).unwrap_or(&[]), version);
    }
    if record.header.is_none() {
        let core = record
            .elements
            .iter()
            .filter(|(id, v)| {
                CORE.contains(&id.as_str()) && !elements::trim(&chars_of(v)).is_empty()
            })
            .count();
        if core < 2 {
            return None;
        }
    }
    Some(record)
}

fn chars_of(s: &str) -> Vec<char> {
    s.chars().collect()
}

/// One place where an element may start.
#[derive(Debug, Clone, Copy)]
struct Cand {
    pos: usize,
    /// Table index; `None` for ids outside the table and subfile starts.
    index: Option<usize>,
    /// Starts a line (follows a hard separator): every segmentation uses it.
    lead: bool,
    /// Extra score for starting an element here.
    bonus: i32,
    /// A jurisdiction subfile glued on: everything from here on is not ours.
    terminal: bool,
}

impl Cand {
    /// The bit this candidate sets in the "ids used" mask: only ids that are
    /// not at a line start anywhere are subject to the "once" rule.
    fn bit(&self) -> u128 {
        match (self.lead, self.index) {
            (false, Some(i)) => bit(i),
            _ => 0,
        }
    }
}

fn bit(index: usize) -> u128 {
    u32::try_from(index)
        .ok()
        .and_then(|i| 1u128.checked_shl(i))
        .unwrap_or(0)
}

/// How many states each candidate keeps, and how many candidates a value may
/// swallow. Both bound the work per candidate, so segmenting is linear.
const BEAM: usize = 8;
const REACH: usize = 12;
/// What finding a mandatory element is worth; see [`elements::is_key`].
const KEY_BONUS: i32 = 2;

#[derive(Debug, Clone, Copy)]
struct State {
    score: i32,
    mask: u128,
    /// Elements so far: on equal scores the segmentation with fewer wins,
    len: u32,
    /// and then the one that cuts earlier (DANIEL+ADAM over DANIELDA+AM in
    /// DANIELDADADAM): the sum of its element positions.
    possum: u64,
    cand: usize,
    prev: Option<usize>,
}

/// Splits the subfile body into elements.
///
/// An uppercase three-letter id at the start of a line (after a hard
/// separator: LF, CR, RS, tab, …) always starts an element. Known ids
/// elsewhere — inside a line when some separators were lost, or anywhere when
/// all were replaced by spaces or dropped — may start one. Among those, the
/// search picks the set that maximises how well the values fit their
/// elements' shapes (see [`elements::score`]), using each id at most once and
/// never an id that starts a line somewhere: a value containing such an id is
/// not two elements. It is a beam search, since the "once" rule makes plain
/// dynamic programming wrong. A value never runs past a hard separator.
///
/// With enough line starts the record is taken as separated and an id after
/// a space inside a line costs a little (a word like DAHLIA is likelier than a
/// padded value that lost its separator); without, a start after a space
/// earns a little, since spaces are then what separates.
fn segment_body(body: &[char], version: Option<u8>) -> Vec<(String, String)> {
    let n = body.len();
    // Where each line's text starts, and the next hard separator from each
    // position (values stop there).
    let mut line_start = vec![false; n];
    let mut next_sep = vec![n; n + 1];
    let mut at_start = true;
    for (i, c) in body.iter().enumerate() {
        if is_hard_separator(*c) {
            at_start = true;
        } else if at_start && !c.is_whitespace() {
            if let Some(slot) = line_start.get_mut(i) {
                *slot = true;
            }
            at_start = false;
        }
    }
    for i in (0..n).rev() {
        let next = if body.get(i).is_some_and(|c| is_hard_separator(*c)) {
            i
        } else {
            next_sep.get(i + 1).copied().unwrap_or(n)
        };
        if let Some(slot) = next_sep.get_mut(i) {
            *slot = next;
        }
    }
    let upper = |i: usize| id_at(body, i).filter(|id| id.iter().all(char::is_ascii_uppercase));
    let leads: Vec<usize> = (0..n)
        .filter(|&i| line_start.get(i) == Some(&true) && upper(i).is_some())
        .collect();
    let lead_ids = leads
        .iter()
        .filter_map(|&i| known_at(body, i))
        .fold(0u128, |m, b| m | bit(b));
    let separated = leads.len() >= 3;
    let (glued, spaced) = if separated { (0, -1) } else { (0, 1) };

    let mut cands: Vec<Cand> = Vec::new();
    for i in 0..n {
        if line_start.get(i) == Some(&true) && upper(i).is_some() {
            cands.push(Cand {
                pos: i,
                index: known_at(body, i),
                lead: true,
                bonus: 0,
                terminal: false,
            });
            continue;
        }
        let bonus = if i > 0 && body.get(i - 1).is_some_and(|c| c.is_whitespace()) {
            spaced
        } else {
            glued
        };
        if z_subfile_at(body, i) {
            cands.push(Cand {
                pos: i,
                index: None,
                lead: false,
                bonus,
                terminal: true,
            });
        } else if let Some(index) =
            known_at(body, i).filter(|&x| elements::allowed(x, version) && lead_ids & bit(x) == 0)
        {
            let key = if elements::is_key(index, version) {
                KEY_BONUS
            } else {
                0
            };
            cands.push(Cand {
                pos: i,
                index: Some(index),
                lead: false,
                bonus: bonus + key,
                terminal: false,
            });
        }
    }
    let Some(first) = cands.first() else {
        return Vec::new();
    };
    if first.terminal {
        return Vec::new();
    }

    let value = |c: &Cand, end: usize| {
        let stop = next_sep.get(c.pos + 3).copied().unwrap_or(n).min(end);
        body.get(c.pos + 3..stop).unwrap_or(&[])
    };
    // The ids still to come after each candidate: a used id that never comes
    // again no longer matters, so states differing only in those compare on
    // score alone.
    let mut ahead = vec![0u128; cands.len()];
    let mut acc = 0u128;
    for (k, c) in cands.iter().enumerate().rev() {
        if let Some(slot) = ahead.get_mut(k) {
            *slot = acc;
        }
        acc |= c.bit();
    }
    let last_lead = cands.iter().rposition(|c| c.lead);
    // The nearest line start before each candidate.
    let mut prev_lead: Vec<Option<usize>> = Vec::with_capacity(cands.len());
    let mut seen = None;
    for (k, c) in cands.iter().enumerate() {
        prev_lead.push(seen);
        if c.lead {
            seen = Some(k);
        }
    }

    let mut arena: Vec<State> = vec![State {
        score: 0,
        mask: first.bit(),
        len: 1,
        possum: 0,
        cand: 0,
        prev: None,
    }];
    let mut beams: Vec<Vec<usize>> = vec![Vec::new(); cands.len()];
    if let Some(b) = beams.first_mut() {
        b.push(0);
    }
    for j in 1..cands.len() {
        let Some(cj) = cands.get(j).copied() else {
            continue;
        };
        // Predecessors, nearest first; none beyond a line start, which
        // cannot be skipped. The last line start is always among them, however
        // many candidates lie between, so every line start stays reachable.
        let mut preds: Vec<usize> = Vec::with_capacity(REACH + 1);
        for i in (j.saturating_sub(REACH)..j).rev() {
            preds.push(i);
            if cands.get(i).is_some_and(|c| c.lead) {
                break;
            }
        }
        if let Some(l) = prev_lead.get(j).copied().flatten()
            && !preds.contains(&l)
        {
            preds.push(l);
        }
        for i in preds {
            let Some(ci) = cands.get(i).copied() else {
                continue;
            };
            if ci.terminal || cj.pos < ci.pos + 3 {
                continue;
            }
            let gain = elements::element_score(ci.index, value(&ci, cj.pos), version)
                + cj.bonus
                + elements::order_bonus(ci.index, cj.index);
            let mut from = [0usize; BEAM];
            let count = beams.get(i).map_or(0, |b| b.len().min(BEAM));
            for (slot, s) in from.iter_mut().zip(beams.get(i).into_iter().flatten()) {
                *slot = *s;
            }
            for &s in from.get(..count).unwrap_or(&[]) {
                let Some(st) = arena.get(s).copied() else {
                    continue;
                };
                if st.mask & cj.bit() != 0 {
                    continue;
                }
                let next = State {
                    score: st.score + gain,
                    mask: st.mask | cj.bit(),
                    len: st.len + 1,
                    possum: st.possum.saturating_add(cj.pos as u64),
                    cand: j,
                    prev: Some(s),
                };
                let relevant = ahead.get(j).copied().unwrap_or(0);
                insert(&mut arena, beams.get_mut(j), next, relevant);
            }
        }
    }
    // Close every state that skipped no line start after it, its last value
    // running to the end.
    let mut best: Option<((i32, i64, u64), usize)> = None;
    for (s, st) in arena.iter().enumerate() {
        let Some(c) = cands.get(st.cand) else {
            continue;
        };
        if !c.terminal && last_lead.is_some_and(|l| l > st.cand) {
            continue;
        }
        let total = st.score
            + if c.terminal {
                0
            } else {
                elements::element_score(c.index, value(c, n), version)
            };
        let rank = (total, -i64::from(st.len), u64::MAX - st.possum);
        if best.is_none_or(|(b, _)| rank > b) {
            best = Some((rank, s));
        }
    }
    let mut path = Vec::new();
    let mut at = best.map(|(_, s)| s);
    while let Some(s) = at {
        let Some(st) = arena.get(s) else { break };
        path.push(st.cand);
        at = st.prev;
    }
    path.reverse();
    let mut out = Vec::new();
    for (k, &ci) in path.iter().enumerate() {
        let Some(c) = cands.get(ci) else { continue };
        if c.terminal {
            break;
        }
        let end = path
            .get(k + 1)
            .and_then(|&x| cands.get(x))
            .map_or(n, |x| x.pos);
        out.push((
            string(body, c.pos, c.pos + 3),
            value(c, end).iter().collect(),
        ));
    }
    out
}

/// Adds `next` to a candidate's beam. A state is useless when another has at
/// least its score and used none of the `relevant` ids (those still ahead) it
/// did not: it can do all the other can. Of the rest, the best `BEAM` are kept.
fn insert(arena: &mut Vec<State>, beam: Option<&mut Vec<usize>>, next: State, relevant: u128) {
    let Some(beam) = beam else { return };
    let rank = |x: &State| (x.score, -i64::from(x.len), u64::MAX - x.possum);
    let dominates = |a: &State, b: &State| rank(a) >= rank(b) && (a.mask & !b.mask) & relevant == 0;
    if beam
        .iter()
        .filter_map(|&s| arena.get(s))
        .any(|st| dominates(st, &next))
    {
        return;
    }
    beam.retain(|&s| arena.get(s).is_some_and(|st| !dominates(&next, st)));
    if beam.len() >= BEAM {
        let worst = beam
            .iter()
            .enumerate()
            .filter_map(|(k, s)| arena.get(*s).map(|st| (k, rank(st))))
            .min_by_key(|(_, r)| *r);
        match worst {
            Some((k, r)) if r < rank(&next) => {
                beam.swap_remove(k);
            }
            _ => return,
        }
    }
    arena.push(next);
    beam.push(arena.len() - 1);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chars(s: &str) -> Vec<char> {
        s.chars().collect()
    }

    fn elements_of(s: &str) -> Vec<(String, String)> {
        split(&chars(s)).map(|r| r.elements).unwrap_or_default()
    }

    fn get<'a>(els: &'a [(String, String)], id: &str) -> Option<&'a str> {
        els.iter().find(|(i, _)| i == id).map(|(_, v)| v.trim())
    }

    #[test]
    fn header_versions() {
        let (h, _) = find_header(&chars("@\n\x1e\rANSI 636014040002DL")).unwrap();
        assert_eq!(h.iin.as_deref(), Some("636014"));
        assert_eq!((h.version, h.jurisdiction_version), (Some(4), Some(0)));
        let (h, _) = find_header(&chars("@\n\x1e\rANSI 6360250101DL")).unwrap();
        assert_eq!((h.version, h.jurisdiction_version), (Some(1), None));
        let (h, _) = find_header(&chars("xx@\nAAMVA6360060101DL")).unwrap();
        assert_eq!(h.iin.as_deref(), Some("636006"));
        assert!(find_header(&chars("ANSI 12")).is_none());
    }

    #[test]
    fn first_element_on_the_header_line() {
        let els = elements_of(
            "@\n\x1e\rANSI 636015080002DL00410278ZV03190008DLDAQD12345678\nDCSPUBLIC\nDACJOHN\r\nZVZVA01\r",
        );
        assert_eq!(get(&els, "DAQ"), Some("D12345678"));
        assert_eq!(get(&els, "DCS"), Some("PUBLIC"));
        assert_eq!(get(&els, "DAC"), Some("JOHN"));
        assert!(els.iter().all(|(id, _)| !id.starts_with('Z')));
    }

    #[test]
    fn glued_elements_are_cut_at_the_best_ids() {
        let els = elements_of(
            "ANSI 636015080002DL00410278DLDCADDCBNONEDCDNONEDBA08312025DCSSANDAGEDACDAISYDADQDBD08312017DBB01071985DBC2DAYBRODAU064 INDAG123 DAKOTA AVEDAIDAYTONDAJTXDAK123450000  DAQ12345678DCGUSADDEN",
        );
        assert_eq!(get(&els, "DCA"), Some("D"));
        assert_eq!(get(&els, "DCS"), Some("SANDAGE"));
        assert_eq!(get(&els, "DAC"), Some("DAISY"));
        assert_eq!(get(&els, "DAD"), Some("Q"));
        assert_eq!(get(&els, "DBB"), Some("01071985"));
        assert_eq!(get(&els, "DAG"), Some("123 DAKOTA AVE"));
        assert_eq!(get(&els, "DAI"), Some("DAYTON"));
        assert_eq!(get(&els, "DAK"), Some("123450000"));
        assert_eq!(get(&els, "DAQ"), Some("12345678"));
        assert_eq!(get(&els, "DDE"), Some("N"));
    }

    #[test]
    fn glued_jurisdiction_subfile_ends_the_subfile() {
        let els = elements_of("ANSI 636015080002DLDAQ1DCSX\nDACY\nDDK1ZVZVA01\nZVB2");
        assert_eq!(get(&els, "DDK"), Some("1"));
        assert_eq!(els.len(), 4);
    }

    #[test]
    fn a_line_full_of_false_ids_does_not_hide_the_next_lines() {
        let els = elements_of(&format!(
            "ANSI 636015080001DLDAQ1\nDCF{}\nDCSROE\nDBB01011990\r",
            "DDDDAKDAIDAG".repeat(20)
        ));
        assert_eq!(get(&els, "DCS"), Some("ROE"));
        assert_eq!(get(&els, "DBB"), Some("01011990"));
        assert_eq!(get(&els, "DAQ"), Some("1"));
    }

    #[test]
    fn text_without_header_or_elements_is_not_a_record() {
        assert!(split(&chars("hello world")).is_none());
        assert!(split(&chars("DAQ123")).is_none());
        assert!(split(&chars("DAQ123\nDCSSMITH\n")).is_some());
    }
}
