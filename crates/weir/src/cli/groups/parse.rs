//! Pure parsing for `weir groups`: the classic consumer protocol's member assignment bytes (as
//! DescribeGroups returns them) and `--to-datetime` values. Bounded, never panics on garbage.

/// One topic's partitions in a member's assignment.
pub type TopicAssignment = (String, Vec<i32>);

/// A bounds-checked big-endian reader over untrusted bytes.
struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], String> {
        if n > self.buf.len() {
            return Err(format!(
                "truncated assignment: {what} needs {n} bytes, {} left",
                self.buf.len()
            ));
        }
        let (head, tail) = self.buf.split_at(n);
        self.buf = tail;
        Ok(head)
    }

    fn i16(&mut self, what: &str) -> Result<i16, String> {
        let b = self.take(2, what)?;
        Ok(i16::from_be_bytes([b[0], b[1]]))
    }

    fn i32(&mut self, what: &str) -> Result<i32, String> {
        let b = self.take(4, what)?;
        Ok(i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// An array length that must fit in what is left, given each element takes at least
    /// `min_elem` bytes (so garbage cannot make us allocate more than the input's size).
    fn count(&mut self, min_elem: usize, what: &str) -> Result<usize, String> {
        let n = self.i32(what)?;
        if n < 0 {
            return Ok(0); // null array
        }
        let n = n as usize;
        if n.saturating_mul(min_elem) > self.buf.len() {
            return Err(format!(
                "bad assignment: {what} claims {n} entries in {} bytes",
                self.buf.len()
            ));
        }
        Ok(n)
    }
}

/// Decode a classic `ConsumerProtocolAssignment` (versions 0-3: i16 version, array of
/// (string topic, array of i32 partitions), nullable bytes user data). Empty input is an empty
/// assignment (a member between rebalances). Trailing bytes of newer versions are ignored.
pub fn decode_assignment(bytes: &[u8]) -> Result<Vec<TopicAssignment>, String> {
    if bytes.is_empty() {
        return Ok(Vec::new());
    }
    let mut r = Reader { buf: bytes };
    let version = r.i16("version")?;
    if version < 0 {
        return Err(format!("bad assignment: version {version}"));
    }
    let topics = r.count(2 + 4, "topic array")?;
    let mut out = Vec::with_capacity(topics);
    for _ in 0..topics {
        let len = r.i16("topic name length")?;
        if len < 0 {
            return Err("bad assignment: null topic name".to_string());
        }
        let name = String::from_utf8_lossy(r.take(len as usize, "topic name")?).into_owned();
        let n = r.count(4, "partition array")?;
        let mut parts = Vec::with_capacity(n);
        for _ in 0..n {
            parts.push(r.i32("partition")?);
        }
        out.push((name, parts));
    }
    // User data (nullable bytes) follows; the CLI does not show it, but check it is well formed.
    if !r.buf.is_empty() {
        let len = r.i32("user data length")?;
        if len > 0 {
            r.take(len as usize, "user data")?;
        }
    }
    Ok(out)
}

/// Milliseconds since the Unix epoch of `s`: either an integer (already epoch milliseconds) or an
/// RFC 3339 date-time `YYYY-MM-DDTHH:MM:SS[.fraction][Z|±HH:MM]` (UTC when no offset is given;
/// a space may replace the `T`).
pub fn parse_datetime(s: &str) -> Result<i64, String> {
    let s = s.trim();
    let bad = || {
        format!("--to-datetime {s:?}: expected epoch milliseconds or YYYY-MM-DDTHH:MM:SS[.sss][Z|±HH:MM]")
    };
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        return s.parse::<i64>().map_err(|_| bad());
    }
    let b = s.as_bytes();
    if b.len() < 19 || !b.is_ascii() {
        return Err(bad());
    }
    let num = |range: std::ops::Range<usize>| -> Result<i64, String> {
        let part = &s[range];
        if part.bytes().all(|c| c.is_ascii_digit()) {
            part.parse::<i64>().map_err(|_| bad())
        } else {
            Err(bad())
        }
    };
    let seps_ok = b[4] == b'-'
        && b[7] == b'-'
        && matches!(b[10], b'T' | b't' | b' ')
        && b[13] == b':'
        && b[16] == b':';
    if !seps_ok {
        return Err(bad());
    }
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&month)
        || day < 1
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return Err(bad());
    }
    let mut rest = &s[19..];
    let mut millis = 0i64;
    if let Some(frac) = rest.strip_prefix('.') {
        let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(bad());
        }
        let ms: String = frac[..digits]
            .chars()
            .chain("000".chars())
            .take(3)
            .collect();
        millis = ms.parse::<i64>().map_err(|_| bad())?;
        rest = &frac[digits..];
    }
    let offset_minutes = match rest {
        "" | "Z" | "z" => 0,
        _ if rest.len() == 6 && matches!(&rest[..1], "+" | "-") && &rest[3..4] == ":" => {
            let h = num(s.len() - 5..s.len() - 3)?;
            let m = num(s.len() - 2..s.len())?;
            if h > 23 || m > 59 {
                return Err(bad());
            }
            let total = h * 60 + m;
            if rest.starts_with('-') {
                -total
            } else {
                total
            }
        }
        _ => return Err(bad()),
    };
    let days = days_from_civil(year, month, day);
    let secs = days * 86_400 + hour * 3_600 + minute * 60 + second - offset_minutes * 60;
    Ok(secs * 1_000 + millis)
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(version: i16, topics: &[(&str, &[i32])], user: Option<&[u8]>) -> Vec<u8> {
        let mut v = version.to_be_bytes().to_vec();
        v.extend((topics.len() as i32).to_be_bytes());
        for (t, ps) in topics {
            v.extend((t.len() as i16).to_be_bytes());
            v.extend(t.as_bytes());
            v.extend((ps.len() as i32).to_be_bytes());
            for p in *ps {
                v.extend(p.to_be_bytes());
            }
        }
        match user {
            Some(u) => {
                v.extend((u.len() as i32).to_be_bytes());
                v.extend(u);
            }
            None => v.extend((-1i32).to_be_bytes()),
        }
        v
    }

    #[test]
    fn decodes_a_real_shaped_assignment() {
        let bytes = encode(0, &[("orders", &[0, 2]), ("audit", &[1])], None);
        assert_eq!(
            decode_assignment(&bytes).unwrap(),
            vec![
                ("orders".to_string(), vec![0, 2]),
                ("audit".to_string(), vec![1])
            ]
        );
        let with_user = encode(3, &[("t", &[7])], Some(b"xyz"));
        assert_eq!(
            decode_assignment(&with_user).unwrap(),
            vec![("t".to_string(), vec![7])]
        );
        assert!(decode_assignment(&[]).unwrap().is_empty());
    }

    #[test]
    fn garbage_is_an_error_not_a_panic_or_a_huge_allocation() {
        assert!(decode_assignment(&[0]).is_err());
        assert!(decode_assignment(&[0, 0, 0x7f, 0xff, 0xff, 0xff]).is_err());
        assert!(decode_assignment(&[0xff, 0xff, 0, 0, 0, 0]).is_err());
        let full = encode(1, &[("orders", &[0, 1, 2])], Some(b"u"));
        for cut in 1..full.len() - 1 {
            let _ = decode_assignment(&full[..cut]);
        }
        let mut state = 0x1234_5678u32;
        for _ in 0..2000 {
            let len = (state % 40) as usize;
            let bytes: Vec<u8> = (0..len)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 17;
                    state ^= state << 5;
                    state as u8
                })
                .collect();
            let _ = decode_assignment(&bytes);
        }
    }

    #[test]
    fn datetimes() {
        assert_eq!(parse_datetime("1700000000123").unwrap(), 1_700_000_000_123);
        assert_eq!(parse_datetime("1970-01-01T00:00:00Z").unwrap(), 0);
        assert_eq!(
            parse_datetime("2023-11-14T22:13:20.123Z").unwrap(),
            1_700_000_000_123
        );
        assert_eq!(
            parse_datetime("2023-11-14T23:13:20+01:00").unwrap(),
            1_700_000_000_000
        );
        assert_eq!(
            parse_datetime("2023-11-14 22:13:20.5").unwrap(),
            1_700_000_000_500
        );
        assert_eq!(
            parse_datetime("2024-02-29T00:00:00-00:30").unwrap(),
            1_709_166_600_000
        );
        for bad in [
            "",
            "yesterday",
            "2023-02-29T00:00:00Z",
            "2023-13-01T00:00:00Z",
            "2023-11-14T22:13:20+1",
            "2023-11-14T22:13:20.Z",
            "2023-11-14T22:13",
            "2023-11-14T22:13:20Zjunk",
            "-5",
        ] {
            assert!(parse_datetime(bad).is_err(), "{bad}");
        }
    }
}
