#!/usr/bin/python3
"""tests/provision/cloud_config_keys.py FILE...: fails on unknown top-level keys.

cloud-init's own `schema --config-file` lets unknown top-level keys through
(a `runcmds:` typo is "Valid cloud-config"), so this checks every top-level key
of each #cloud-config FILE against the keys the installed cloud-init schema
defines. Prints one line per unknown key; exit 1 if there is any.
"""
import json
import sys

import yaml

SCHEMA = "/usr/lib/python3/dist-packages/cloudinit/config/schemas/schema-cloud-config-v1.json"


def known_keys():
    """The top-level keys of every module in cloud-init's schema."""
    with open(SCHEMA, encoding="utf-8") as f:
        schema = json.load(f)
    keys = set()
    for ref in schema["allOf"]:
        name = ref["$ref"].rsplit("/", 1)[-1]
        keys.update(schema["$defs"][name].get("properties", {}))
    return keys


def main(files):
    known = known_keys()
    bad = 0
    for path in files:
        with open(path, encoding="utf-8") as f:
            doc = yaml.safe_load(f)
        if not isinstance(doc, dict):
            print(f"{path}: not a mapping at the top level")
            bad += 1
            continue
        for key in doc:
            if key not in known:
                print(f"{path}: unknown top-level key '{key}'")
                bad += 1
    return 1 if bad else 0


if __name__ == "__main__":
    if len(sys.argv) < 2:
        print("usage: cloud_config_keys.py FILE...", file=sys.stderr)
        sys.exit(2)
    sys.exit(main(sys.argv[1:]))
