//! Splitting a formula's text into tokens.

use super::eval::Binary;
use super::{error, FormulaError};
use crate::core::text::elide;

/// The kind of a token.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Tok {
    Num(f64),
    Ident,
    LParen,
    RParen,
    Comma,
    Op(Binary),
    Bang,
    End,
}

/// A token with its text and 1-based column.
#[derive(Debug, Clone, Copy)]
pub(super) struct Token<'a> {
    pub(super) tok: Tok,
    pub(super) text: &'a str,
    pub(super) column: usize,
}

/// An error at token `t`: it was not expected here, and `what` says why.
pub(super) fn unexpected(t: Token<'_>, what: &str) -> FormulaError {
    error(t.column, format!("unexpected `{}`{what}", elide(t.text)))
}

/// Splits `source` into tokens ending with `Tok::End`. Only ASCII is accepted outside of errors,
/// so byte offsets equal character offsets for every token.
pub(super) fn lex(source: &str) -> Result<Vec<Token<'_>>, FormulaError> {
    let bytes = source.as_bytes();
    let mut tokens = Vec::new();
    let mut i = 0;
    let mut end_column = 1;
    while i < bytes.len() {
        let c = bytes[i];
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        let start = i;
        let two = bytes.get(i + 1).copied();
        let (tok, len) = match (c, two) {
            (b'0'..=b'9' | b'.', _) => {
                i += bytes[i..]
                    .iter()
                    .take_while(|b| b.is_ascii_digit() || **b == b'.')
                    .count();
                if matches!(bytes.get(i), Some(b'e' | b'E')) {
                    i += 1;
                    if matches!(bytes.get(i), Some(b'+' | b'-')) {
                        i += 1;
                    }
                    i += bytes[i..].iter().take_while(|b| b.is_ascii_digit()).count();
                }
                let text = &source[start..i];
                let value: f64 = text
                    .parse()
                    .map_err(|_| error(start + 1, format!("malformed number `{}`", elide(text))))?;
                if !value.is_finite() {
                    return Err(error(
                        start + 1,
                        format!("number `{}` is too large for a float", elide(text)),
                    ));
                }
                (Tok::Num(value), i - start)
            }
            (b'a'..=b'z' | b'A'..=b'Z' | b'_', _) => {
                let len = bytes[i..]
                    .iter()
                    .take_while(|b| b.is_ascii_alphanumeric() || **b == b'_')
                    .count();
                (Tok::Ident, len)
            }
            (b'|', Some(b'|')) => (Tok::Op(Binary::Or), 2),
            (b'&', Some(b'&')) => (Tok::Op(Binary::And), 2),
            (b'=', Some(b'=')) => (Tok::Op(Binary::Eq), 2),
            (b'!', Some(b'=')) => (Tok::Op(Binary::Ne), 2),
            (b'<', Some(b'=')) => (Tok::Op(Binary::Le), 2),
            (b'>', Some(b'=')) => (Tok::Op(Binary::Ge), 2),
            (b'<', _) => (Tok::Op(Binary::Lt), 1),
            (b'>', _) => (Tok::Op(Binary::Gt), 1),
            (b'*', _) => (Tok::Op(Binary::Mul), 1),
            (b'/', _) => (Tok::Op(Binary::Div), 1),
            (b'%', _) => (Tok::Op(Binary::Rem), 1),
            (b'+', _) => (Tok::Op(Binary::Add), 1),
            (b'-', _) => (Tok::Op(Binary::Sub), 1),
            (b'^', _) => (Tok::Op(Binary::Pow), 1),
            (b'!', _) => (Tok::Bang, 1),
            (b'(', _) => (Tok::LParen, 1),
            (b')', _) => (Tok::RParen, 1),
            (b',', _) => (Tok::Comma, 1),
            (b'=', _) => return Err(error(i + 1, "unexpected `=`; use `==` to compare")),
            (b'&', _) => return Err(error(i + 1, "unexpected `&`; use `&&` for logical and")),
            (b'|', _) => return Err(error(i + 1, "unexpected `|`; use `||` for logical or")),
            _ => {
                let ch = source[i..].chars().next().unwrap_or('?');
                return Err(error(i + 1, format!("unexpected character `{ch}`")));
            }
        };
        i = start + len;
        end_column = i + 1;
        tokens.push(Token {
            tok,
            text: &source[start..i],
            column: start + 1,
        });
    }
    tokens.push(Token {
        tok: Tok::End,
        text: "",
        column: end_column,
    });
    Ok(tokens)
}

#[cfg(test)]
mod tests {
    use crate::formula::testing::check;

    #[test]
    fn numeric_literals() {
        #[rustfmt::skip]
        let cases = [
            ("1", 1.0), ("0.5", 0.5), (".5", 0.5), ("1e-3", 1e-3), ("2.5E+2", 250.0),
            ("3e2", 300.0), (" \t1.\n", 1.0), ("007", 7.0),
        ];
        check(&cases);
    }
}
