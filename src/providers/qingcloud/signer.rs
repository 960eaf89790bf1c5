//! QingCloud API signature v1, HPC variant (`/api/...`; PROVIDERS.md §2 "Signing",
//! `qingcloud_hpc.request.Request.calc_sign`). A pure function of the request parts,
//! the secret and nothing else: the caller puts the timestamp in the parameters, so
//! the vectors in `tests/vectors/qingcloud.json` pin every stage.
//!
//! The IaaS variant (§2b, `qingcloud.conn.auth.QuerySignatureAuthHandler`:
//! `time_stamp`, single encoding, no body hash, no trailing `/`) differs in every
//! stage but the HMAC: [`sign_iaas`], sharing [`hmac_base64`].

use base64::Engine;
use hmac::{Hmac, Mac};
use md5::{Digest, Md5};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// What the HPC signature covers.
pub struct HpcSignInput<'a> {
    pub secret_access_key: &'a str,
    pub method: &'a str,
    /// The request path exactly as the server sees it (any endpoint prefix included),
    /// without the trailing `/` the canonical URI adds.
    pub path: &'a str,
    /// Every query parameter but `signature`, decoded (the common ones included).
    pub params: &'a [(String, String)],
    /// The exact body bytes (`""` for GET).
    pub body: &'a str,
}

/// Every stage, so a test failure names the stage that differs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HpcSigned {
    pub canonical_uri: String,
    pub canonical_query: String,
    pub body_md5: String,
    pub string_to_sign: String,
    pub signature_base64: String,
    /// `quote_plus(quote_plus(signature))`: what goes after `signature=` on the wire.
    pub signature_on_wire: String,
}

/// Python's `urllib.parse.quote(s)` with its default `safe='/'`: `A-Z a-z 0-9 _ . - ~`
/// and `/` kept, everything else `%XX` of its UTF-8 bytes, upper-case hex.
pub fn quote(s: &str) -> String {
    encode(s, b"_.-~/", false)
}

/// Python's `urllib.parse.quote_plus(s)`: as `quote` with `safe=''`, and space as `+`.
pub fn quote_plus(s: &str) -> String {
    encode(s, b"_.-~", true)
}

fn encode(s: &str, safe: &[u8], space_plus: bool) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for &b in s.as_bytes() {
        if b.is_ascii_alphanumeric() || safe.contains(&b) {
            out.push(b as char);
        } else if b == b' ' && space_plus {
            out.push('+');
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The canonical query: empty values dropped, sorted by name then value (byte
/// order), names and values `quote`d, joined with `&`.
pub fn canonical_query(params: &[(String, String)]) -> String {
    let mut pairs: Vec<&(String, String)> = params.iter().filter(|(_, v)| !v.is_empty()).collect();
    pairs.sort();
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", quote(k), quote(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// The path with its segments encoded as the query is, plus a trailing `/`.
pub fn canonical_uri(path: &str) -> String {
    let mut uri = quote(path);
    if !uri.ends_with('/') {
        uri.push('/');
    }
    uri
}

pub fn hmac_base64(secret: &str, data: &str) -> String {
    let mut mac =
        HmacSha256::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(data.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

pub fn sign_hpc(i: &HpcSignInput<'_>) -> HpcSigned {
    let canonical_uri = canonical_uri(i.path);
    let canonical_query = canonical_query(i.params);
    let body_md5 = hex::encode(Md5::digest(i.body.as_bytes()));
    let string_to_sign = format!(
        "{}\n{canonical_uri}\n{canonical_query}\n{body_md5}",
        i.method
    );
    let signature_base64 = hmac_base64(i.secret_access_key, &string_to_sign);
    // The server decodes the query once and compares with quote_plus(signature):
    // it must be encoded twice (PROVIDERS.md §2, step 6).
    let signature_on_wire = quote_plus(&quote_plus(&signature_base64));
    HpcSigned {
        canonical_uri,
        canonical_query,
        body_md5,
        string_to_sign,
        signature_base64,
        signature_on_wire,
    }
}

/// The query string sent: the canonical query (it decodes to the signed values)
/// and `signature` last.
pub fn wire_query(signed: &HpcSigned) -> String {
    if signed.canonical_query.is_empty() {
        format!("signature={}", signed.signature_on_wire)
    } else {
        format!(
            "{}&signature={}",
            signed.canonical_query, signed.signature_on_wire
        )
    }
}

/// What the IaaS signature covers.
pub struct IaasSignInput<'a> {
    pub secret_access_key: &'a str,
    pub method: &'a str,
    /// The request path exactly as sent (`/iaas/`, any endpoint prefix included).
    pub path: &'a str,
    /// Every parameter but `signature`, decoded (`action`, `zone` and the common ones included).
    pub params: &'a [(String, String)],
}

/// Every stage of the IaaS signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IaasSigned {
    /// Also the query sent (before `signature`).
    pub canonical_query: String,
    pub string_to_sign: String,
    pub signature_base64: String,
    /// `quote_plus(signature)`: encoded once.
    pub signature_on_wire: String,
}

/// Python's `quote(s, safe='')` (names) and `quote(s, safe='-_~')` (values) alike:
/// only `A-Z a-z 0-9 - _ . ~` kept, `/` encoded too.
pub fn quote_strict(s: &str) -> String {
    encode(s, b"_.-~", false)
}

/// The IaaS canonical query: sorted by name (byte order; values break ties), names
/// and values [`quote_strict`]ed, joined with `&`. Empty values are kept, as the SDK does.
pub fn iaas_canonical_query(params: &[(String, String)]) -> String {
    let mut pairs: Vec<&(String, String)> = params.iter().collect();
    pairs.sort();
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", quote_strict(k), quote_strict(v)))
        .collect::<Vec<_>>()
        .join("&")
}

pub fn sign_iaas(i: &IaasSignInput<'_>) -> IaasSigned {
    let canonical_query = iaas_canonical_query(i.params);
    let string_to_sign = format!("{}\n{}\n{canonical_query}", i.method, i.path);
    let signature_base64 = hmac_base64(i.secret_access_key, &string_to_sign);
    // Encoded once (PROVIDERS.md §2b, step 4): twice fails with 1200.
    let signature_on_wire = quote_plus(&signature_base64);
    IaasSigned {
        canonical_query,
        string_to_sign,
        signature_base64,
        signature_on_wire,
    }
}

/// The IaaS query string sent: the canonical query, then `signature` last.
pub fn iaas_wire_query(signed: &IaasSigned) -> String {
    if signed.canonical_query.is_empty() {
        format!("signature={}", signed.signature_on_wire)
    } else {
        format!(
            "{}&signature={}",
            signed.canonical_query, signed.signature_on_wire
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    const VECTORS: &str = include_str!("../../../tests/vectors/qingcloud.json");

    /// Form-decodes a query string (`+` = space), as the server does.
    fn decode_query(q: &str) -> Vec<(String, String)> {
        fn dec(s: &str) -> String {
            let bytes = s.as_bytes();
            let mut out = Vec::new();
            let mut i = 0;
            while i < bytes.len() {
                match bytes[i] {
                    b'+' => out.push(b' '),
                    b'%' if i + 2 < bytes.len() => {
                        let h = u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap();
                        out.push(h);
                        i += 2;
                    }
                    b => out.push(b),
                }
                i += 1;
            }
            String::from_utf8(out).unwrap()
        }
        let mut v: Vec<(String, String)> = q
            .split('&')
            .map(|kv| {
                let (k, v) = kv.split_once('=').unwrap();
                (dec(k), dec(v))
            })
            .collect();
        v.sort();
        v
    }

    #[test]
    fn python_quoting() {
        assert_eq!(quote("a b/c+d=e*f~g_h.i-j"), "a%20b/c%2Bd%3De%2Af~g_h.i-j");
        assert_eq!(quote("名"), "%E5%90%8D");
        assert_eq!(quote_plus("a b/c+="), "a+b%2Fc%2B%3D");
        assert_eq!(canonical_uri("/api/job/stopJobs"), "/api/job/stopJobs/");
        assert_eq!(canonical_uri("/p x/api/operation"), "/p%20x/api/operation/");
        let q = canonical_query(&[
            ("b".into(), "2".into()),
            ("a".into(), "".into()),
            ("b".into(), "1".into()),
        ]);
        assert_eq!(q, "b=1&b=2");
    }

    #[test]
    fn reproduces_every_hpc_vector_stage_by_stage() {
        let v: Value = serde_json::from_str(VECTORS).unwrap();
        let cases: Vec<&Value> = v["cases"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["name"].as_str().unwrap().starts_with("hpc_"))
            .collect();
        assert_eq!(cases.len(), 4);
        for c in cases {
            let name = c["name"].as_str().unwrap();
            let inp = &c["inputs"];
            let mut params: Vec<(String, String)> = Vec::new();
            for key in ["common_params", "action_params_in_query"] {
                for (k, v) in inp[key].as_object().unwrap() {
                    params.push((k.clone(), v.as_str().unwrap().to_string()));
                }
            }
            let got = sign_hpc(&HpcSignInput {
                secret_access_key: inp["secret_access_key"].as_str().unwrap(),
                method: inp["method"].as_str().unwrap(),
                path: inp["path"].as_str().unwrap(),
                params: &params,
                body: inp["body"].as_str().unwrap(),
            });
            let im = &c["intermediate"];
            let want = |k: &str| im[k].as_str().unwrap().to_string();
            assert_eq!(got.canonical_uri, want("canonical_uri"), "{name}: uri");
            assert_eq!(
                got.canonical_query,
                want("canonical_query_string"),
                "{name}: canonical query"
            );
            assert_eq!(got.body_md5, want("body_md5"), "{name}: body md5");
            assert_eq!(
                got.string_to_sign,
                want("string_to_sign"),
                "{name}: string to sign"
            );
            assert_eq!(
                got.signature_base64,
                c["signature_base64"].as_str().unwrap(),
                "{name}: signature"
            );
            assert_eq!(
                quote_plus(&got.signature_base64),
                c["signature_url_encoded_once"].as_str().unwrap(),
                "{name}: encoded once"
            );
            assert_eq!(
                got.signature_on_wire,
                c["signature_on_wire"].as_str().unwrap(),
                "{name}: wire signature"
            );
            // The wire query: signature last, and the same decoded parameters as
            // the SDK's (its order differs; the server signs the decoded query).
            let wire = wire_query(&got);
            let sdk = c["query_string"].as_str().unwrap();
            let sig = format!("&signature={}", got.signature_on_wire);
            assert!(wire.ends_with(&sig), "{name}: signature last");
            assert!(sdk.ends_with(&sig), "{name}: sdk signature last");
            assert_eq!(
                decode_query(&wire),
                decode_query(sdk),
                "{name}: wire query decodes as the SDK's"
            );
            // Re-signing the decoded wire query gives the same signature.
            let decoded: Vec<(String, String)> = decode_query(&wire[..wire.len() - sig.len()]);
            let again = sign_hpc(&HpcSignInput {
                secret_access_key: inp["secret_access_key"].as_str().unwrap(),
                method: inp["method"].as_str().unwrap(),
                path: inp["path"].as_str().unwrap(),
                params: &decoded,
                body: inp["body"].as_str().unwrap(),
            });
            assert_eq!(again.signature_base64, got.signature_base64, "{name}");
        }
    }

    #[test]
    fn iaas_quoting_encodes_slash() {
        assert_eq!(
            quote_strict("a b/c+d=e*f~g_h.i-j:"),
            "a%20b%2Fc%2Bd%3De%2Af~g_h.i-j%3A"
        );
        let q = iaas_canonical_query(&[
            ("instances.2".into(), "i-b".into()),
            ("instances.10".into(), "i-c".into()),
            ("empty".into(), "".into()),
        ]);
        assert_eq!(q, "empty=&instances.10=i-c&instances.2=i-b");
    }

    #[test]
    fn reproduces_every_iaas_vector_stage_by_stage() {
        let v: Value = serde_json::from_str(VECTORS).unwrap();
        let cases: Vec<&Value> = v["cases"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["name"].as_str().unwrap().starts_with("iaas_"))
            .collect();
        assert_eq!(cases.len(), 2);
        for c in cases {
            let name = c["name"].as_str().unwrap();
            let inp = &c["inputs"];
            let mut params: Vec<(String, String)> = Vec::new();
            for key in ["common_params", "action_params"] {
                for (k, v) in inp[key].as_object().unwrap() {
                    params.push((k.clone(), v.as_str().unwrap().to_string()));
                }
            }
            let got = sign_iaas(&IaasSignInput {
                secret_access_key: inp["secret_access_key"].as_str().unwrap(),
                method: inp["method"].as_str().unwrap(),
                path: inp["path"].as_str().unwrap(),
                params: &params,
            });
            let im = &c["intermediate"];
            assert_eq!(
                got.canonical_query,
                im["canonical_query_string"].as_str().unwrap(),
                "{name}: canonical query"
            );
            assert_eq!(
                got.string_to_sign,
                im["string_to_sign"].as_str().unwrap(),
                "{name}: string to sign"
            );
            assert_eq!(
                got.signature_base64,
                c["signature_base64"].as_str().unwrap(),
                "{name}: signature"
            );
            assert_eq!(
                got.signature_on_wire,
                c["signature_on_wire"].as_str().unwrap(),
                "{name}: wire signature"
            );
            // The whole wire query, byte for byte, and the request line.
            let wire = iaas_wire_query(&got);
            assert_eq!(wire, c["query_string"].as_str().unwrap(), "{name}: query");
            let req = &c["request"];
            assert_eq!(
                format!("{}?{wire}", inp["path"].as_str().unwrap()),
                req["request_target"].as_str().unwrap(),
                "{name}: request target"
            );
            assert_eq!(
                format!(
                    "{}://{}{}?{wire}",
                    inp["scheme"].as_str().unwrap(),
                    inp["host"].as_str().unwrap(),
                    inp["path"].as_str().unwrap()
                ),
                req["url"].as_str().unwrap(),
                "{name}: url"
            );
            // The server's side: decode the wire query, drop the signature, re-sign.
            let sig = format!("&signature={}", got.signature_on_wire);
            let decoded = decode_query(&wire[..wire.len() - sig.len()]);
            let again = sign_iaas(&IaasSignInput {
                secret_access_key: inp["secret_access_key"].as_str().unwrap(),
                method: inp["method"].as_str().unwrap(),
                path: inp["path"].as_str().unwrap(),
                params: &decoded,
            });
            assert_eq!(again.signature_base64, got.signature_base64, "{name}");
            let wire_sig = decode_query(&wire)
                .into_iter()
                .find(|(k, _)| k == "signature")
                .unwrap()
                .1;
            assert_eq!(wire_sig, got.signature_base64, "{name}: decodes once");
        }
    }
}
