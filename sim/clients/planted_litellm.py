#!/usr/bin/env python3
"""A planted defect, not a user's script: `plain_litellm.py` with every
Retry-After read as 0, so a 429 neither cools its deployment nor is waited
out: a client that ignores Retry-After behind LiteLLM's Router. The judge
must convict it where the Router as shipped is held.

    python3 sim/clients/planted_litellm.py \\
        http://127.0.0.1:8787/upstream/0/v1,http://127.0.0.1:8787/upstream/1/v1

Where the Router reads it: `litellm/router_rust/core.py`,
`retry_after_seconds` (the header cooldown), which `attempt_failure` hands
the compiled core as the failure's `retry_after`; the core cools the
deployment and sizes its sleep from it. (Patching the sleep alone hides
nothing: with both deployments cooling the Router gives up instead.)
"""

import runpy
import sys
from pathlib import Path

import litellm.router_rust.core as core

core.retry_after_seconds = lambda error: 0.0

sys.argv = [str(Path(__file__).with_name("plain_litellm.py"))] + sys.argv[1:]
runpy.run_path(sys.argv[0], run_name="__main__")
