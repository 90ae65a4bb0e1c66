"""A local stand-in for OpenAI's fine-tuning API, for tests (the real service cannot be reached from them): the
documented request and response shapes of /v1/files, /v1/fine_tuning/jobs (create, retrieve, events, cancel) and
/v1/chat/completions, over HTTP on loopback, driven by the real `openai` client.

A job moves one state per retrieve: validating_files -> queued -> running (one metrics event per step) -> succeeded,
or failed (`scenario="fail"`); `scenario="slow"` keeps it running until it is cancelled."""

from __future__ import annotations

import json
import threading
import time
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class StandIn:
    def __init__(self, key: str = "sk-test", scenario: str = "succeed", steps: int = 3):
        self.key, self.scenario, self.steps = key, scenario, steps
        self.files: dict[str, dict] = {}
        self.jobs: dict[str, dict] = {}
        self.events: dict[str, list[dict]] = {}
        self.requests: list[tuple[str, str]] = []
        self.created: list[dict] = []  # the bodies of job creations
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def __enter__(self) -> StandIn:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    # ---------------------------------------------------------------------------------------------- the API

    def upload(self, content_type: str, body: bytes) -> tuple[int, dict]:
        message = BytesParser(policy=HTTP).parsebytes(b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + body)
        fields = {}
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            fields[name] = (part.get_filename(), part.get_payload(decode=True))
        if fields.get("purpose", (None, b""))[1] != b"fine-tune" or "file" not in fields:
            return 400, _error("purpose must be fine-tune and a file given", "purpose")
        file_id = f"file-{len(self.files) + 1}"
        filename, data = fields["file"]
        self.files[file_id] = {"data": data}
        return 200, {
            "id": file_id,
            "object": "file",
            "bytes": len(data),
            "created_at": int(time.time()),
            "filename": filename,
            "purpose": "fine-tune",
            "status": "processed",
        }

    def create(self, body: dict) -> tuple[int, dict]:
        self.created.append(body)
        for key in ("training_file", "validation_file"):
            if body.get(key) and body[key] not in self.files:
                return 400, _error(f"invalid {key}: {body[key]}", key)
        job_id = f"ftjob-{len(self.jobs) + 1}"
        epochs = (((body.get("method") or {}).get("supervised") or {}).get("hyperparameters") or {}).get("n_epochs")
        job = {
            "id": job_id,
            "object": "fine_tuning.job",
            "created_at": int(time.time()),
            "error": None,
            "fine_tuned_model": None,
            "finished_at": None,
            "hyperparameters": {"n_epochs": epochs or "auto", "batch_size": "auto", "learning_rate_multiplier": "auto"},
            "model": body["model"],
            "organization_id": "org-standin",
            "result_files": [],
            "seed": 42,
            "status": "validating_files",
            "trained_tokens": None,
            "training_file": body["training_file"],
            "validation_file": body.get("validation_file"),
            "method": body.get("method"),
            "metadata": body.get("metadata"),
            "_step": 0,
            "_suffix": body.get("suffix"),
        }
        self.jobs[job_id] = job
        self.events[job_id] = []
        self._event(job_id, f"Created fine-tuning job: {job_id}")
        return 200, _public(job)

    def retrieve(self, job_id: str) -> tuple[int, dict]:
        job = self.jobs.get(job_id)
        if job is None:
            return 404, _error(f"no job {job_id}", "fine_tuning_job_id")
        self._advance(job)
        return 200, _public(job)

    def list_events(self, job_id: str) -> tuple[int, dict]:
        if job_id not in self.jobs:
            return 404, _error(f"no job {job_id}", "fine_tuning_job_id")
        return 200, {"object": "list", "data": list(reversed(self.events[job_id])), "has_more": False}

    def cancel(self, job_id: str) -> tuple[int, dict]:
        job = self.jobs.get(job_id)
        if job is None:
            return 404, _error(f"no job {job_id}", "fine_tuning_job_id")
        if job["status"] in ("succeeded", "failed", "cancelled"):
            return 400, _error(f"job {job_id} has already ended ({job['status']})", None)
        job["status"] = "cancelled"
        job["finished_at"] = int(time.time())
        self._event(job_id, "Fine-tuning job cancelled")
        return 200, _public(job)

    def chat(self, body: dict) -> tuple[int, dict]:
        models = {j["fine_tuned_model"] for j in self.jobs.values() if j["fine_tuned_model"]}
        if body.get("model") not in models:
            return 404, _error(f"The model `{body.get('model')}` does not exist", "model")
        return 200, {
            "id": "chatcmpl-standin",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body["model"],
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "lol sure"}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 10, "completion_tokens": 2, "total_tokens": 12},
        }

    # ---------------------------------------------------------------------------------------------- the job

    def _event(self, job_id: str, message: str, level: str = "info", data=None, kind: str = "message") -> None:
        events = self.events[job_id]
        events.append(
            {
                "id": f"ftevent-{job_id}-{len(events) + 1}",
                "object": "fine_tuning.job.event",
                "created_at": int(time.time()),
                "level": level,
                "message": message,
                "data": data,
                "type": kind,
            }
        )

    def _advance(self, job: dict) -> None:
        job_id, status = job["id"], job["status"]
        if status == "validating_files":
            job["status"] = "queued"
            self._event(job_id, "Files validated, moving job to queued state")
        elif status == "queued":
            job["status"] = "running"
            self._event(job_id, "Fine-tuning job started")
        elif status == "running":
            if self.scenario == "fail":
                job.update(status="failed", finished_at=int(time.time()))
                job["error"] = {"code": "invalid_training_file", "message": "The job failed (stand-in)", "param": None}
                self._event(job_id, "The job failed (stand-in)", level="error")
                return
            if self.scenario == "slow" or job["_step"] < self.steps:
                job["_step"] += 1
                data = {"step": job["_step"], "total_steps": self.steps, "train_loss": 2.0 / job["_step"]}
                self._event(job_id, f"Step {job['_step']}/{self.steps}", data=data, kind="metrics")
                return
            suffix = job["_suffix"] or "clone"
            job.update(status="succeeded", finished_at=int(time.time()), trained_tokens=1234)
            job["fine_tuned_model"] = f"ft:{job['model']}:standin:{suffix}:{job_id[-4:]}"
            self._event(job_id, "The job has successfully completed")


def _public(job: dict) -> dict:
    return {k: v for k, v in job.items() if not k.startswith("_")}


def _error(message: str, param) -> dict:
    return {"error": {"message": message, "type": "invalid_request_error", "param": param, "code": None}}


def _handler(api: StandIn):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:  # quiet
            pass

        def _reply(self, status: int, body: dict) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _authorized(self) -> bool:
            if self.headers.get("Authorization") == f"Bearer {api.key}":
                return True
            self._reply(401, {"error": {"message": "Incorrect API key provided", "type": "invalid_request_error"}})
            return False

        def do_GET(self) -> None:
            path = self.path.split("?")[0]
            with api.lock:
                api.requests.append(("GET", path))
                if not self._authorized():
                    return
                parts = path.strip("/").split("/")
                if parts[:3] == ["v1", "fine_tuning", "jobs"] and len(parts) == 4:
                    self._reply(*api.retrieve(parts[3]))
                elif parts[:3] == ["v1", "fine_tuning", "jobs"] and len(parts) == 5 and parts[4] == "events":
                    self._reply(*api.list_events(parts[3]))
                else:
                    self._reply(404, _error(f"no route {path}", None))

        def do_POST(self) -> None:
            path = self.path.split("?")[0]
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            with api.lock:
                api.requests.append(("POST", path))
                if not self._authorized():
                    return
                parts = path.strip("/").split("/")
                if path == "/v1/files":
                    self._reply(*api.upload(self.headers.get("Content-Type", ""), body))
                elif path == "/v1/fine_tuning/jobs":
                    self._reply(*api.create(json.loads(body)))
                elif parts[:3] == ["v1", "fine_tuning", "jobs"] and len(parts) == 5 and parts[4] == "cancel":
                    self._reply(*api.cancel(parts[3]))
                elif path == "/v1/chat/completions":
                    self._reply(*api.chat(json.loads(body)))
                else:
                    self._reply(404, _error(f"no route {path}", None))

    return Handler
