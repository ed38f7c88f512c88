//! The principal of an mTLS connection: the client certificate's subject as an RFC 2253
//! distinguished name (`CN=alice,OU=eng,O=Example,C=US`, as Java's `X500Principal.getName()`),
//! which `ssl.principal.mapping.rules` then maps (`crate::config::principal_rules`).
//!
//! The subject is read with a small bounded DER walker: a malformed certificate yields `None`,
//! never a panic.

/// One DER element: (tag, content, rest after it).
fn tlv(buf: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = buf.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
        (len, &rest[n..])
    };
    if rest.len() < len {
        return None;
    }
    Some((tag, &rest[..len], &rest[len..]))
}

const SEQUENCE: u8 = 0x30;
const SET: u8 = 0x31;
const OID: u8 = 0x06;

/// The subject DN of a DER certificate in RFC 2253 form, or None if it cannot be read.
pub fn subject_dn(cert_der: &[u8]) -> Option<String> {
    let (tag, cert, _) = tlv(cert_der)?;
    if tag != SEQUENCE {
        return None;
    }
    let (tag, tbs, _) = tlv(cert)?;
    if tag != SEQUENCE {
        return None;
    }
    let mut rest = tbs;
    let (tag, _, after) = tlv(rest)?;
    if tag == 0xa0 {
        rest = after; // explicit version
    }
    // serial, signature algorithm, issuer, validity, then the subject.
    for _ in 0..4 {
        rest = tlv(rest)?.2;
    }
    let (tag, name, _) = tlv(rest)?;
    if tag != SEQUENCE {
        return None;
    }
    rfc2253(name)
}

/// RDNs in reverse order (RFC 2253), multi-valued RDNs joined with '+'.
fn rfc2253(mut name: &[u8]) -> Option<String> {
    let mut rdns = Vec::new();
    while !name.is_empty() {
        let (tag, mut set, rest) = tlv(name)?;
        if tag != SET {
            return None;
        }
        let mut parts = Vec::new();
        while !set.is_empty() {
            let (tag, atv, after) = tlv(set)?;
            if tag != SEQUENCE {
                return None;
            }
            let (tag, oid, value_tlv) = tlv(atv)?;
            if tag != OID {
                return None;
            }
            let (vtag, value, _) = tlv(value_tlv)?;
            let oid = oid_string(oid)?;
            let part = match keyword(&oid) {
                Some(k) => format!("{k}={}", escape(&string_value(vtag, value)?)),
                None => {
                    let der_len = value_tlv.len() - tlv(value_tlv)?.2.len();
                    let hex: String = value_tlv[..der_len]
                        .iter()
                        .map(|b| format!("{b:02x}"))
                        .collect();
                    format!("{oid}=#{hex}")
                }
            };
            parts.push(part);
            set = after;
        }
        rdns.push(parts.join("+"));
        name = rest;
    }
    rdns.reverse();
    Some(rdns.join(","))
}

fn oid_string(oid: &[u8]) -> Option<String> {
    let (&first, rest) = oid.split_first()?;
    let mut out = format!("{}.{}", first / 40, first % 40);
    let mut acc: u64 = 0;
    for b in rest {
        acc = acc.checked_mul(128)? | u64::from(b & 0x7f);
        if b & 0x80 == 0 {
            out.push_str(&format!(".{acc}"));
            acc = 0;
        }
    }
    Some(out)
}

fn keyword(oid: &str) -> Option<&'static str> {
    Some(match oid {
        "2.5.4.3" => "CN",
        "2.5.4.6" => "C",
        "2.5.4.7" => "L",
        "2.5.4.8" => "ST",
        "2.5.4.9" => "STREET",
        "2.5.4.10" => "O",
        "2.5.4.11" => "OU",
        "0.9.2342.19200300.100.1.25" => "DC",
        "0.9.2342.19200300.100.1.1" => "UID",
        _ => return None,
    })
}

fn string_value(tag: u8, v: &[u8]) -> Option<String> {
    match tag {
        // UTF8String, PrintableString, IA5String, TeletexString, NumericString
        0x0c | 0x13 | 0x16 | 0x14 | 0x12 => Some(String::from_utf8_lossy(v).into_owned()),
        // BMPString (UTF-16BE)
        0x1e => {
            let units: Vec<u16> = v
                .chunks_exact(2)
                .map(|c| u16::from_be_bytes([c[0], c[1]]))
                .collect();
            Some(String::from_utf16_lossy(&units))
        }
        _ => None,
    }
}

/// RFC 2253 escaping of an attribute value.
fn escape(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    let n = v.chars().count();
    for (i, c) in v.chars().enumerate() {
        let special = matches!(c, ',' | '+' | '"' | '\\' | '<' | '>' | ';')
            || (i == 0 && (c == '#' || c == ' '))
            || (i + 1 == n && c == ' ');
        if special {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn der(tag: u8, content: &[u8]) -> Vec<u8> {
        let mut v = vec![tag];
        if content.len() < 128 {
            v.push(content.len() as u8);
        } else {
            v.push(0x82);
            v.extend_from_slice(&(content.len() as u16).to_be_bytes());
        }
        v.extend_from_slice(content);
        v
    }

    fn atv(oid: &[u8], value: &str) -> Vec<u8> {
        let mut c = der(OID, oid);
        c.extend(der(0x0c, value.as_bytes()));
        der(SET, &der(SEQUENCE, &c))
    }

    #[test]
    fn subject_is_rfc2253_in_reverse_order_and_escaped() {
        let mut name = atv(&[0x55, 0x04, 0x06], "US");
        name.extend(atv(&[0x55, 0x04, 0x0a], "Acme, Inc"));
        name.extend(atv(&[0x55, 0x04, 0x03], "alice"));
        let mut tbs = der(0xa0, &der(0x02, &[2]));
        tbs.extend(der(0x02, &[1]));
        tbs.extend(der(SEQUENCE, &[]));
        tbs.extend(der(SEQUENCE, &atv(&[0x55, 0x04, 0x03], "ca")));
        tbs.extend(der(SEQUENCE, &[]));
        tbs.extend(der(SEQUENCE, &name));
        let cert = der(SEQUENCE, &der(SEQUENCE, &tbs));
        assert_eq!(
            subject_dn(&cert).as_deref(),
            Some("CN=alice,O=Acme\\, Inc,C=US")
        );
        // Truncations never panic.
        for n in 0..cert.len() {
            let _ = subject_dn(&cert[..n]);
        }
    }
}
