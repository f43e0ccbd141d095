#!/usr/bin/env python3
"""An anthropic script as anyone writes it: nothing of the simulator in it but
the base URL. `retry-sim serve` groups its attempts by the retry-count header
the SDK sends.

    python3 sim/clients/plain_anthropic.py http://127.0.0.1:8787 2
"""

import sys

import anthropic
from anthropic import Anthropic

client = Anthropic(base_url=sys.argv[1], api_key="sk-not-checked")
for _ in range(int(sys.argv[2]) if len(sys.argv) > 2 else 1):
    try:
        reply = client.messages.create(
            model="claude-haiku-4-5",
            max_tokens=64,
            messages=[{"role": "user", "content": "Say hi"}],
        )
        print(reply.content[0].text)
    except anthropic.APIError as error:
        print(f"failed: {error}")
