//! Splits rule text into tokens on demand, so the first error reported is the
//! first one in the text whether it is lexical or grammatical.
//!
//! Works on a slice of `char`s: positions are character offsets, as the error
//! type promises, and no byte slicing can land inside a character.

use time::{Date, Month};

use super::{CmpOp, RuleError};

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TokenKind {
    /// A field name or a keyword; the parser tells them apart.
    Ident(String),
    /// A string literal, escapes resolved.
    Str(String),
    Number(Number),
    Date(Date),
    Op(CmpOp),
    LParen,
    RParen,
    LBracket,
    RBracket,
    Comma,
    End,
}

/// A number kept as its digits: the field it is compared with decides whether
/// it is money (two decimals, scaled to minor units) or a whole number, and the
/// conversion is exact integer arithmetic on the text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Number {
    pub negative: bool,
    pub whole: String,
    pub fraction: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Token {
    pub kind: TokenKind,
    /// Character offset of the first character.
    pub start: usize,
    /// The source text, or `end of input`.
    pub text: String,
}

impl Token {
    /// How the token is named in messages: quoted source text, or `end of input`.
    pub fn describe(&self) -> String {
        if self.kind == TokenKind::End {
            self.text.clone()
        } else {
            format!("`{}`", self.text)
        }
    }

    pub fn is_keyword(&self, keyword: &str) -> bool {
        matches!(&self.kind, TokenKind::Ident(s) if s.eq_ignore_ascii_case(keyword))
    }
}

pub(crate) const END_OF_INPUT: &str = "end of input";

pub(crate) struct Lexer<'a> {
    chars: &'a [char],
    pos: usize,
}

fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

impl<'a> Lexer<'a> {
    pub fn new(chars: &'a [char]) -> Self {
        Lexer { chars, pos: 0 }
    }

    fn peek_char(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn char_at(&self, pos: usize) -> Option<char> {
        self.chars.get(pos).copied()
    }

    fn text(&self, start: usize, end: usize) -> String {
        self.chars.get(start..end).unwrap_or(&[]).iter().collect()
    }

    fn error(
        &self,
        position: usize,
        expected: &[&str],
        found: impl Into<String>,
        message: impl Into<String>,
    ) -> RuleError {
        RuleError::new(
            self.chars,
            position,
            expected.iter().map(|s| (*s).to_owned()).collect(),
            found,
            message,
        )
    }

    fn token(&mut self, kind: TokenKind, start: usize, len: usize) -> Token {
        self.pos = start + len;
        Token {
            kind,
            start,
            text: self.text(start, self.pos),
        }
    }

    pub fn next_token(&mut self) -> Result<Token, RuleError> {
        while self.peek_char().is_some_and(char::is_whitespace) {
            self.pos += 1;
        }
        let start = self.pos;
        let Some(c) = self.peek_char() else {
            return Ok(Token {
                kind: TokenKind::End,
                start,
                text: END_OF_INPUT.to_owned(),
            });
        };
        let next = self.char_at(start + 1);
        let tok = match c {
            '(' => self.token(TokenKind::LParen, start, 1),
            ')' => self.token(TokenKind::RParen, start, 1),
            '[' => self.token(TokenKind::LBracket, start, 1),
            ']' => self.token(TokenKind::RBracket, start, 1),
            ',' => self.token(TokenKind::Comma, start, 1),
            '=' => self.token(TokenKind::Op(CmpOp::Eq), start, 1),
            '!' if next == Some('=') => self.token(TokenKind::Op(CmpOp::Ne), start, 2),
            '<' if next == Some('=') => self.token(TokenKind::Op(CmpOp::Le), start, 2),
            '<' => self.token(TokenKind::Op(CmpOp::Lt), start, 1),
            '>' if next == Some('=') => self.token(TokenKind::Op(CmpOp::Ge), start, 2),
            '>' => self.token(TokenKind::Op(CmpOp::Gt), start, 1),
            '"' => self.string(start)?,
            '-' | '0'..='9' => self.number_or_date(start)?,
            c if c.is_ascii_alphabetic() || c == '_' => {
                let mut end = start;
                while self.char_at(end).is_some_and(is_word_char) {
                    end += 1;
                }
                let text = self.text(start, end);
                self.token(TokenKind::Ident(text), start, end - start)
            }
            '!' => {
                return Err(self.error(
                    start,
                    &["!="],
                    "!",
                    "unexpected `!`; not-equal is written `!=`, negation `not`",
                ));
            }
            other => {
                return Err(self.error(
                    start,
                    &[],
                    other.to_string(),
                    format!("unexpected character `{other}`"),
                ));
            }
        };
        Ok(tok)
    }

    fn string(&mut self, start: usize) -> Result<Token, RuleError> {
        let mut value = String::new();
        let mut pos = start + 1;
        loop {
            match self.char_at(pos) {
                None => {
                    return Err(self.error(
                        start,
                        &["\""],
                        END_OF_INPUT,
                        "this string has no closing `\"`",
                    ));
                }
                Some('"') => break,
                Some('\\') => match self.char_at(pos + 1) {
                    Some(c @ ('"' | '\\')) => {
                        value.push(c);
                        pos += 2;
                    }
                    Some(other) => {
                        return Err(self.error(
                            pos,
                            &["\\\"", "\\\\"],
                            format!("\\{other}"),
                            format!(
                                "unknown escape `\\{other}` in a string; only `\\\"` and `\\\\` are allowed"
                            ),
                        ));
                    }
                    None => {
                        return Err(self.error(
                            start,
                            &["\""],
                            END_OF_INPUT,
                            "this string has no closing `\"`",
                        ));
                    }
                },
                Some(c) => {
                    value.push(c);
                    pos += 1;
                }
            }
        }
        Ok(self.token(TokenKind::Str(value), start, pos + 1 - start))
    }

    fn digits_from(&self, mut pos: usize) -> usize {
        while self.char_at(pos).is_some_and(|c| c.is_ascii_digit()) {
            pos += 1;
        }
        pos
    }

    /// The end of a run that a reader would take for one word, so a malformed
    /// number or date is reported whole (`12abc`, `2024-5-1`).
    fn word_end(&self, mut pos: usize) -> usize {
        while self
            .char_at(pos)
            .is_some_and(|c| is_word_char(c) || c == '.' || c == '-')
        {
            pos += 1;
        }
        pos
    }

    fn number_or_date(&mut self, start: usize) -> Result<Token, RuleError> {
        let negative = self.char_at(start) == Some('-');
        let whole_start = if negative { start + 1 } else { start };
        if !self
            .char_at(whole_start)
            .is_some_and(|c| c.is_ascii_digit())
        {
            return Err(self.error(
                start,
                &["a number"],
                "-",
                "unexpected `-`; a minus sign must be followed by digits",
            ));
        }
        let whole_end = self.digits_from(whole_start);
        if !negative && whole_end - whole_start == 4 && self.char_at(whole_end) == Some('-') {
            return self.date(start);
        }
        let mut end = whole_end;
        let mut fraction = None;
        if self.char_at(end) == Some('.') {
            let frac_end = self.digits_from(end + 1);
            if frac_end > end + 1 {
                fraction = Some(self.text(end + 1, frac_end));
                end = frac_end;
            }
        }
        let bad = match self.char_at(end) {
            Some(c) => is_word_char(c) || c == '.' || c == '-',
            None => false,
        };
        if bad {
            let word = self.text(start, self.word_end(end));
            return Err(self.error(
                start,
                &["a number"],
                word.clone(),
                format!("`{word}` is not a number"),
            ));
        }
        let number = Number {
            negative,
            whole: self.text(whole_start, whole_end),
            fraction,
        };
        Ok(self.token(TokenKind::Number(number), start, end - start))
    }

    fn date(&mut self, start: usize) -> Result<Token, RuleError> {
        let end = self.word_end(start);
        let word: Vec<char> = self.chars.get(start..end).unwrap_or(&[]).to_vec();
        let text: String = word.iter().collect();
        let shaped = word.len() == 10
            && word.iter().enumerate().all(|(i, c)| {
                if i == 4 || i == 7 {
                    *c == '-'
                } else {
                    c.is_ascii_digit()
                }
            });
        let not_a_date = || {
            self.error(
                start,
                &["a date (YYYY-MM-DD)"],
                text.clone(),
                format!("`{text}` is not a date; dates are written YYYY-MM-DD"),
            )
        };
        if !shaped {
            return Err(not_a_date());
        }
        let num = |from: usize, to: usize| -> u32 {
            word.get(from..to)
                .unwrap_or(&[])
                .iter()
                .filter_map(|c| c.to_digit(10))
                .fold(0, |acc, d| acc * 10 + d)
        };
        let (year, month, day) = (num(0, 4), num(5, 7), num(8, 10));
        let date = i32::try_from(year).ok().and_then(|y| {
            let month = Month::try_from(u8::try_from(month).ok()?).ok()?;
            Date::from_calendar_date(y, month, u8::try_from(day).ok()?).ok()
        });
        match date {
            Some(d) => Ok(self.token(TokenKind::Date(d), start, end - start)),
            None => Err(self.error(
                start,
                &["a date (YYYY-MM-DD)"],
                text.clone(),
                format!("`{text}` is not a valid calendar date"),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lex(src: &str) -> Result<Vec<TokenKind>, RuleError> {
        let chars: Vec<char> = src.chars().collect();
        let mut lexer = Lexer::new(&chars);
        let mut out = Vec::new();
        loop {
            let tok = lexer.next_token()?;
            if tok.kind == TokenKind::End {
                return Ok(out);
            }
            out.push(tok.kind);
        }
    }

    fn num(negative: bool, whole: &str, fraction: Option<&str>) -> TokenKind {
        TokenKind::Number(Number {
            negative,
            whole: whole.to_owned(),
            fraction: fraction.map(str::to_owned),
        })
    }

    #[test]
    fn punctuation_and_operators() {
        use TokenKind::*;
        assert_eq!(
            lex("( ) [ ] , = != < <= > >=").unwrap(),
            vec![
                LParen,
                RParen,
                LBracket,
                RBracket,
                Comma,
                Op(CmpOp::Eq),
                Op(CmpOp::Ne),
                Op(CmpOp::Lt),
                Op(CmpOp::Le),
                Op(CmpOp::Gt),
                Op(CmpOp::Ge),
            ]
        );
        assert_eq!(
            lex("age>=3").unwrap(),
            vec![Ident("age".into()), Op(CmpOp::Ge), num(false, "3", None)]
        );
    }

    #[test]
    fn numbers_and_dates() {
        assert_eq!(
            lex("12 -3 499.99 0.5 007").unwrap(),
            vec![
                num(false, "12", None),
                num(true, "3", None),
                num(false, "499", Some("99")),
                num(false, "0", Some("5")),
                num(false, "007", None),
            ]
        );
        assert_eq!(
            lex("2024-02-29").unwrap(),
            vec![TokenKind::Date(time::macros::date!(2024 - 02 - 29))]
        );
        // Four digits alone are a number (a year-like amount), not a date.
        assert_eq!(lex("2024").unwrap(), vec![num(false, "2024", None)]);
    }

    #[test]
    fn strings_resolve_escapes() {
        assert_eq!(
            lex(r#""a \"b\" \\ ü""#).unwrap(),
            vec![TokenKind::Str("a \"b\" \\ ü".into())]
        );
        assert_eq!(lex(r#""""#).unwrap(), vec![TokenKind::Str(String::new())]);
    }

    #[test]
    fn lexical_errors() {
        let e = lex("city = \"abc").unwrap_err();
        assert_eq!((e.position, e.found.as_str()), (7, "end of input"));
        assert_eq!(e.expected, vec!["\""]);

        let e = lex(r#"city = "a\nb""#).unwrap_err();
        assert_eq!((e.position, e.found.as_str()), (9, "\\n"));

        let e = lex("age ! 3").unwrap_err();
        assert_eq!((e.position, e.expected.clone()), (4, vec!["!=".to_owned()]));

        let e = lex("age > 12abc").unwrap_err();
        assert_eq!((e.position, e.found.as_str()), (6, "12abc"));

        let e = lex("age > 1.").unwrap_err();
        assert_eq!((e.position, e.found.as_str()), (6, "1."));

        let e = lex("created > 2024-5-1").unwrap_err();
        assert_eq!((e.position, e.found.as_str()), (10, "2024-5-1"));
        assert!(e.message.contains("YYYY-MM-DD"), "{}", e.message);

        let e = lex("created > 2023-02-29").unwrap_err();
        assert!(e.message.contains("not a valid calendar date"));

        let e = lex("age > - 3").unwrap_err();
        assert_eq!(e.position, 6);

        let e = lex("city = ünïcode").unwrap_err();
        assert_eq!((e.position, e.found.as_str()), (7, "ü"));

        let e = lex("a @").unwrap_err();
        assert_eq!((e.position, e.line, e.column), (2, 1, 3));
    }
}
