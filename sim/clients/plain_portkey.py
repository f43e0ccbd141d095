#!/usr/bin/env python3
"""A plain HTTP client of a local Portkey gateway, as its docs show one:
the gateway's own retry config in the `x-portkey-config` header (two
retries on its default statuses, honouring Retry-After), the provider's
base URL as `custom_host`. The client itself never retries: what reaches
the provider is the gateway's doing.

    python3 sim/clients/plain_portkey.py http://127.0.0.1:8788 http://127.0.0.1:8787/v1 2
"""

import json
import sys
import urllib.error
import urllib.request

gateway, provider = sys.argv[1], sys.argv[2]
config = {
    "provider": "openai",
    "api_key": "sk-not-checked",
    "custom_host": provider,
    "retry": {"attempts": 2, "use_retry_after_header": True},
}
body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Say hi"}]}
for _ in range(int(sys.argv[3]) if len(sys.argv) > 3 else 1):
    request = urllib.request.Request(
        gateway + "/v1/chat/completions",
        data=json.dumps(body).encode(),
        headers={"content-type": "application/json", "x-portkey-config": json.dumps(config)},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            print(json.load(response)["choices"][0]["message"]["content"])
    except urllib.error.HTTPError as error:
        print(f"failed: {error.code} {error.read()[:200]!r}")
