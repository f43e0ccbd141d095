#!/usr/bin/env python3
"""A planted defect, not a user's script: `plain_litellm.py` with the
Router's sleep before a retry made a no-op, so a Retry-After is never
waited. The judge must convict it under the same claim that holds the
Router as shipped.

    python3 sim/clients/planted_litellm.py http://127.0.0.1:8787/v1 1
"""

import runpy
import sys
from pathlib import Path

from litellm.router_python_host import PythonHost

# The one seam the compiled core sleeps through (router_python_host.py).
PythonHost.sleep_sync = lambda self, seconds: None

sys.argv = [str(Path(__file__).with_name("plain_litellm.py"))] + sys.argv[1:]
runpy.run_path(sys.argv[0], run_name="__main__")
