#!/usr/bin/env python3
"""An openai script as anyone writes it: nothing of the simulator in it but
the base URL. No call ids, no reports: `retry-sim serve` groups its attempts
into calls by the headers the SDK already sends, and `retry-sim judge` judges
what the wire shows.

    python3 sim/clients/plain_openai.py http://127.0.0.1:8787/v1 2
"""

import sys

import openai
from openai import OpenAI

client = OpenAI(base_url=sys.argv[1], api_key="sk-not-checked")
for _ in range(int(sys.argv[2]) if len(sys.argv) > 2 else 1):
    try:
        reply = client.chat.completions.create(
            model="gpt-4o-mini",
            messages=[{"role": "user", "content": "Say hi"}],
        )
        print(reply.choices[0].message.content)
    except openai.APIError as error:
        print(f"failed: {error}")
