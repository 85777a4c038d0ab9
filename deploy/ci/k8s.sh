#!/usr/bin/env bash
# CI: the Kubernetes manifests of deploy/k8s/ are valid, without a cluster.
#   - kubernetes-validate --strict (PyPI; Kubernetes' own schemas, bundled, offline): wrong types
#     and misspelled fields in the Deployments, the PodDisruptionBudget, the Secrets...;
#   - KEDA's custom resources (keda.yaml) against the openAPIV3Schema of KEDA's CRDs, vendored in
#     deploy/k8s/schemas/ (source and commit in their headers), strictly (deploy/ci/k8s_validate_crd.py);
#   - both checks first prove they catch a broken manifest.
# Usage: deploy/ci/k8s.sh        (a Python venv is kept in ${XDG_CACHE_HOME:-~/.cache}/sj-ci/)
set -euo pipefail
cd "$(dirname "$0")/../.."
started=$(date +%s)

venv=${XDG_CACHE_HOME:-$HOME/.cache}/sj-ci/k8s-venv
if [[ ! -x $venv/bin/kubernetes-validate ]]; then
  if ! python3 -m venv "$venv" 2>/dev/null; then
    apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
    python3 -m venv "$venv"
  fi
  "$venv/bin/pip" install -q 'kubernetes-validate==1.37.0' 'jsonschema>=4' 'PyYAML>=6'
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Kubernetes' own kinds. The KEDA kinds are left to the CRD check below (kubernetes-validate only
# warns that it has no schema for them).
k8s_files=(deploy/k8s/bridge.yaml deploy/k8s/secret.example.yaml)
sed 's/terminationGracePeriodSeconds: 35/terminationGracePeriodSecond: 35/' deploy/k8s/bridge.yaml > "$tmp/misspelled.yaml"
if "$venv/bin/kubernetes-validate" --strict --quiet "$tmp/misspelled.yaml" >/dev/null 2>&1; then
  echo "k8s.sh: kubernetes-validate --strict let a misspelled field through: the check proves nothing" >&2
  exit 1
fi
"$venv/bin/kubernetes-validate" --strict "${k8s_files[@]}"

"$venv/bin/python" deploy/ci/k8s_validate_crd.py --self-test deploy/k8s/schemas deploy/k8s/keda.yaml
"$venv/bin/python" deploy/ci/k8s_validate_crd.py deploy/k8s/schemas deploy/k8s/keda.yaml

# Every manifest of deploy/k8s/ is checked by one of the two.
for f in deploy/k8s/*.yaml; do
  case " ${k8s_files[*]} deploy/k8s/keda.yaml " in
    *" $f "*) ;;
    *) echo "k8s.sh: $f is checked by nothing: add it to deploy/ci/k8s.sh" >&2; exit 1 ;;
  esac
done
echo "k8s.sh: OK ($(($(date +%s) - started))s)"
