#!/usr/bin/env python3
"""A plain HTTP client of a local crabllm gateway: one chat completion per
call, no retries of its own (urllib has none), so what reaches the provider
is the gateway's doing. The gateway's configuration names the provider.

Given `retry-sim serve`'s address as well, each call is named in its
message (`sim-call:0:N`, which the gateway forwards as it is) and its start,
its answer and its end are reported to the server (POST /sim/call): the
judge then sees what the gateway handed its caller, as well as what it sent
upstream.

    python3 sim/clients/plain_crabllm.py http://127.0.0.1:8701 [http://127.0.0.1:8700 [CALLS]]
"""

import json
import sys
import urllib.error
import urllib.request

gateway = sys.argv[1]
server = sys.argv[2] if len(sys.argv) > 2 else None
calls = int(sys.argv[3]) if len(sys.argv) > 3 else 1


def post(url, body, headers=None, timeout=60):
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        headers={"content-type": "application/json", **(headers or {})},
        method="POST",
    )
    return urllib.request.urlopen(request, timeout=timeout)


def report(event, call, **fields):
    if server is not None:
        post(server + "/sim/call", {"event": event, "client": 0, "call": call, **fields}).close()


for call in range(calls):
    content = f"Say hi sim-call:0:{call}" if server is not None else "Say hi"
    body = {"model": "sim-model", "messages": [{"role": "user", "content": content}]}
    report("started", call, method="chat")
    try:
        with post(gateway + "/v1/chat/completions", body) as response:
            text = json.load(response)["choices"][0]["message"]["content"]
        report("item", call, payload=text)
        outcome = {"result": "ok"}
        print(text)
    except urllib.error.HTTPError as error:
        outcome = {"result": "failed", "error": "status", "status": error.code}
        print(f"failed: {error.code} {error.read()[:200]!r}")
    except OSError as error:
        outcome = {"result": "failed", "error": "network"}
        print(f"failed: {error}")
    report("ended", call, outcome=outcome)
