//! The peer certificate as node:tls's `getPeerCertificate()` shows it: the same field names,
//! and values in the same formats (parsed with x509-parser).

use x509_parser::asn1_rs::Tag;
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::GeneralName;
use x509_parser::prelude::FromDer;
use x509_parser::x509::{AttributeTypeAndValue, X509Name};

use crate::provider;

/// A distinguished name as node:tls shows it: attribute short names (OpenSSL's: `C`, `ST`, `L`,
/// `O`, `OU`, `CN`, `emailAddress`, …; an unknown attribute by its dotted OID) with their values,
/// in certificate order. A repeated attribute (two `OU`s) appears twice here; node:tls makes it an
/// array under one key.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DistinguishedName(pub Vec<(String, String)>);

impl DistinguishedName {
    /// The first value of attribute `name` (`"CN"`, `"O"`, …).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn from_x509(name: &X509Name<'_>) -> Self {
        Self(
            name.iter_attributes()
                .map(|a| (short_name(a), attr_value(a)))
                .collect(),
        )
    }
}

/// The fields of node:tls's peer certificate object that zerosock fills.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeerCertificate {
    /// `subject`: { CN: 'localhost', O: '…' }.
    pub subject: DistinguishedName,
    /// `issuer`.
    pub issuer: DistinguishedName,
    /// `subjectaltname`: 'DNS:localhost, IP Address:127.0.0.1' (None when the certificate has
    /// no such extension; node:tls then leaves the field undefined).
    pub subjectaltname: Option<String>,
    /// `valid_from`: 'Jan  1 00:00:00 2026 GMT'.
    pub valid_from: String,
    /// `valid_to`, in the same format.
    pub valid_to: String,
    /// `fingerprint`: SHA-1 of the DER, uppercase hex with colons.
    pub fingerprint: String,
    /// `fingerprint256`: SHA-256 of the DER, uppercase hex with colons.
    pub fingerprint256: String,
    /// `fingerprint512`: SHA-512 of the DER, uppercase hex with colons.
    pub fingerprint512: String,
    /// `serialNumber`: uppercase hex, no colons, no leading zero byte.
    pub serial_number: String,
    /// `ca`: basicConstraints CA:TRUE.
    pub ca: bool,
    /// `raw`: the DER.
    pub raw: Vec<u8>,
}

impl PeerCertificate {
    /// Parses a DER certificate. None when it does not parse (a peer's certificate always
    /// does: the handshake checked it).
    pub fn from_der(der: &[u8]) -> Option<Self> {
        let (_, cert) = X509Certificate::from_der(der).ok()?;
        let [sha1, sha256, sha512] = provider::fingerprints(der);
        Some(Self {
            subject: DistinguishedName::from_x509(cert.subject()),
            issuer: DistinguishedName::from_x509(cert.issuer()),
            subjectaltname: subject_alt_names(&cert),
            valid_from: openssl_time(cert.validity().not_before.timestamp()),
            valid_to: openssl_time(cert.validity().not_after.timestamp()),
            fingerprint: colon_hex(&sha1),
            fingerprint256: colon_hex(&sha256),
            fingerprint512: colon_hex(&sha512),
            serial_number: serial_hex(cert.raw_serial()),
            ca: cert.is_ca(),
            raw: der.to_vec(),
        })
    }
}

/// The `subjectaltname` string of a DER certificate (None: no SAN extension or no parse).
pub(crate) fn subject_alt_names_der(der: &[u8]) -> Option<String> {
    let (_, cert) = X509Certificate::from_der(der).ok()?;
    subject_alt_names(&cert)
}

/// The validity period of a DER certificate (not before, not after) in Unix seconds.
pub(crate) fn validity_der(der: &[u8]) -> Option<(i64, i64)> {
    let (_, cert) = X509Certificate::from_der(der).ok()?;
    let v = cert.validity();
    Some((v.not_before.timestamp(), v.not_after.timestamp()))
}

/// Subject and issuer of a DER certificate, as raw DER names (for chain classification).
pub(crate) fn names_der(der: &[u8]) -> Option<(Vec<u8>, Vec<u8>)> {
    let (_, cert) = X509Certificate::from_der(der).ok()?;
    Some((
        cert.subject().as_raw().to_vec(),
        cert.issuer().as_raw().to_vec(),
    ))
}

fn subject_alt_names(cert: &X509Certificate<'_>) -> Option<String> {
    let san = cert.subject_alternative_name().ok()??;
    let parts: Vec<String> = san.value.general_names.iter().map(general_name).collect();
    Some(parts.join(", "))
}

/// One name as node's PrintGeneralName writes it; values with characters that would make the
/// list ambiguous are written as JSON strings, as node does.
fn general_name(n: &GeneralName<'_>) -> String {
    match n {
        GeneralName::DNSName(s) => format!("DNS:{}", alt_value(s)),
        GeneralName::RFC822Name(s) => format!("email:{}", alt_value(s)),
        GeneralName::URI(s) => format!("URI:{}", alt_value(s)),
        GeneralName::IPAddress(b) => format!("IP Address:{}", ip_text(b)),
        GeneralName::DirectoryName(name) => {
            let dn = DistinguishedName::from_x509(name);
            let text: Vec<String> = dn.0.iter().map(|(k, v)| format!("{k}={v}")).collect();
            format!("DirName:{}", json_string(&text.join(",")))
        }
        GeneralName::RegisteredID(oid) => format!("Registered ID:{}", oid.to_id_string()),
        GeneralName::OtherName(..) => "othername:<unsupported>".to_string(),
        GeneralName::X400Address(_) => "X400Name:<unsupported>".to_string(),
        GeneralName::EDIPartyName(_) => "EdiPartyName:<unsupported>".to_string(),
        GeneralName::Invalid(..) => "<invalid>".to_string(),
    }
}

fn ip_text(b: &[u8]) -> String {
    match b.len() {
        4 => format!("{}.{}.{}.{}", b[0], b[1], b[2], b[3]),
        // node: eight groups, uppercase hex, no `::` compression
        16 => b
            .chunks(2)
            .map(|p| format!("{:X}", u16::from_be_bytes([p[0], p[1]])))
            .collect::<Vec<_>>()
            .join(":"),
        _ => "<invalid>".to_string(),
    }
}

/// node's IsSafeAltName: quotes, backslashes, commas, apostrophes and control characters
/// make the value a JSON string.
fn alt_value(s: &str) -> String {
    let safe = s
        .chars()
        .all(|c| !matches!(c, '"' | '\\' | ',' | '\'') && c >= ' ' && c != '\x7f');
    if safe {
        s.to_string()
    } else {
        json_string(s)
    }
}

fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || c == '\x7f' => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// OpenSSL's short name for a name attribute (what node:tls uses as the key).
fn short_name(a: &AttributeTypeAndValue<'_>) -> String {
    let id = a.attr_type().to_id_string();
    let sn = match id.as_str() {
        "2.5.4.3" => "CN",
        "2.5.4.4" => "SN",
        "2.5.4.5" => "serialNumber",
        "2.5.4.6" => "C",
        "2.5.4.7" => "L",
        "2.5.4.8" => "ST",
        "2.5.4.9" => "street",
        "2.5.4.10" => "O",
        "2.5.4.11" => "OU",
        "2.5.4.12" => "title",
        "2.5.4.13" => "description",
        "2.5.4.15" => "businessCategory",
        "2.5.4.17" => "postalCode",
        "2.5.4.41" => "name",
        "2.5.4.42" => "GN",
        "2.5.4.43" => "initials",
        "2.5.4.44" => "generationQualifier",
        "2.5.4.46" => "dnQualifier",
        "2.5.4.65" => "pseudonym",
        "2.5.4.97" => "organizationIdentifier",
        "1.2.840.113549.1.9.1" => "emailAddress",
        "0.9.2342.19200300.100.1.1" => "UID",
        "0.9.2342.19200300.100.1.25" => "DC",
        "1.3.6.1.4.1.311.60.2.1.1" => "jurisdictionL",
        "1.3.6.1.4.1.311.60.2.1.2" => "jurisdictionST",
        "1.3.6.1.4.1.311.60.2.1.3" => "jurisdictionC",
        _ => return id,
    };
    sn.to_string()
}

fn attr_value(a: &AttributeTypeAndValue<'_>) -> String {
    if let Ok(s) = a.as_str() {
        return s.to_string();
    }
    let raw = a.as_slice();
    match a.attr_value().tag() {
        // UCS-2 big-endian
        Tag::BmpString => {
            let units: Vec<u16> = raw
                .chunks(2)
                .filter(|p| p.len() == 2)
                .map(|p| u16::from_be_bytes([p[0], p[1]]))
                .collect();
            String::from_utf16_lossy(&units)
        }
        // T.61 and the like: Latin-1 is what they hold in practice
        Tag::TeletexString | Tag::VisibleString | Tag::GeneralString => {
            raw.iter().map(|&b| b as char).collect()
        }
        _ => String::from_utf8_lossy(raw).into_owned(),
    }
}

fn colon_hex(b: &[u8]) -> String {
    b.iter()
        .map(|x| format!("{x:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

fn serial_hex(raw: &[u8]) -> String {
    let first = raw
        .iter()
        .position(|&b| b != 0)
        .unwrap_or(raw.len().saturating_sub(1));
    raw[first..].iter().map(|x| format!("{x:02X}")).collect()
}

/// OpenSSL's ASN1_TIME_print, as node:tls shows `valid_from`: 'Jan  1 00:00:00 2026 GMT'.
pub fn openssl_time(unix: i64) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let days = unix.div_euclid(86_400);
    let secs = unix.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{} {:>2} {:02}:{:02}:{:02} {} GMT",
        MONTHS[(m - 1) as usize],
        d,
        secs / 3600,
        secs / 60 % 60,
        secs % 60,
        y
    )
}

/// Days since 1970-01-01 to (year, month 1..=12, day 1..=31), proleptic Gregorian
/// (Howard Hinnant's civil_from_days).
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openssl_time_format() {
        assert_eq!(openssl_time(0), "Jan  1 00:00:00 1970 GMT");
        // 2026-12-03T17:12:00Z
        assert_eq!(openssl_time(1_796_317_920), "Dec  3 17:12:00 2026 GMT");
        // 2000-02-29T23:59:59Z (leap day)
        assert_eq!(openssl_time(951_868_799), "Feb 29 23:59:59 2000 GMT");
        assert_eq!(openssl_time(4_102_444_800), "Jan  1 00:00:00 2100 GMT");
    }

    #[test]
    fn ip_and_serial_format() {
        assert_eq!(ip_text(&[127, 0, 0, 1]), "127.0.0.1");
        let mut v6 = [0u8; 16];
        v6[15] = 1;
        v6[0] = 0xfe;
        v6[1] = 0x80;
        assert_eq!(ip_text(&v6), "FE80:0:0:0:0:0:0:1");
        assert_eq!(serial_hex(&[0x00, 0x8a, 0x01]), "8A01");
        assert_eq!(serial_hex(&[0x09, 0xed]), "09ED");
        assert_eq!(alt_value("a,b"), "\"a,b\"");
        assert_eq!(alt_value("localhost"), "localhost");
    }
}
