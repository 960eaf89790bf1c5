//! Huawei helpers for the binary-level tests: what the SDK-HMAC-SHA256 signature of a
//! request that arrived at the mock must be, recomputed from the wire.

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use wiremock::Request;

pub fn header<'a>(r: &'a Request, name: &str) -> Option<&'a str> {
    r.headers.get(name).and_then(|v| v.to_str().ok())
}

/// The `Authorization` value the request must carry, signed with `ak`/`sk` over the
/// headers `signed` (lower-case, sorted) as they arrived.
pub fn expected_authorization(r: &Request, ak: &str, sk: &str, signed: &[&str]) -> String {
    let mut canon = format!(
        "{}\n{}/\n{}\n",
        r.method,
        r.url.path(),
        r.url.query().unwrap_or("")
    );
    for h in signed {
        canon.push_str(&format!("{h}:{}\n", header(r, h).unwrap().trim()));
    }
    let list = signed.join(";");
    canon.push_str(&format!(
        "\n{list}\n{}",
        hex::encode(Sha256::digest(&r.body))
    ));
    let sts = format!(
        "SDK-HMAC-SHA256\n{}\n{}",
        header(r, "x-sdk-date").unwrap(),
        hex::encode(Sha256::digest(canon.as_bytes()))
    );
    let mut mac = Hmac::<Sha256>::new_from_slice(sk.as_bytes()).unwrap();
    mac.update(sts.as_bytes());
    format!(
        "SDK-HMAC-SHA256 Access={ak}, SignedHeaders={list}, Signature={}",
        hex::encode(mac.finalize().into_bytes())
    )
}
