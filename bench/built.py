"""Where the bench scripts find what the workspace built (imported by the scripts in this
directory; not a benchmark)."""

import os
import sys
from pathlib import Path

#: The repository's root.
REPO = Path(__file__).resolve().parents[1]


def target_dir():
    """The cargo target directory: $CARGO_TARGET_DIR, else the workspace's target/."""
    return Path(os.environ.get("CARGO_TARGET_DIR") or REPO / "target")


def find(name, env):
    """The path of the built binary ``name`` (or example): $``env`` if set, else the
    release build, else the debug one; exits with a line saying what to build."""
    if os.environ.get(env):
        return os.environ[env]
    for profile in ("release", "debug"):
        p = target_dir() / profile / name
        if p.is_file():
            return str(p)
    sys.exit(f"{name} not found: build it (cargo build --release; see --help) or set {env}")


def find_waxseal():
    """The `waxseal` command ($WAXSEAL_BIN, else the workspace's build)."""
    return find("waxseal", "WAXSEAL_BIN")
