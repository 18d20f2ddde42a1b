"""A fake Hugging Face Hub on loopback, for tests that must never touch the real one.

    python tests/fake_hub/server.py [--latency-ms 50] [--slow-s 5]

Binds 127.0.0.1 on a free port and prints its base URL as the first line of stdout.
It serves `GET|HEAD /{repo_id}/resolve/{revision}/{filename}` the way huggingface.co
does for small (non-LFS) files: X-Repo-Commit, a quoted ETag (the git blob sha1) and
X-Error-Code on errors. Every request waits --latency-ms first, so concurrency shows.

Repositories are the folders under repos/ (org/name/...), each with one commit whose
revisions are `main`, `v1.0` and the commit sha itself. Special repositories:
  meta-llama/Llama-3.2-1B   gated: 401 GatedRepo without a token, 403 with one lacking access
  fake-org/private-model    private: answers like a missing repo unless the token has access
  fake-org/slow*            waits --slow-s seconds before answering (a timeout)
  fake-org/rate-limited*    first request: 429 with Retry-After: 1, then the bert config
  fake-org/flaky*           first request: 503, then the bert config
  fake-org/bad-headers*     the bert config with an X-Repo-Commit and ETag that climb out
                            of the cache (a client must refuse them)
  bulk/*                    any name: the bert config (for many ids at once)
  gpt2-medium               a bare repo id (no organisation), as the oldest checkpoints have
Tokens: `hf_fake_token` has access to everything, `hf_other_token` is valid but has no
access to gated or private repos, any other token is rejected (401).
GET /_stats returns {"requests", "max_in_flight"} (requests to /resolve/ only).
"""

import argparse
import hashlib
import json
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

REPOS = Path(__file__).resolve().parent / "repos"
GOOD_TOKEN = "hf_fake_token"
OTHER_TOKEN = "hf_other_token"
GATED = {"meta-llama/Llama-3.2-1B"}
PRIVATE = {"fake-org/private-model"}
BERT = "google-bert/bert-base-uncased"
SERVES_BERT = ("bulk/", "fake-org/slow", "fake-org/rate-limited", "fake-org/flaky", "fake-org/bad-headers")


def commit_of(repo_id):
    return hashlib.sha1(("fake-hub commit " + repo_id).encode()).hexdigest()


def git_blob_sha1(data):
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


class Hub:
    def __init__(self, latency_s, slow_s):
        self.latency_s = latency_s
        self.slow_s = slow_s
        self.lock = threading.Lock()
        self.requests = 0
        self.in_flight = 0
        self.max_in_flight = 0
        self.seen = {}  # repo id -> requests so far, for the fail-once repositories

    def enter(self, repo_id):
        with self.lock:
            self.requests += 1
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            count = self.seen.get(repo_id, 0)
            self.seen[repo_id] = count + 1
            return count

    def leave(self):
        with self.lock:
            self.in_flight -= 1

    def stats(self):
        with self.lock:
            return {"requests": self.requests, "max_in_flight": self.max_in_flight}


def files_of(repo_id):
    """The repository's files as {name: bytes}, or None when there is no such repo."""
    if repo_id.startswith(SERVES_BERT):
        repo_id = BERT
    folder = REPOS / repo_id
    if ".." in repo_id.split("/") or not folder.is_dir():
        return None
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body leave in one segment: two small writes on a kept-alive
    # connection meet the client's delayed ACK and add 40 ms to every request.
    wbufsize = 1 << 16
    disable_nagle_algorithm = True
    hub = None  # set by main

    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        pass

    def handle(self):
        try:
            super().handle()
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a timeout test): nothing to answer

    def do_HEAD(self):
        self.answer(send_body=False)

    def do_GET(self):
        if self.path == "/_stats":
            self.send(200, json.dumps(self.hub.stats()).encode(), {"Content-Type": "application/json"})
            return
        self.answer(send_body=True)

    def send(self, status, body, headers, send_body=True):
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if send_body:
            self.wfile.write(body)

    def error(self, status, code, message, send_body, extra=None):
        headers = {"Content-Type": "application/json", "X-Error-Message": message}
        if code:
            headers["X-Error-Code"] = code
        headers.update(extra or {})
        self.send(status, json.dumps({"error": message}).encode(), headers, send_body)

    def answer(self, send_body):
        parts = urllib.parse.urlsplit(self.path).path.strip("/").split("/")
        if "resolve" not in parts or parts.index("resolve") not in (1, 2) or len(parts) < parts.index("resolve") + 3:
            self.error(404, None, "Not Found", send_body)
            return
        at = parts.index("resolve")
        repo_id = "/".join(parts[:at])
        revision = urllib.parse.unquote(parts[at + 1])
        filename = urllib.parse.unquote("/".join(parts[at + 2:]))
        seen = self.hub.enter(repo_id)
        try:
            time.sleep(self.hub.latency_s)
            self.resolve(repo_id, revision, filename, seen, send_body)
        finally:
            self.hub.leave()

    def resolve(self, repo_id, revision, filename, seen, send_body):
        auth = self.headers.get("Authorization", "")
        token = auth[len("Bearer "):] if auth.startswith("Bearer ") else None
        if token is not None and token not in (GOOD_TOKEN, OTHER_TOKEN):
            self.error(401, None, "Invalid credentials in Authorization header", send_body)
            return
        files = files_of(repo_id)
        if files is None or (repo_id in PRIVATE and token != GOOD_TOKEN):
            # Like huggingface.co: anonymous callers get 401 for missing and private repos alike.
            self.error(404 if token else 401, "RepoNotFound", "Repository not found", send_body)
            return
        if repo_id in GATED and token != GOOD_TOKEN:
            message = f"Access to model {repo_id} is restricted and you are not in the authorized list."
            self.error(403 if token else 401, "GatedRepo", message, send_body)
            return
        if repo_id.startswith("fake-org/slow"):
            time.sleep(self.hub.slow_s)
        if repo_id.startswith("fake-org/rate-limited") and seen == 0:
            self.error(429, None, "Too Many Requests", send_body, {"Retry-After": "1"})
            return
        if repo_id.startswith("fake-org/flaky") and seen == 0:
            self.error(503, None, "Service Unavailable", send_body)
            return
        commit = commit_of(repo_id)
        if revision not in ("main", "v1.0", commit):
            self.error(404, "RevisionNotFound", "Invalid rev id: " + revision, send_body)
            return
        if filename not in files:
            self.error(404, "EntryNotFound", "Entry not found", send_body, {"X-Repo-Commit": commit})
            return
        body = files[filename]
        headers = {
            "Content-Type": "text/plain; charset=utf-8",
            "ETag": '"%s"' % git_blob_sha1(body),
            "X-Repo-Commit": commit,
        }
        if repo_id.startswith("fake-org/bad-headers"):
            headers.update({"ETag": '"../../../escaped"', "X-Repo-Commit": "../../../escaped"})
        self.send(200, body, headers, send_body)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency-ms", type=float, default=50)
    parser.add_argument("--slow-s", type=float, default=5)
    args = parser.parse_args()
    Handler.hub = Hub(args.latency_ms / 1000, args.slow_s)
    ThreadingHTTPServer.request_queue_size = 256  # many clients connect at once
    ThreadingHTTPServer.daemon_threads = True
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    print(f"http://127.0.0.1:{server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
