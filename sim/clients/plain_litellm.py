#!/usr/bin/env python3
"""A LiteLLM Router as its docs set one up: one model group of two
deployments, `num_retries`, and a retry policy per exception kind. One
base URL puts both deployments at it; several, comma-separated, put one
deployment at each.

    python3 sim/clients/plain_litellm.py http://127.0.0.1:8787/v1 2
    python3 sim/clients/plain_litellm.py \
        http://127.0.0.1:8787/upstream/0/v1,http://127.0.0.1:8787/upstream/1/v1
"""

import sys

import litellm
from litellm import Router
from litellm.router import RetryPolicy

bases = sys.argv[1].split(",")
if len(bases) == 1:
    bases = bases * 2
deployments = [
    {
        "model_name": "chat",
        "litellm_params": {"model": "openai/gpt-4o-mini", "api_base": base, "api_key": key},
    }
    # Two keys, so two deployments even at one base: identical parameters
    # would be one.
    for base, key in zip(bases, ("sk-not-checked-a", "sk-not-checked-b"))
]
router = Router(
    model_list=deployments,
    num_retries=2,
    retry_policy=RetryPolicy(
        InternalServerErrorRetries=2,
        RateLimitErrorRetries=2,
        TimeoutErrorRetries=2,
        BadRequestErrorRetries=0,
    ),
)
for _ in range(int(sys.argv[2]) if len(sys.argv) > 2 else 1):
    try:
        reply = router.completion(model="chat", messages=[{"role": "user", "content": "Say hi"}])
        print(reply.choices[0].message.content)
    except litellm.exceptions.APIError as error:
        print(f"failed: {error}")
    except Exception as error:  # LiteLLM maps each status to its own exception class
        print(f"failed: {type(error).__name__}: {error}")
