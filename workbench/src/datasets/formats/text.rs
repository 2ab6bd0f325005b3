//! Byte-level helpers shared by the format readers: a streaming line reader that never
//! fails on non-UTF-8 bytes, cp1252-tolerant decoding, small field splitters and
//! calendar arithmetic. Nothing here panics on any input.

use std::borrow::Cow;
use std::fs::File;
use std::io::{self, BufRead, BufReader};
use std::path::Path;

use super::FormatError;

/// Longest line kept; the rest of a longer line is dropped (and the row skipped), so a
/// file without newlines cannot make us buffer gigabytes.
pub(crate) const MAX_LINE: usize = 1 << 20;

/// Streams a file line by line as raw bytes (`\n` or `\r\n` endings removed).
pub(crate) struct LineReader<R> {
    inner: R,
    /// The current line, without its line ending, at most [`MAX_LINE`] bytes.
    pub buf: Vec<u8>,
    /// 1-based number of the current line.
    pub line_no: u64,
    /// True when the current line was longer than [`MAX_LINE`] and got cut.
    pub too_long: bool,
}

/// Opens `path` for streaming; the error names the file.
pub(crate) fn open(path: &Path) -> Result<LineReader<BufReader<File>>, FormatError> {
    let file = File::open(path).map_err(|source| FormatError::Io {
        file: path.display().to_string(),
        source,
    })?;
    Ok(LineReader::new(BufReader::with_capacity(1 << 16, file)))
}

impl<R: BufRead> LineReader<R> {
    /// Wraps a buffered reader.
    pub(crate) fn new(inner: R) -> Self {
        LineReader {
            inner,
            buf: Vec::with_capacity(1024),
            line_no: 0,
            too_long: false,
        }
    }

    /// Reads the next line into `buf`; `Ok(false)` at end of input.
    pub(crate) fn next_line(&mut self) -> io::Result<bool> {
        self.buf.clear();
        self.too_long = false;
        let mut any = false;
        loop {
            let chunk = match self.inner.fill_buf() {
                Ok(c) => c,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if chunk.is_empty() {
                break;
            }
            any = true;
            let (take, done) = match chunk.iter().position(|&b| b == b'\n') {
                Some(i) => (i, true),
                None => (chunk.len(), false),
            };
            let room = MAX_LINE.saturating_sub(self.buf.len());
            if take > room {
                self.too_long = true;
            }
            self.buf.extend_from_slice(&chunk[..take.min(room)]);
            self.inner.consume(if done { take + 1 } else { take });
            if done {
                break;
            }
        }
        if !any {
            return Ok(false);
        }
        self.line_no += 1;
        if self.buf.last() == Some(&b'\r') {
            self.buf.pop();
        }
        Ok(true)
    }

    /// [`next_line`](Self::next_line) with the error naming `file`.
    pub(crate) fn next_or_err(&mut self, file: &Path) -> Result<bool, FormatError> {
        self.next_line().map_err(|source| FormatError::Io {
            file: file.display().to_string(),
            source,
        })
    }
}

/// cp1252 characters for bytes 0x80..=0x9F (undefined ones map to the C1 control).
const CP1252_HIGH: [char; 32] = [
    '€', '\u{81}', '‚', 'ƒ', '„', '…', '†', '‡', 'ˆ', '‰', 'Š', '‹', 'Œ', '\u{8d}', 'Ž', '\u{8f}',
    '\u{90}', '‘', '’', '“', '”', '•', '–', '—', '˜', '™', 'š', '›', 'œ', '\u{9d}', 'ž', 'Ÿ',
];

/// Decodes one line: UTF-8 when it is valid, otherwise cp1252 (a superset of latin-1
/// for printable text). CIC-IDS2017 writes its Web Attack labels with a cp1252 en dash
/// (0x96), which UTF-8 decoding would turn into U+FFFD.
pub(crate) fn decode(bytes: &[u8]) -> Cow<'_, str> {
    match std::str::from_utf8(bytes) {
        Ok(s) => Cow::Borrowed(s),
        Err(_) => Cow::Owned(
            bytes
                .iter()
                .map(|&b| match b {
                    0x80..=0x9f => CP1252_HIGH[usize::from(b - 0x80)],
                    b => char::from(b),
                })
                .collect(),
        ),
    }
}

/// Splits a line on `sep`. Double-quoted fields (with `""` escapes) may contain `sep`;
/// the fast path handles the usual unquoted lines without copying.
pub(crate) fn split(line: &str, sep: char) -> Vec<Cow<'_, str>> {
    if !line.contains('"') {
        return line.split(sep).map(Cow::Borrowed).collect();
    }
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                chars.next();
                cur.push('"');
            }
            '"' => quoted = !quoted,
            c if c == sep && !quoted => out.push(Cow::Owned(std::mem::take(&mut cur))),
            c => cur.push(c),
        }
    }
    // An unterminated quote just runs to the end of the line: the row is then short
    // and gets skipped by the caller's field-count check, never a panic.
    out.push(Cow::Owned(cur));
    out
}

/// Strips a UTF-8 byte order mark.
pub(crate) fn strip_bom(s: &str) -> &str {
    s.strip_prefix('\u{feff}').unwrap_or(s)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm), or
/// `None` for an impossible date.
pub(crate) fn days_from_civil(year: i64, month: u32, day: u32) -> Option<i64> {
    if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
        return None;
    }
    if !(1..=9999).contains(&year) {
        return None;
    }
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    Some(era * 146_097 + doe - 719_468)
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        _ => 0,
    }
}

/// A wall-clock reading, before the UTC offset is applied.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct LocalTime {
    pub year: i64,
    pub month: u32,
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
    /// Seconds including any fraction.
    pub second: f64,
}

impl LocalTime {
    /// Epoch seconds UTC, given the local clock's offset from UTC (`-3*3600` for ADT:
    /// UTC = local − offset). `None` for out-of-range fields.
    pub(crate) fn to_utc(self, utc_offset_s: i64) -> Option<f64> {
        if self.hour > 23 || self.minute > 59 || !(0.0..61.0).contains(&self.second) {
            return None;
        }
        let days = days_from_civil(self.year, self.month, self.day)?;
        let whole = days * 86_400 + i64::from(self.hour * 3600 + self.minute * 60)
            - utc_offset_s.clamp(-86_400, 86_400);
        Some(whole as f64 + self.second)
    }
}

/// Parses `H:MM`, `H:MM:SS` or `H:MM:SS.ffffff` into (hour, minute, seconds, had_seconds).
pub(crate) fn parse_clock(s: &str) -> Option<(u32, u32, f64, bool)> {
    let mut parts = s.split(':');
    let hour = small_uint(parts.next()?)?;
    let minute = small_uint(parts.next()?)?;
    let (second, had) = match parts.next() {
        None => (0.0, false),
        Some(sec) => (parse_seconds(sec)?, true),
    };
    if parts.next().is_some() {
        return None;
    }
    Some((hour, minute, second, had))
}

/// A 1–4 digit unsigned number (no sign, no spaces).
pub(crate) fn small_uint(s: &str) -> Option<u32> {
    if s.is_empty() || s.len() > 4 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

fn parse_seconds(s: &str) -> Option<f64> {
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    if int.is_empty() || int.len() > 2 || !int.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if !frac.bytes().all(|b| b.is_ascii_digit()) || frac.len() > 12 {
        return None;
    }
    s.parse().ok()
}

/// A finite, non-negative number of seconds (`f64` syntax); `None` otherwise.
pub(crate) fn seconds(s: &str) -> Option<f64> {
    s.trim()
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite() && *v >= 0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_split_decode_and_dates() {
        let data = b"a,b\r\nc\xff\n\nlast".to_vec();
        let mut r = LineReader::new(&data[..]);
        let mut got = Vec::new();
        while r.next_line().unwrap() {
            got.push((r.line_no, decode(&r.buf).into_owned()));
        }
        let want = [(1, "a,b"), (2, "cÿ"), (3, ""), (4, "last")];
        assert_eq!(got, want.map(|(n, s)| (n, s.to_string())));
        assert_eq!(decode(b"Web Attack \x96 XSS"), "Web Attack – XSS");
        assert_eq!(split("a,\"b,\"\"c\",d", ','), ["a", "b,\"c", "d"]);
        assert_eq!(split("\"open,x", ','), ["open,x"]);
        assert_eq!(days_from_civil(1970, 1, 1), Some(0));
        assert_eq!(days_from_civil(2017, 7, 7), Some(17_354));
        assert_eq!(days_from_civil(2017, 2, 29), None);
        assert_eq!(days_from_civil(2016, 2, 29), Some(16_860));
        assert_eq!(parse_clock("3:30"), Some((3, 30, 0.0, false)));
        assert_eq!(parse_clock("09:46:59.5"), Some((9, 46, 59.5, true)));
        assert_eq!(parse_clock("1:2:3:4"), None);
        assert_eq!(parse_clock("-1:00"), None);
    }

    #[test]
    fn overlong_lines_are_cut_not_buffered() {
        let mut data = vec![b'x'; MAX_LINE + 10];
        data.extend_from_slice(b"\nok\n");
        let mut r = LineReader::new(&data[..]);
        assert!(r.next_line().unwrap());
        assert!(r.too_long);
        assert_eq!(r.buf.len(), MAX_LINE);
        assert!(r.next_line().unwrap());
        assert!(!r.too_long);
        assert_eq!(r.buf, b"ok");
        assert!(!r.next_line().unwrap());
    }
}
