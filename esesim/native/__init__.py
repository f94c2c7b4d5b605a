"""esent.dll's native face over the simulated engine (esesim.native).

A Linux shared library built with cffi in embedding mode exports esent.dll's entry points with
their Windows names, argument order and widths; each export is a thin marshalling layer over one
``EngineProcess`` per loaded library (``face.py``). The bundled helper's C# P/Invoke layer binds to
it under mono through a dllmap, so the same C# source that runs against esent.dll on Windows runs
here against the simulated engine. ``cdefs.py`` holds the C declarations, ``build.py`` builds the
library (cached by a hash of its sources), ``dbinfo.py`` fills JET_DBINFOMISC from a header.

In the simulated fleet the face runs in remote mode (``remote.py``): the C# agent's process
(``csharp_agent.py`` builds it, with the test side in ``csharp/``) forwards every engine call to
the fleet process, so the Python and the C# agents share one engine (esesim/agent/external.py).
"""

from __future__ import annotations
