"""Offline stand-in for ansible-test's get-pip bootstrap script.

ansible-test downloads get-pip-<version>.py from a CI host this machine cannot reach. This file
is copied to the cache path it checks first: it bootstraps pip with ensurepip, then lets pip
install the requested packages from the configured package index, which is reachable.
"""

import os
import subprocess
import sys

DROPPED = {"--no-setuptools", "--no-wheel"}


def main() -> int:
    args = [a for a in sys.argv[1:] if a not in DROPPED]
    env = dict(os.environ)
    env.pop("GET_PIP", None)
    subprocess.check_call([sys.executable, "-m", "ensurepip", "--upgrade", "--default-pip"], env=env, stdout=subprocess.DEVNULL)
    return subprocess.call([sys.executable, "-m", "pip", "install", "--disable-pip-version-check", *args], env=env)


if __name__ == "__main__":
    sys.exit(main())
