#!/usr/bin/env bash
# The whole test suite: installs what is missing, then formatting, lints and every test.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
# Test servers and linters: moto (S3 + SQS on 127.0.0.1; 5.2's S3 serializer answers
# CompleteMultipartUpload with the wrong XML root, so 5.1), s3s-fs (S3 over a folder)
# cfn-lint and checkov for deploy/ (scripts/lint-deploy.sh), and prometheus_client (an
# independent reader of the /metrics text format). checkov goes into a
# virtual environment of its own: it pins boto3, cfn-lint, networkx and packaging to
# old versions that must not replace moto's and cfn-lint's here.
PIP_ROOT_USER_ACTION=ignore python3 -m pip install -q --disable-pip-version-check \
  'moto[server]==5.1.22' 'cfn-lint>=1,<2' 'prometheus-client>=0.20,<1'
scripts/lint-deploy.sh --install
command -v s3s-fs >/dev/null 2>&1 || [ -x "$HOME/.cargo/bin/s3s-fs" ] \
  || cargo install -q s3s-fs@0.14.1 --features binary
# Real footage (Big Buck Bunny, CC BY; a CC0 camera time-lapse) for the conversion, QC and
# camera tests: cut by the tests.
scripts/real-footage.sh "${VODFARM_FOOTAGE:-$HOME/.cache/vodfarm/footage}" >/dev/null
if [ -f players/package.json ]; then
  (cd players && npm ci --no-audit --no-fund --loglevel=error)
fi
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --quiet -- -D warnings
cargo test --workspace
