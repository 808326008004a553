"""Makes `import dealwire` work when an example runs straight from the source tree.

The package is assembled at build time (generated stubs + hand-written
modules) in <build>/clients/python/python. If `dealwire` is not importable
already (PYTHONPATH), this adds the first of: $DEALWIRE_PYTHON_TREE,
<repo>/build/clients/python/python, <repo>/build*/clients/python/python.
"""

import glob
import os
import sys

try:
    import dealwire  # noqa: F401  (already on PYTHONPATH)
except ImportError:
    repo = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
    candidates = [os.environ.get("DEALWIRE_PYTHON_TREE", ""),
                  os.path.join(repo, "build", "clients", "python", "python")]
    candidates += sorted(glob.glob(os.path.join(repo, "build*", "clients", "python", "python")))
    for tree in candidates:
        if tree and os.path.isfile(os.path.join(tree, "dealwire", "v1", "events_pb2.py")):
            sys.path.insert(0, tree)
            break
    else:
        sys.exit("dealwire package not found: build it (cmake --build build) and set "
                 "PYTHONPATH=build/clients/python/python or DEALWIRE_PYTHON_TREE")
