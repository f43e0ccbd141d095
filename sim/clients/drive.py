#!/usr/bin/env python3
"""Drive an official Python SDK against `retry-sim serve`, with its default retries.

Each of --clients threads makes --calls calls, one after another. Every call
carries its ids as extra headers (x-sim-client, x-sim-call), so the server
groups the SDK's attempts into calls, and the driver tells the server when
each call started, what items it received and how it ended (POST /sim/call),
so that everything is stamped on the server's clock. At the end it POSTs
/sim/done, and the server writes its record.

    python3 sim/clients/drive.py --sdk openai --server http://127.0.0.1:8787 \
        --clients 1 --calls 3 --method chat

--method is chat or chat_stream for either SDK; openai also drives
embeddings, responses and responses_stream (the Responses API). Only the
items a call carries are reported: a stream's frame around them (openai's
closing chunks, anthropic's message_start ... message_stop, the Responses
API's lifecycle events) is parsed by the SDK and not reported.
"""

import argparse
import json
import sys
import threading
import time
import urllib.request

# Which provider-retry-sim method each (sdk, --method) is a call of.
METHODS = {
    ("openai", "chat"): "chat",
    ("openai", "chat_stream"): "chat_stream",
    ("anthropic", "chat"): "anthropic",
    ("anthropic", "chat_stream"): "anthropic_stream",
    ("openai", "embeddings"): "embedding",
    ("openai", "responses"): "responses",
    ("openai", "responses_stream"): "responses_stream",
}

# Every embedding `retry-sim serve` answers (`wire::shapes::openai::EMBEDDING`):
# the SDK decodes it from base64, which it asks for by default.
EMBEDDING = [0.5, -0.25, 0.125, 0.0]
EMBEDDING_INPUTS = ["one", "two"]


def post(server, path, body):
    """POST a JSON body to the server; the driver's own reports are never retried."""
    request = urllib.request.Request(
        server + path,
        data=json.dumps(body).encode(),
        headers={"content-type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        response.read()


def wait_for(server, seconds=30):
    """Wait until the server listens (it may still be building or starting)."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            with urllib.request.urlopen(server + "/sim/ready", timeout=1) as response:
                response.read()
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def outcome_of(sdk_module, error):
    """The call's outcome as the trace writes it, from the SDK's own exception types."""
    if isinstance(error, sdk_module.APIStatusError):
        return {"result": "failed", "error": "status", "status": error.status_code}
    if isinstance(error, sdk_module.APITimeoutError):  # a subclass of APIConnectionError
        return {"result": "failed", "error": "timeout"}
    if isinstance(error, sdk_module.APIConnectionError):
        return {"result": "failed", "error": "network"}
    return {"result": "failed", "error": "other", "status": 0}


def make_client(sdk, server, strict=False):
    """The SDK's client with every default (retries, backoff, timeouts) left
    alone. `strict` has it validate every answer against its own types
    (`_strict_response_validation`), where by default it builds them from
    whatever arrived: a field missing or of the wrong type fails the call."""
    if sdk == "openai":
        import openai

        client = openai.OpenAI(api_key="sim", base_url=server + "/v1", _strict_response_validation=strict)
        return openai, client
    import anthropic

    return anthropic, anthropic.Anthropic(api_key="sim", base_url=server, _strict_response_validation=strict)


def create_of(sdk, client, method):
    """The SDK's create method for --method. Resolved once, before any call
    is reported started: the SDKs import a resource's modules on first
    access, which on a loaded machine takes longer than the judge's
    tolerance, and would read as a wait before the first call's first attempt."""
    if sdk == "anthropic":
        return client.messages.create
    if method == "embeddings":
        return client.embeddings.create
    if method.startswith("responses"):
        return client.responses.create
    return client.chat.completions.create


def is_item(sdk, method, event):
    """Whether a streamed event carries an item (text), not the frame around them."""
    if sdk == "anthropic":
        return event.type == "content_block_delta"
    if method == "responses_stream":
        return event.type == "response.output_text.delta"
    return bool(event.choices) and bool(event.choices[0].delta.content)


def embeddings_call(create, headers, item, strict):
    """One embeddings call; its answer must hold one decoded embedding per input.
    By default the SDK asks base64 and decodes it after parsing; a strict
    client asks floats, as its types (lists of floats) are checked before
    that decoding, against OpenAI itself too."""
    encoding = {"encoding_format": "float"} if strict else {}
    response = create(model="m", input=EMBEDDING_INPUTS, extra_headers=headers, **encoding)
    vectors = [list(e.embedding) for e in response.data]
    if vectors != [EMBEDDING] * len(EMBEDDING_INPUTS):
        raise ValueError(f"embeddings not as served: {vectors}")
    item(response.model_dump_json())


def one_call(sdk, method, create, stream, headers, item, strict=False):
    """Make one call; `item(json_text)` for the response, or for each streamed item."""
    if method == "embeddings":
        return embeddings_call(create, headers, item, strict)
    messages = [{"role": "user", "content": "hi"}]
    if method.startswith("responses"):
        kwargs = dict(model="m", input="hi", extra_headers=headers)
    elif sdk == "openai":
        kwargs = dict(model="m", messages=messages, extra_headers=headers)
    else:
        kwargs = dict(model="m", max_tokens=16, messages=messages, extra_headers=headers)
    if not stream:
        response = create(**kwargs)
        # The Responses API's text, as the SDK puts its output together.
        item(response.output_text if method == "responses" else response.model_dump_json())
        return
    for event in create(stream=True, **kwargs):
        if is_item(sdk, method, event):
            item(event.model_dump_json())


def run_client(args, number, failures):
    """One client: --calls calls in a row, each reported to the server."""
    module, client = make_client(args.sdk, args.server, args.strict)
    create = create_of(args.sdk, client, args.method)
    method = METHODS[(args.sdk, args.method)]
    stream = args.method.endswith("_stream")
    for call in range(args.calls):
        ids = {"client": number, "call": call}
        headers = {"x-sim-client": str(number), "x-sim-call": str(call)}
        received = []

        def item(text):
            received.append(text)
            post(args.server, "/sim/call", dict(ids, event="item", payload=text))

        post(args.server, "/sim/call", dict(ids, event="started", method=method))
        try:
            one_call(args.sdk, args.method, create, stream, headers, item, args.strict)
            outcome = {"result": "ok"}
        except Exception as error:  # the SDK's error is the finding, not a crash
            if stream and received:
                # A handed-over stream that broke: not retried by the SDK.
                timeout = isinstance(error, module.APITimeoutError)
                post(args.server, "/sim/call", dict(ids, event="stream_failed", timeout=timeout))
            outcome = outcome_of(module, error)
            failures.append(f"c{number}#{call}: {type(error).__name__}: {error}")
        post(args.server, "/sim/call", dict(ids, event="ended", outcome=outcome))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sdk", choices=["openai", "anthropic"], required=True)
    parser.add_argument("--server", default="http://127.0.0.1:8787", help="retry-sim serve's address")
    parser.add_argument("--clients", type=int, default=1)
    parser.add_argument("--calls", type=int, default=1)
    methods = sorted({m for (_, m) in METHODS})
    parser.add_argument("--method", choices=methods, default="chat")
    parser.add_argument("--no-done", action="store_true", help="leave the server running")
    parser.add_argument("--strict", action="store_true", help="validate every answer against the SDK's types")
    args = parser.parse_args()
    if (args.sdk, args.method) not in METHODS:
        parser.error(f"--sdk {args.sdk} has no --method {args.method}")

    wait_for(args.server)
    failures = []
    threads = [
        threading.Thread(target=run_client, args=(args, n, failures)) for n in range(args.clients)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if not args.no_done:
        post(args.server, "/sim/done", {})
    # Failed calls are expected under faults: list them, but exit 0 (the judge decides).
    for f in failures:
        print(f, file=sys.stderr)


if __name__ == "__main__":
    main()
