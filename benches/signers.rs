//! Nanoseconds per signature, one benchmark per provider signer (`cargo bench`).
//! Inputs are the seed operations of `tests/vectors/*.json`.

use cloudstop::providers::{qingcloud, tencent};
use divan::black_box;

fn main() {
    divan::main();
}

#[divan::bench]
fn tencent_tc3_terminate_job() -> tencent::signer::Signed {
    tencent::signer::sign(black_box(&tencent::signer::SignInput {
        secret_id: "AKIDEXAMPLEVECTORS01",
        secret_key: "vectors-secret-do-not-use-0001",
        service: "batch",
        method: "POST",
        host: "batch.tencentcloudapi.com",
        content_type: "application/json",
        query: "",
        body: r#"{"JobId": "job-rybewp57"}"#,
        timestamp: 1_700_000_000,
    }))
}

#[divan::bench]
fn qingcloud_hpc_stop_jobs(bencher: divan::Bencher) {
    let params: Vec<(String, String)> = [
        ("access_key_id", "AKIDEXAMPLEVECTORS01"),
        ("signature_method", "HmacSHA256"),
        ("signature_version", "1"),
        ("timestamp", "2023-11-14T22:13:20Z"),
        ("version", "1"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    bencher.bench(|| {
        qingcloud::signer::sign_hpc(black_box(&qingcloud::signer::HpcSignInput {
            secret_access_key: "vectors-secret-do-not-use-0001",
            method: "POST",
            path: "/api/job/stopJobs",
            params: &params,
            body: r#"{"cluster_id": "ehpc-8jqdq0mz", "job_ids": ["hpcjob-bp6rj09f", "hpcjob-k3x9w2qa"], "zone": "jn1a"}"#,
        }))
    });
}
