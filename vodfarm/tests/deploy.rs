//! deploy/: cfn-lint (pip, installed by scripts/test.sh) passes on the CloudFormation
//! template and fails on a broken copy of it; checkov's security checks pass (every
//! skip carries its reason in the template) and fail on a weakened copy; the worker
//! configuration the template hands to its containers (VODFARM_CONFIG_TOML) is one
//! `vodfarm` accepts.

use std::path::Path;
use std::process::Command;

fn cfn_lint(template: &Path) -> std::process::Output {
    Command::new("python3")
        .args([
            "-c",
            "import sys; from cfnlint.runner import main; sys.argv[0] = 'cfn-lint'; sys.exit(main())",
        ])
        .arg(template)
        .output()
        .expect("python3 runs")
}

fn template() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/cloudformation.yaml")
}

/// scripts/lint-deploy.sh (cfn-lint, then checkov in its own environment).
fn lint_deploy(template: &Path) -> (bool, String) {
    let out = Command::new(Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/lint-deploy.sh"))
        .arg(template)
        .output()
        .expect("scripts/lint-deploy.sh runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[test]
fn cloudformation_template_passes_checkov() {
    let (ok, report) = lint_deploy(&template());
    assert!(ok, "{report}");
    assert!(report.contains("0 failed"), "{report}");
    // The check can fail: a queue whose skip is gone is caught.
    let text = std::fs::read_to_string(template()).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let weak = tmp.path().join("weak.yaml");
    std::fs::write(
        &weak,
        // The first queue loses its skip: checkov must then flag it.
        text.replacen("- id: CKV_AWS_27", "- id: CKV_AWS_99999", 1),
    )
    .unwrap();
    let (ok, report) = lint_deploy(&weak);
    assert!(!ok && report.contains("CKV_AWS_27"), "{report}");
}

#[test]
fn cloudformation_template_passes_cfn_lint() {
    let probe = Command::new("python3")
        .args(["-c", "import cfnlint"])
        .status()
        .expect("python3 runs");
    assert!(
        probe.success(),
        "cfn-lint is not installed: pip install cfn-lint (scripts/test.sh does)"
    );
    let out = cfn_lint(&template());
    assert!(
        out.status.success(),
        "cfn-lint reports problems:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // The check can fail: a wrong type and an unknown resource are caught.
    let text = std::fs::read_to_string(template()).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let bad = tmp.path().join("bad.yaml");
    std::fs::write(
        &bad,
        text.replacen("maxReceiveCount: 5", "maxReceiveCount: five", 1)
            .replacen("Type: AWS::ECS::Cluster", "Type: AWS::ECS::Clustr", 1),
    )
    .unwrap();
    let out = cfn_lint(&bad);
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(
        !out.status.success() && report.contains("E3012") && report.contains("E3006"),
        "{report}"
    );
}

#[test]
fn the_templates_worker_config_parses() {
    let text = std::fs::read_to_string(template()).unwrap();
    let start = text
        .find("- Name: VODFARM_CONFIG_TOML")
        .expect("the template passes a config");
    let block: Vec<&str> = text[start..]
        .lines()
        .skip(2) // the name and "Value: !Sub |"
        .take_while(|l| l.starts_with("                "))
        .map(|l| &l[16..])
        .collect();
    // CloudFormation's substitutions, with stand-in values.
    let toml = block
        .join("\n")
        .replace("${AWS::StackName}", "vodfarm")
        .replace("${AWS::Region}", "eu-west-1")
        .replace("${WorkBucket}", "vodfarm-work-1")
        .replace("${IngestBucket}", "vodfarm-ingest-1")
        .replace("${OriginBucket}", "vodfarm-origin-1")
        .replace("${ControlBucket}", "vodfarm-control-1");
    assert!(!toml.contains("${"), "{toml}");
    let c = vodfarm::config::Config::parse(&toml).unwrap_or_else(|e| panic!("{e}\n{toml}"));
    assert!(c.embedded_dir().is_none(), "S3 in the template");
    assert_eq!(c.worker.visibility_seconds, 60);
    // Job events go to the stack's events queue (<stack>-events), which the template
    // makes and lets the worker role send to.
    assert_eq!(c.events.queue.as_deref(), Some("events"));
    assert!(text.contains("QueueName: !Sub \"${AWS::StackName}-events\""));
    // sqs:SendMessage on it, for the worker role and the uploader's.
    let grants = text
        .match_indices("Action: [sqs:SendMessage, sqs:GetQueueUrl]\n                Resource: !GetAtt EventsQueue.Arn")
        .count();
    assert_eq!(grants, 2, "the worker and uploader roles may send events");
}
