#!/usr/bin/env python3
"""Validates custom resources (KEDA's ScaledObject and TriggerAuthentication) against the
openAPIV3Schema of their CustomResourceDefinitions, vendored in deploy/k8s/schemas/.

Strict like the API server's strict field validation (`kubectl apply --validate=strict`): a field
the schema does not declare is an error, except under `x-kubernetes-preserve-unknown-fields`.

Usage: k8s_validate_crd.py CRD_DIR MANIFEST...        (exit 1 on any problem)
       k8s_validate_crd.py --self-test CRD_DIR MANIFEST  (a misspelled field must be caught)
"""

import copy
import glob
import os
import sys

import jsonschema
import yaml


def strict(schema):
    """The schema with unknown properties refused wherever properties are declared."""
    schema = copy.deepcopy(schema)

    def walk(node):
        if not isinstance(node, dict):
            return
        if (
            "properties" in node
            and "additionalProperties" not in node
            and not node.get("x-kubernetes-preserve-unknown-fields")
        ):
            node["additionalProperties"] = False
        for key in ("properties", "patternProperties"):
            for child in node.get(key, {}).values():
                walk(child)
        for key in ("items", "additionalProperties", "not"):
            walk(node.get(key))
        for key in ("allOf", "anyOf", "oneOf"):
            for child in node.get(key, []):
                walk(child)

    walk(schema)
    return schema


def load_crds(directory):
    """(apiVersion, kind) -> a JSON schema of the whole object."""
    schemas = {}
    for path in sorted(glob.glob(os.path.join(directory, "*.yaml"))):
        for crd in yaml.safe_load_all(open(path, encoding="utf-8")):
            if not crd or crd.get("kind") != "CustomResourceDefinition":
                continue
            group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
            for version in crd["spec"]["versions"]:
                schema = strict(version["schema"]["openAPIV3Schema"])
                # apiVersion, kind and metadata are the API server's, not in the CRD's schema.
                schema.setdefault("properties", {})
                schema["properties"]["apiVersion"] = {"const": f"{group}/{version['name']}"}
                schema["properties"]["kind"] = {"const": kind}
                schema["properties"]["metadata"] = {
                    "type": "object",
                    "required": ["name"],
                    "properties": {"name": {"type": "string", "pattern": "^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$"}},
                }
                schema["required"] = sorted(set(schema.get("required", [])) | {"apiVersion", "kind", "metadata", "spec"})
                schemas[(f"{group}/{version['name']}", kind)] = schema
    return schemas


def problems(schemas, document):
    key = (document.get("apiVersion"), document.get("kind"))
    if key not in schemas:
        return [f"no CRD schema for {key[0]} {key[1]} in the vendored CRDs"]
    validator = jsonschema.Draft7Validator(schemas[key])
    return [
        f"{'.'.join(str(p) for p in error.absolute_path) or '(top)'}: {error.message}"
        for error in sorted(validator.iter_errors(document), key=lambda e: list(e.absolute_path))
    ]


def validate(schemas, paths):
    failed = False
    for path in paths:
        for document in yaml.safe_load_all(open(path, encoding="utf-8")):
            if not document:
                continue
            name = f"{path}: {document.get('kind')}/{document.get('metadata', {}).get('name')}"
            found = problems(schemas, document)
            if found:
                failed = True
                print(f"FAIL {name}")
                for problem in found:
                    print(f"  {problem}")
            else:
                print(f"OK   {name} against {document.get('apiVersion')} {document.get('kind')} (KEDA CRD)")
    return not failed


def self_test(schemas, path):
    """The check must catch a misspelled field and a wrong type, or it proves nothing."""
    documents = [d for d in yaml.safe_load_all(open(path, encoding="utf-8")) if d]
    scaled = next(d for d in documents if d["kind"] == "ScaledObject")
    misspelled = copy.deepcopy(scaled)
    misspelled["spec"]["minReplicaCounts"] = misspelled["spec"].pop("minReplicaCount")
    wrong_type = copy.deepcopy(scaled)
    wrong_type["spec"]["maxReplicaCount"] = "ten"
    caught = bool(problems(schemas, misspelled)) and bool(problems(schemas, wrong_type))
    print(("OK  " if caught else "FAIL") + " self-test: a misspelled field and a wrong type are refused")
    return caught


def main(argv):
    if argv[:1] == ["--self-test"]:
        return 0 if self_test(load_crds(argv[1]), argv[2]) else 1
    if len(argv) < 2:
        print(__doc__)
        return 2
    return 0 if validate(load_crds(argv[0]), argv[1:]) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
