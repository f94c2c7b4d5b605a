"""Build the native face (``libesesim_esent.so``) with cffi in embedding mode, cached by a source hash.

The library embeds the Python interpreter that runs this build; at load time its init code
imports ``esesim.native.face``, so the process loading it must have ``esesim`` (which finds the
collection itself: ``esesim/_collection.py``) and cffi on PYTHONPATH. Nothing about this machine is
written into the repository: the output goes to ``build/native/`` (gitignored).

Usage: ``python -m esesim.native.build [OUT_DIR]`` prints the library's path.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import sys
import tempfile
from pathlib import Path

from . import cdefs

MODULE_NAME = "_esesim_esent"
LIBRARY_NAME = f"lib{MODULE_NAME}.so"
STAMP_NAME = f"{LIBRARY_NAME}.stamp"
REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_OUT_DIR = REPO_ROOT / "build" / "native"

# Kept to the minimum: all behaviour lives in face.py, which is imported (not compiled in), so
# editing the marshalling layer never needs a rebuild.
INIT_CODE = f"""
from {MODULE_NAME} import ffi
import esesim.native.face
esesim.native.face.install(ffi)
"""


def source_hash() -> str:
    """Hash of everything compiled into the library (declarations, init code, interpreter, cffi)."""
    import cffi  # noqa: PLC0415 - optional: cffi is a dev dependency, needed only to build the native face

    h = hashlib.sha256()
    for part in (
        Path(cdefs.__file__).read_bytes(),
        Path(__file__).read_bytes(),
        sys.version.encode(),
        sys.executable.encode(),
        cffi.__version__.encode(),
    ):
        h.update(part)
        h.update(b"\0")
    return h.hexdigest()


def _compile(out: Path) -> None:
    import cffi  # noqa: PLC0415 - optional (see source_hash)

    ffi = cffi.FFI()
    ffi.cdef(cdefs.CDEF_TYPES)
    ffi.cdef(cdefs.CDEF_PACKED, packed=True)
    ffi.cdef(cdefs.CDEF_OUTER)
    ffi.embedding_api(cdefs.CDEF_ESENT_EXPORTS + cdefs.CDEF_TEST_EXPORTS + cdefs.CDEF_SIM_EXPORTS)
    ffi.set_source(MODULE_NAME, cdefs.C_SOURCE)
    ffi.embedding_init_code(INIT_CODE)
    with tempfile.TemporaryDirectory(prefix="esesim-native-") as tmp:
        built = ffi.compile(tmpdir=tmp, target=LIBRARY_NAME, verbose=False)
        staged = out.with_suffix(".so.tmp")
        shutil.copyfile(built, staged)
        os.replace(staged, out)  # atomic: a concurrent loader never sees half a library


def build_face(out_dir: Path | None = None) -> Path:
    """Build the native face unless the cached build matches the current sources.

    Args:
        out_dir: where the library goes; default ``build/native`` in the checkout.

    Returns:
        The path of ``libesesim_esent.so``.
    """
    out_dir = Path(out_dir) if out_dir is not None else DEFAULT_OUT_DIR
    out_dir.mkdir(parents=True, exist_ok=True)
    lib = out_dir / LIBRARY_NAME
    stamp = out_dir / STAMP_NAME
    want = source_hash()
    # One builder at a time (parallel test sessions share build/native).
    with open(out_dir / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if lib.is_file() and stamp.is_file() and stamp.read_text().strip() == want:
            return lib
        _compile(lib)
        stamp.write_text(want + "\n")
    return lib


if __name__ == "__main__":
    print(build_face(Path(sys.argv[1]) if len(sys.argv) > 1 else None))
