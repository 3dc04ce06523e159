//! A certificate's subject as ZooKeeper names an x509 client:
//! `X500Principal.getName()`, the RFC 2253 form.
//!
//! RDNs are printed last to first, joined by `,`; attributes of one RDN by
//! `+`. The attributes RFC 2253 names (CN, C, L, ST, O, OU, STREET, DC, UID)
//! print as `KEYWORD=value` with `, + " \ < > ;` (and a leading `#` or
//! space, a trailing space) escaped by a backslash; any other attribute
//! prints as `<dotted oid>=#<hex of its DER value>`.

use x509_cert::der::asn1::{BmpString, Ia5String, PrintableString, TeletexString, Utf8StringRef};
use x509_cert::der::{Decode, Encode, Tag, Tagged};
use x509_cert::Certificate;

/// The RFC 2253 subject of a DER certificate, or `None` if it does not parse.
pub fn subject_dn(cert_der: &[u8]) -> Option<String> {
    let cert = Certificate::from_der(cert_der).ok()?;
    let rdns = &cert.tbs_certificate.subject.0;
    let mut parts = Vec::with_capacity(rdns.len());
    for rdn in rdns.iter().rev() {
        let mut attrs = Vec::new();
        for atv in rdn.0.iter() {
            attrs.push(attribute(&atv.oid.to_string(), &atv.value)?);
        }
        parts.push(attrs.join("+"));
    }
    Some(parts.join(","))
}

fn keyword(oid: &str) -> Option<&'static str> {
    Some(match oid {
        "2.5.4.3" => "CN",
        "2.5.4.6" => "C",
        "2.5.4.7" => "L",
        "2.5.4.8" => "ST",
        "2.5.4.10" => "O",
        "2.5.4.11" => "OU",
        "2.5.4.9" => "STREET",
        "0.9.2342.19200300.100.1.25" => "DC",
        "0.9.2342.19200300.100.1.1" => "UID",
        _ => return None,
    })
}

fn attribute(oid: &str, value: &x509_cert::der::Any) -> Option<String> {
    if let (Some(key), Some(text)) = (keyword(oid), string_value(value)) {
        return Some(format!("{key}={}", escape(&text)));
    }
    let der = value.to_der().ok()?;
    let hex: String = der.iter().map(|b| format!("{b:02x}")).collect();
    Some(format!("{oid}=#{hex}"))
}

fn string_value(value: &x509_cert::der::Any) -> Option<String> {
    match value.tag() {
        Tag::Utf8String => value
            .decode_as::<Utf8StringRef<'_>>()
            .ok()
            .map(|s| s.as_str().to_string()),
        Tag::PrintableString => value
            .decode_as::<PrintableString>()
            .ok()
            .map(|s| s.to_string()),
        Tag::Ia5String => value.decode_as::<Ia5String>().ok().map(|s| s.to_string()),
        Tag::TeletexString => value
            .decode_as::<TeletexString>()
            .ok()
            .map(|s| s.to_string()),
        Tag::BmpString => value.decode_as::<BmpString>().ok().map(|s| s.to_string()),
        _ => None,
    }
}

fn escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let last = value.chars().count().saturating_sub(1);
    for (i, c) in value.chars().enumerate() {
        let special = matches!(c, ',' | '+' | '"' | '\\' | '<' | '>' | ';')
            || (i == 0 && (c == '#' || c == ' '))
            || (i == last && c == ' ');
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

    fn cert_with(dn: rcgen::DistinguishedName) -> Vec<u8> {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.distinguished_name = dn;
        params.self_signed(&key).unwrap().der().to_vec()
    }

    #[test]
    fn rdns_print_last_first_with_rfc2253_keywords() {
        let mut dn = rcgen::DistinguishedName::new();
        dn.push(rcgen::DnType::CountryName, "DE");
        dn.push(rcgen::DnType::OrganizationName, "zk-rs");
        dn.push(rcgen::DnType::OrganizationalUnitName, "tests");
        dn.push(rcgen::DnType::CommonName, "client one");
        assert_eq!(
            subject_dn(&cert_with(dn)).unwrap(),
            "CN=client one,OU=tests,O=zk-rs,C=DE"
        );
    }

    #[test]
    fn special_characters_are_escaped_as_java_does() {
        let mut dn = rcgen::DistinguishedName::new();
        dn.push(rcgen::DnType::CommonName, "#a, b+c\"d\\e<f>g;h ");
        assert_eq!(
            subject_dn(&cert_with(dn)).unwrap(),
            r#"CN=\#a\, b\+c\"d\\e\<f\>g\;h\ "#
        );
    }

    #[test]
    fn attributes_without_a_keyword_print_as_hex_der() {
        let mut dn = rcgen::DistinguishedName::new();
        // emailAddress (1.2.840.113549.1.9.1) as an IA5String "a@b".
        dn.push(
            rcgen::DnType::CustomDnType(vec![1, 2, 840, 113549, 1, 9, 1]),
            rcgen::DnValue::Ia5String("a@b".try_into().unwrap()),
        );
        dn.push(rcgen::DnType::CommonName, "x");
        assert_eq!(
            subject_dn(&cert_with(dn)).unwrap(),
            "CN=x,1.2.840.113549.1.9.1=#1603614062"
        );
    }

    #[test]
    fn garbage_is_not_a_certificate() {
        assert_eq!(subject_dn(b"not a certificate"), None);
        assert_eq!(subject_dn(&[]), None);
    }
}
