//! The GitHub workflows parse and have the structure Actions requires: triggers, and
//! jobs whose steps each `uses` an action or `run`s a command. (actionlint, in .ci/run,
//! checks far more where it can be installed.)

use std::path::Path;

#[test]
fn workflows_are_well_formed() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(".github/workflows");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("yml") {
            continue;
        }
        seen += 1;
        let name = path.display().to_string();
        let doc: serde_yaml_ng::Value =
            serde_yaml_ng::from_str(&std::fs::read_to_string(&path).unwrap())
                .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(doc.get("on").is_some(), "{name}: no `on` trigger");
        let jobs = doc
            .get("jobs")
            .and_then(|j| j.as_mapping())
            .unwrap_or_else(|| panic!("{name}: no jobs"));
        assert!(!jobs.is_empty(), "{name}: no jobs");
        for (job, body) in jobs {
            let job = job.as_str().unwrap_or("?");
            assert!(
                body.get("runs-on").is_some(),
                "{name}: job {job} has no runs-on"
            );
            let steps = body
                .get("steps")
                .and_then(|s| s.as_sequence())
                .unwrap_or_else(|| panic!("{name}: job {job} has no steps"));
            for (i, step) in steps.iter().enumerate() {
                let uses = step.get("uses").is_some();
                let run = step.get("run").is_some();
                assert!(
                    uses ^ run,
                    "{name}: job {job} step {i} needs exactly one of uses/run"
                );
            }
        }
    }
    assert!(
        seen >= 2,
        "expected ci.yml and release.yml, found {seen} workflows"
    );
}
