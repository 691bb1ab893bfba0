"""A tiny text generator that streams: predict_fn returns a generator, so each token reaches the client
as a PayloadPart of InvokeEndpointWithResponseStream as soon as it is produced (InvokeEndpoint gets the
tokens joined into one body)."""

import json
import os
import time


def model_fn(model_dir):
    with open(os.path.join(model_dir, "bigrams.json")) as handle:
        return json.load(handle)


def input_fn(body, content_type):
    return json.loads(body)


def predict_fn(request, bigrams):
    word = request.get("start", "<s>")
    delay = float(request.get("delay", 0.05))
    limit = int(request.get("max_tokens", 32))

    def tokens():
        current = word
        for _ in range(limit):
            current = bigrams.get(current, "</s>")
            if current == "</s>":
                return
            time.sleep(delay)
            yield current + " "

    return tokens()
