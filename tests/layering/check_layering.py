#!/usr/bin/python3
"""Checks that the source tree keeps Dealwire's layering (README.md, Layout).

    check_layering.py ROOT        # exit 0 when clean; 1 and one line per violation

Dependencies point one way: services -> projections -> domain -> store, and
every layer may use common/. Only store/ (and its tests) include RocksDB
headers; only services/, the clients, the tests and the bench include gRPC
headers or the generated *.grpc.pb.h; store/ and common/ include no
protobuf-generated code except what common/ is allowed (the messages, in its
event libraries). The build enforces much of this by what each library
links; this check also catches an include that happens to compile.
"""
import os
import re
import sys

INCLUDE = re.compile(r'^\s*#\s*include\s*[<"]([^>"]+)[>"]')

# For each top-level folder (or sub-folder), the include prefixes it must not
# use. A rule for "tests/store" overrides one for "tests".
FORBIDDEN = {
    "common": ["store/", "domain/", "projections/", "services/", "clients/", "bench/",
               "rocksdb/", "grpcpp/", "grpc/", ".grpc.pb.h"],
    "store": ["domain/", "projections/", "services/", "clients/", "bench/", "dealwire/",
              "google/protobuf/", "grpcpp/", "grpc/", ".grpc.pb.h",
              "common/event_types.h", "common/event_jsonl.h"],
    "domain": ["projections/", "services/", "clients/", "bench/", "rocksdb/", "grpcpp/",
               "grpc/", ".grpc.pb.h"],
    "projections": ["services/", "clients/", "bench/", "rocksdb/", "grpcpp/", "grpc/",
                    ".grpc.pb.h"],
    "services": ["clients/", "bench/", "rocksdb/"],
    "clients": ["store/", "domain/", "projections/", "services/", "bench/", "rocksdb/"],
    "bench": ["rocksdb/"],
    "tests": ["rocksdb/"],
    "tests/store": [],
}

SOURCE_SUFFIXES = (".h", ".cc", ".cpp", ".hpp")


def rules_for(relpath):
    parts = relpath.split("/")
    for n in range(len(parts) - 1, 0, -1):
        key = "/".join(parts[:n])
        if key in FORBIDDEN:
            return key, FORBIDDEN[key]
    return None, []


def violations(root):
    out = []
    for folder in sorted({k.split("/")[0] for k in FORBIDDEN}):
        base = os.path.join(root, folder)
        for dirpath, dirnames, filenames in os.walk(base):
            dirnames[:] = sorted(d for d in dirnames if d not in ("node_modules", "build"))
            for name in sorted(filenames):
                if not name.endswith(SOURCE_SUFFIXES):
                    continue
                path = os.path.join(dirpath, name)
                rel = os.path.relpath(path, root).replace(os.sep, "/")
                rule, forbidden = rules_for(rel)
                with open(path, encoding="utf-8", errors="replace") as f:
                    for lineno, line in enumerate(f, 1):
                        m = INCLUDE.match(line)
                        if not m:
                            continue
                        target = m.group(1)
                        for bad in forbidden:
                            hit = target.endswith(bad) if bad.startswith(".") else \
                                target.startswith(bad) or target == bad.rstrip("/")
                            if hit:
                                out.append(f"{rel}:{lineno}: {rule}/ must not include "
                                           f"'{target}' (forbidden: {bad})")
    return out


def main():
    if len(sys.argv) != 2:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    found = violations(sys.argv[1])
    for v in found:
        print(v)
    if found:
        print(f"{len(found)} forbidden include(s)")
        return 1
    print("layering: no forbidden include")
    return 0


if __name__ == "__main__":
    sys.exit(main())
