#!/usr/bin/env python3
"""A LangChain script as anyone writes it: `ChatOpenAI` with its defaults,
only the base URL and key set. ChatOpenAI hands its `max_retries` to the
openai SDK it wraps, so the attempts carry the SDK's retry-count header.

    python3 sim/clients/plain_langchain.py http://127.0.0.1:8787/v1 2
"""

import sys

import openai
from langchain_openai import ChatOpenAI

llm = ChatOpenAI(model="gpt-4o-mini", base_url=sys.argv[1], api_key="sk-not-checked")
for _ in range(int(sys.argv[2]) if len(sys.argv) > 2 else 1):
    try:
        print(llm.invoke("Say hi").content)
    except openai.APIError as error:
        print(f"failed: {error}")
