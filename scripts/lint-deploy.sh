#!/usr/bin/env bash
# Lints the CloudFormation template: cfn-lint (validity), then checkov (security checks;
# a check the template does not satisfy is skipped in the template, with its reason, in
# the resource's Metadata). Prints the findings and one summary line; exits 1 on any.
#   scripts/lint-deploy.sh [TEMPLATE]   lint (default deploy/cloudformation.yaml)
#   scripts/lint-deploy.sh --install    install checkov (scripts/test.sh does)
# checkov lives in a virtual environment of its own: it pins boto3, cfn-lint, networkx
# and packaging to old versions, which moto and cfn-lint in the main environment must
# not get. cfn-lint is the main environment's (scripts/test.sh installs it).
set -uo pipefail
cd "$(dirname "$0")/.."
CHECKOV_VERSION=3.3.30
venv="${VODFARM_CHECKOV_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/vodfarm/checkov-$CHECKOV_VERSION}"

if [ "${1:-}" = --install ]; then
  [ -x "$venv/bin/checkov" ] && exit 0
  set -e
  python3 -m venv "$venv"
  PIP_ROOT_USER_ACTION=ignore "$venv/bin/python" -m pip install -q --disable-pip-version-check \
    "checkov==$CHECKOV_VERSION"
  exit 0
fi

template="${1:-deploy/cloudformation.yaml}"
if [ ! -x "$venv/bin/checkov" ]; then
  echo "lint-deploy: FAILED: checkov $CHECKOV_VERSION is not installed in $venv (scripts/lint-deploy.sh --install)"
  exit 1
fi

# cfn-lint, one finding a line.
cfn_out=$(python3 -c "import sys; from cfnlint.runner import main; sys.argv[0] = 'cfn-lint'; sys.exit(main())" \
  --format parseable "$template" 2>&1)
cfn_rc=$?
if [ "$cfn_rc" = 0 ]; then
  cfn_summary="cfn-lint clean"
else
  [ -n "$cfn_out" ] && printf '%s\n' "$cfn_out"
  cfn_summary="cfn-lint: $(printf '%s\n' "$cfn_out" | grep -c .) finding(s) (exit $cfn_rc)"
fi

# checkov. --skip-download: no Prisma Cloud look-ups (this needs no network). It exits 0
# on a file it cannot parse or that holds no resources, so its summary is checked too.
json=$(mktemp)
trap 'rm -f "$json" "$json.err"' EXIT
"$venv/bin/checkov" -f "$template" --framework cloudformation --skip-download -o json \
  >"$json" 2>"$json.err"
ckv_rc=$?
ckv_summary=$(python3 - "$json" "$ckv_rc" "$json.err" <<'EOF'
import json, sys
path, rc, err = sys.argv[1], int(sys.argv[2]), sys.argv[3]
try:
    data = json.load(open(path))
except ValueError:
    sys.stdout.write(open(err).read()[-2000:])
    print(f"checkov: no report (exit {rc})")
    sys.exit(1)
if isinstance(data, list):  # one report per framework; only cloudformation runs
    data = data[0] if data else {}
s = data.get("summary", data)
for r in data.get("results", {}).get("failed_checks", []):
    lines = r.get("file_line_range") or ["?", "?"]
    print(f"{r['check_id']} {r['resource']} (lines {lines[0]}-{lines[1]}): {r['check_name']}")
for p in data.get("results", {}).get("parsing_errors", []):
    print(f"checkov cannot parse {p}")
passed, failed = s.get("passed", 0), s.get("failed", 0)
errors, resources = s.get("parsing_errors", 0), s.get("resource_count", 0)
text = f"checkov {s.get('checkov_version', '?')}: {passed} passed, {failed} failed, {s.get('skipped', 0)} skipped"
if errors:
    text += f", {errors} parsing error(s)"
if resources == 0:
    text += ", no resources found"
print(text)
sys.exit(0 if rc == 0 and failed == 0 and errors == 0 and resources > 0 and passed > 0 else 1)
EOF
)
ckv_ok=$?
# The findings, then the summary as the last line.
printf '%s\n' "$ckv_summary" | sed '$d'
ckv_summary=$(printf '%s\n' "$ckv_summary" | tail -n 1)

if [ "$cfn_rc" = 0 ] && [ "$ckv_ok" = 0 ]; then
  echo "lint-deploy: ok: $template: $cfn_summary; $ckv_summary"
else
  echo "lint-deploy: FAILED: $template: $cfn_summary; $ckv_summary"
  exit 1
fi
