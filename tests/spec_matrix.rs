//! SPEC's provider × noun table, written out here as SPEC and PROVIDERS.md state it
//! (an independent source, not the code that builds the `providers` table): every cell
//! is offered by `providers`, and an offline `--dry-run` of that cell signs a request
//! for the service PROVIDERS.md names, at its documented host and path.

mod common;

use common::Sandbox;

/// (provider, verb, id flag and SPEC/PROVIDERS example id, extra flags, where the
/// request must go: a host prefix and a path fragment).
const CELLS: &[(&str, &str, &[&str], &str, &str)] = &[
    (
        "tencent",
        "job stop",
        &["--region", "ap-guangzhou", "--job-id", "job-rybewp57"],
        "https://batch.",
        "/",
    ),
    (
        "tencent",
        "server stop",
        &["--region", "ap-guangzhou", "--server-id", "ins-r8hr2upy"],
        "https://cvm.",
        "/",
    ),
    (
        "tencent",
        "cluster delete",
        &["--region", "ap-guangzhou", "--cluster-id", "cls-etu4tjip"],
        "https://tke.",
        "/",
    ),
    (
        "tencent",
        "cluster delete",
        &["--region", "ap-guangzhou", "--cluster-id", "hpc-5lyv94lq"],
        "https://thpc.",
        "/",
    ),
    (
        "huawei",
        "job stop",
        &[
            "--region",
            "cn-north-4",
            "--job-id",
            "95f661bd-1527-41b8-971c-eca55e513254",
        ],
        "https://modelarts.cn-north-4.myhuaweicloud.com",
        "/training-jobs/95f661bd-1527-41b8-971c-eca55e513254",
    ),
    (
        "huawei",
        "server stop",
        &[
            "--region",
            "cn-north-4",
            "--server-id",
            "616fb98f-46ca-475e-917e-2563e5a8cd19",
        ],
        "https://ecs.cn-north-4.myhuaweicloud.com",
        "/cloudservers/action",
    ),
    (
        "huawei",
        "cluster delete",
        &[
            "--region",
            "cn-north-4",
            "--cluster-id",
            "fc563b3c-9552-11e8-8beb-0255ac106311",
        ],
        "https://cce.cn-north-4.myhuaweicloud.com",
        "/clusters/fc563b3c-9552-11e8-8beb-0255ac106311",
    ),
    (
        "qingcloud",
        "job stop",
        &[
            "--zone",
            "jn1a",
            "--cluster-id",
            "ehpc-8jqdq0mz",
            "--job-id",
            "hpcjob-bp6rj09f",
        ],
        "https://hpc-api.qingcloud.com",
        "/api/job/stopJobs",
    ),
    (
        "qingcloud",
        "server stop",
        &["--zone", "pek3a", "--server-id", "i-rtyv0968"],
        "https://api.qingcloud.com",
        "/iaas/",
    ),
    (
        "qingcloud",
        "cluster delete",
        &[
            "--zone",
            "jn1a",
            "--run-user",
            "usr-IuZxPyn2",
            "--cluster-id",
            "hpc-6o2qc9tl",
        ],
        "https://hpc-api.qingcloud.com",
        "/api/cluster/deleteCluster",
    ),
];

#[test]
fn every_cell_of_specs_table_is_offered() {
    let r = Sandbox::new().run(&["providers", "-o", "json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v = r.json();
    for (provider, verb, ..) in CELLS {
        let p = v["providers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == *provider || p["provider"] == *provider)
            .unwrap_or_else(|| panic!("{provider} missing from providers: {v}"));
        let ops: Vec<&str> = p["operations"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|o| o.as_str())
            .collect();
        assert!(
            ops.contains(verb),
            "{provider} does not offer {verb}: {ops:?}"
        );
    }
}

#[test]
fn every_cell_dry_runs_offline_against_its_documented_service() {
    for (provider, verb, ids, host, path) in CELLS {
        let mut args: Vec<&str> = verb.split(' ').collect();
        args.extend(["-p", provider, "--dry-run"]);
        args.extend_from_slice(ids);
        let r = Sandbox::new().run(&args);
        assert_eq!(r.code, 0, "{provider} {verb}: {}\n{}", r.stdout, r.stderr);
        let v = r.json();
        assert_eq!(v["dry_run"], true);
        let requests = v["requests"].as_array().unwrap();
        assert!(
            requests.iter().any(|q| {
                let url = q["url"].as_str().unwrap();
                url.starts_with(host) && url.contains(path)
            }),
            "{provider} {verb}: no request to {host}…{path}: {requests:#?}"
        );
        assert!(
            requests.iter().all(|q| q["credentials"] == "placeholder"),
            "{provider} {verb}: offline dry-run must sign with a placeholder"
        );
    }
}
