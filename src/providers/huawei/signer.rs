//! SDK-HMAC-SHA256, Huawei Cloud's API gateway signature (PROVIDERS.md §3 "Signing",
//! `huaweicloudsdkcore.signer.Signer`). A pure function of the request parts, the
//! credentials and the time: no clock, no environment, no I/O, so the vectors in
//! `tests/vectors/huawei.json` pin every stage.

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

type HmacSha256 = Hmac<Sha256>;

pub const ALGORITHM: &str = "SDK-HMAC-SHA256";

/// What the signature covers.
pub struct SignInput<'a> {
    pub access_key: &'a str,
    pub secret_key: &'a str,
    pub method: &'a str,
    /// The path exactly as sent (no trailing `/`; the canonical URI adds one).
    pub path: &'a str,
    /// The canonical query string, which is also what is sent ([`canonical_query`]).
    pub query: &'a str,
    /// Every signed header as sent (any case); `host` and `x-sdk-date` included.
    pub headers: &'a [(&'a str, &'a str)],
    /// The exact body bytes.
    pub body: &'a str,
    /// `X-Sdk-Date`, `YYYYMMDDThhmmssZ`.
    pub sdk_date: &'a str,
}

/// Every stage, so a test failure names the stage that differs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signed {
    pub canonical_uri: String,
    pub canonical_headers: String,
    pub signed_headers: String,
    pub hashed_request_payload: String,
    pub canonical_request: String,
    pub hashed_canonical_request: String,
    pub string_to_sign: String,
    pub signature: String,
    pub authorization: String,
}

/// `X-Sdk-Date` for a time: UTC `YYYYMMDDThhmmssZ`.
pub fn sdk_date(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y%m%dT%H%M%SZ").to_string()
}

/// RFC 3986 encoding over UTF-8: only `A-Z a-z 0-9 - _ . ~` kept, upper-case hex.
pub fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Percent-decoding (`%XX`); malformed escapes are kept as they are.
fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && b[i + 1].is_ascii_hexdigit()
            && b[i + 2].is_ascii_hexdigit()
        {
            let hex = |c: u8| (c as char).to_digit(16).unwrap_or(0) as u8;
            out.push(hex(b[i + 1]) * 16 + hex(b[i + 2]));
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The canonical URI: each segment decoded then re-encoded, and a trailing `/`.
pub fn canonical_uri(path: &str) -> String {
    let mut uri = path
        .split('/')
        .map(|seg| encode(&decode(seg)))
        .collect::<Vec<_>>()
        .join("/");
    if !uri.ends_with('/') {
        uri.push('/');
    }
    uri
}

/// The canonical query string: pairs encoded, sorted by name then value, joined by `&`.
/// It is sent as is, so what is signed is what goes out.
pub fn canonical_query(pairs: &[(&str, &str)]) -> String {
    let mut enc: Vec<(String, String)> =
        pairs.iter().map(|(k, v)| (encode(k), encode(v))).collect();
    enc.sort();
    enc.iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

fn sha256_hex(data: &str) -> String {
    hex::encode(Sha256::digest(data.as_bytes()))
}

pub fn sign(i: &SignInput<'_>) -> Signed {
    let canonical_uri = canonical_uri(i.path);
    let mut headers: Vec<(String, String)> = i
        .headers
        .iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    headers.sort();
    let canonical_headers: String = headers.iter().map(|(k, v)| format!("{k}:{v}\n")).collect();
    let signed_headers = headers
        .iter()
        .map(|(k, _)| k.as_str())
        .collect::<Vec<_>>()
        .join(";");
    let hashed_request_payload = sha256_hex(i.body);
    let canonical_request = format!(
        "{}\n{canonical_uri}\n{}\n{canonical_headers}\n{signed_headers}\n{hashed_request_payload}",
        i.method, i.query
    );
    let hashed_canonical_request = sha256_hex(&canonical_request);
    let string_to_sign = format!("{ALGORITHM}\n{}\n{hashed_canonical_request}", i.sdk_date);
    // No key derivation: the key is the secret key's bytes as they are.
    let mut mac =
        HmacSha256::new_from_slice(i.secret_key.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(string_to_sign.as_bytes());
    let signature = hex::encode(mac.finalize().into_bytes());
    let authorization = format!(
        "{ALGORITHM} Access={}, SignedHeaders={signed_headers}, Signature={signature}",
        i.access_key
    );
    Signed {
        canonical_uri,
        canonical_headers,
        signed_headers,
        hashed_request_payload,
        canonical_request,
        hashed_canonical_request,
        string_to_sign,
        signature,
        authorization,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    const VECTORS: &str = include_str!("../../../tests/vectors/huawei.json");

    #[test]
    fn reproduces_every_vector_stage_by_stage() {
        let v: Value = serde_json::from_str(VECTORS).unwrap();
        let cases = v["cases"].as_array().unwrap();
        assert!(cases.len() >= 6);
        for c in cases {
            let name = c["name"].as_str().unwrap();
            let inp = &c["inputs"];
            let s = |k: &str| inp[k].as_str().unwrap();
            let pairs: Vec<(&str, &str)> = inp["query"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| (p[0].as_str().unwrap(), p[1].as_str().unwrap()))
                .collect();
            let query = canonical_query(&pairs);
            let headers: Vec<(&str, &str)> = inp["signed_headers"]
                .as_object()
                .unwrap()
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str().unwrap()))
                .collect();
            let got = sign(&SignInput {
                access_key: s("access_key"),
                secret_key: s("secret_key"),
                method: s("method"),
                path: s("path"),
                query: &query,
                headers: &headers,
                body: s("body"),
                sdk_date: s("x_sdk_date"),
            });
            let im = &c["intermediate"];
            let want = |k: &str| im[k].as_str().unwrap().to_string();
            assert_eq!(got.canonical_uri, want("canonical_uri"), "{name}: uri");
            assert_eq!(query, want("canonical_query_string"), "{name}: query");
            assert_eq!(
                got.canonical_headers,
                want("canonical_headers"),
                "{name}: canonical headers"
            );
            assert_eq!(
                got.signed_headers,
                want("signed_headers"),
                "{name}: signed headers"
            );
            assert_eq!(
                got.hashed_request_payload,
                want("hashed_request_payload"),
                "{name}: payload hash"
            );
            assert_eq!(
                got.canonical_request,
                want("canonical_request"),
                "{name}: canonical request"
            );
            assert_eq!(
                got.hashed_canonical_request,
                want("hashed_canonical_request"),
                "{name}: hashed canonical request"
            );
            assert_eq!(
                got.string_to_sign,
                want("string_to_sign"),
                "{name}: string to sign"
            );
            assert_eq!(
                got.signature,
                c["signature"].as_str().unwrap(),
                "{name}: signature"
            );
            assert_eq!(
                got.authorization,
                c["authorization"].as_str().unwrap(),
                "{name}: authorization"
            );
            // The wire form: the target is the path, then the canonical query as is.
            let target = if query.is_empty() {
                s("path").to_string()
            } else {
                format!("{}?{query}", s("path"))
            };
            assert_eq!(
                target,
                c["request"]["request_target"].as_str().unwrap(),
                "{name}: request target"
            );
            assert_eq!(
                got.authorization,
                c["request"]["headers"]["Authorization"].as_str().unwrap(),
                "{name}: Authorization header"
            );
            let date = chrono::DateTime::parse_from_rfc3339(s("timestamp_utc"))
                .unwrap()
                .with_timezone(&chrono::Utc);
            assert_eq!(sdk_date(date), s("x_sdk_date"), "{name}: X-Sdk-Date");
        }
    }

    #[test]
    fn encoding_rules() {
        assert_eq!(encode("a b/c*~"), "a%20b%2Fc%2A~");
        assert_eq!(canonical_uri("/v1/x%20y/z"), "/v1/x%20y/z/");
        assert_eq!(canonical_uri("/"), "/");
        assert_eq!(decode("%zz%4"), "%zz%4");
        assert_eq!(
            canonical_query(&[("b", "2"), ("a", "z"), ("a", "y")]),
            "a=y&a=z&b=2"
        );
    }
}
