#!/usr/bin/env python3
"""fake-rerank-server.py — a local stand-in for the hosted rerank APIs.

Speaks the wire formats of shared/reference/rerank-apis.md so that tests can
run the API scorer without a network.  Standard library only.  It binds
127.0.0.1 on a free port, prints the port on stdout (and writes it to
--port-file), and stops by itself after --idle seconds without a request or
when the process that started it is gone, so a failed test never leaves it
running.  With --tls-cert and --tls-key it also serves HTTPS on a second
port, printed after the first on the same line.

URLs: http://127.0.0.1:PORT/<provider><path>[?params], where provider and
path are one of
    cohere /v1/rerank      cohere-v2 /v2/rerank    jina /v1/rerank
    voyage /v1/rerank      mixedbread /v1/reranking
    together /v1/rerank    pinecone /rerank        tei /rerank

Every request is checked against the reference: method, Content-Type, the
auth headers (Authorization: Bearer KEY; Pinecone's Api-Key: KEY and
X-Pinecone-Api-Version: 2025-10), known and required fields and their types,
per-request document limits.  A request that is wrong gets 400 (401 for a
bad key) with a message saying what is wrong, in that provider's error body.

Scores are deterministic.  Tokens are the maximal runs of ASCII letters and
digits of the UTF-8 text, lowercased; with Q the query's token set and D the
document's token list:
    score = |Q ∩ set(D)| + 1 / (2 + len(D)) + shift
Results are sorted by score, highest first (ties by index) unless asked.

Query parameters:
    tag=NAME        requests are counted per tag; GET /_stats?tag=NAME
                    answers {"requests", "max_inflight", "batches"}
    fault=KIND      429 (with Retry-After), 500, 502html, 503, 400, 401, 404,
                    422, leak (a 401 whose message echoes the key sent,
                    after `pad` x's), leakjson (a 200 whose body, not JSON,
                    starts with the key sent),
                    slow (answer after `delay` s), drop (close without an
                    answer), malformed (cut JSON), nokey (no results key),
                    missing (one result left out), repeat (an index twice),
                    range (an index past the end), badscore (score a string)
    times=N         the fault hits only the first N requests of the tag
    retry_after=V   for 429: seconds (default 1), date:N (an HTTP-date N s
                    ahead) or none
    delay=S         for slow (default 5)
    pad=N           for leak: N filler characters before the echoed key
    order=O         score (default), input, reverse (lowest first), shuffle
    shift=X         added to every score (raw logits can be negative)
    selfhosted=1    a keyless self-hosted server: credentials are refused
                    and the model field is optional
"""
import argparse
import email.utils
import json
import os
import random
import re
import socket
import ssl
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

PINECONE_VERSION = "2025-10"

# provider: path, documents field, top-k field, results key, score key,
# allowed fields, required fields, document types, per-request limit.
PROVIDERS = {
    "cohere": dict(path="/v1/rerank", docs="documents", topk="top_n", results="results",
                   score="relevance_score",
                   fields={"model", "query", "documents", "top_n", "rank_fields",
                           "return_documents", "max_chunks_per_doc"},
                   required={"query", "documents"}, doc_types=("str", "obj"), limit=10000),
    "cohere-v2": dict(path="/v2/rerank", docs="documents", topk="top_n", results="results",
                      score="relevance_score",
                      fields={"model", "query", "documents", "top_n", "max_tokens_per_doc",
                              "priority"},
                      required={"model", "query", "documents"}, doc_types=("str",),
                      limit=10000),
    "jina": dict(path="/v1/rerank", docs="documents", topk="top_n", results="results",
                 score="relevance_score",
                 fields={"model", "query", "documents", "top_n", "return_documents"},
                 required={"model", "query", "documents"}, doc_types=("str", "obj"),
                 limit=None),
    "voyage": dict(path="/v1/rerank", docs="documents", topk="top_k", results="data",
                   score="relevance_score",
                   fields={"model", "query", "documents", "top_k", "return_documents",
                           "truncation"},
                   required={"model", "query", "documents"}, doc_types=("str",), limit=1000),
    "mixedbread": dict(path="/v1/reranking", docs="input", topk="top_k", results="data",
                       score="score",
                       fields={"model", "query", "input", "rank_fields", "top_k",
                               "return_input", "rewrite_query"},
                       required={"query", "input"}, doc_types=("str", "obj", "list"),
                       limit=None),
    "together": dict(path="/v1/rerank", docs="documents", topk="top_n", results="results",
                     score="relevance_score",
                     fields={"model", "query", "documents", "top_n", "return_documents",
                             "rank_fields"},
                     required={"model", "query", "documents"}, doc_types=("str", "obj"),
                     limit=None),
    "pinecone": dict(path="/rerank", docs="documents", topk="top_n", results="data",
                     score="score",
                     fields={"model", "query", "documents", "top_n", "return_documents",
                             "rank_fields", "parameters"},
                     required={"model", "query", "documents"}, doc_types=("obj",),
                     limit=None),
    "tei": dict(path="/rerank", docs="texts", topk=None, results=None, score="score",
                fields={"query", "texts", "truncate", "truncation_direction", "raw_scores",
                        "return_text"},
                required={"query", "texts"}, doc_types=("str",), limit=32),
}
PINECONE_LIMITS = {"cohere-rerank-3.5": 200}
PINECONE_DEFAULT_LIMIT = 100
BOOL_FIELDS = {"return_documents", "return_input", "rewrite_query", "truncation", "truncate",
               "raw_scores", "return_text"}
TOKEN = re.compile(rb"[A-Za-z0-9]+")


def tokens(text):
    return [t.lower() for t in TOKEN.findall(text.encode("utf-8"))]


def score(query, doc):
    q = set(tokens(query))
    d = tokens(doc)
    return len(q & set(d)) + 1.0 / (2 + len(d))


def doc_text(doc):
    return doc if isinstance(doc, str) else doc["text"] if isinstance(doc, dict) else " ".join(doc)


def error_body(provider, status, message):
    """The provider's own error body for status (§1–§8); bytes."""
    if provider in ("cohere", "cohere-v2"):
        body = {"id": "fake-0000", "message": message}
    elif provider in ("jina", "voyage"):
        body = {"detail": message}
    elif provider == "mixedbread":
        body = {"type": "invalid_request_error" if status < 500 else "server_error",
                "message": message}
    elif provider == "together":
        body = {"error": {"message": message, "type": "invalid_request_error",
                          "param": None, "code": None}}
    elif provider == "pinecone":
        codes = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 404: "NOT_FOUND",
                 429: "RESOURCE_EXHAUSTED"}
        body = {"error": {"code": codes.get(status, "UNKNOWN"), "message": message},
                "status": status}
    else:  # tei: a bare 401 has an empty body
        if status == 401:
            return b""
        body = {"error": message, "error_type": "Validation"}
    return json.dumps(body).encode()


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.tags = {}
        self.last = time.monotonic()

    def begin(self, tag):
        with self.lock:
            self.last = time.monotonic()
            t = self.tags.setdefault(tag, {"requests": 0, "inflight": 0, "max_inflight": 0,
                                           "batches": []})
            t["requests"] += 1
            t["inflight"] += 1
            t["max_inflight"] = max(t["max_inflight"], t["inflight"])
            return t["requests"]

    def end(self, tag):
        with self.lock:
            self.tags[tag]["inflight"] -= 1
            self.last = time.monotonic()

    def batch(self, tag, n):
        with self.lock:
            self.tags[tag]["batches"].append(n)

    def get(self, tag):
        with self.lock:
            t = self.tags.get(tag, {"requests": 0, "max_inflight": 0, "batches": []})
            return {k: t[k] for k in ("requests", "max_inflight", "batches")}


class BadRequest(Exception):
    def __init__(self, status, message):
        super().__init__(message)
        self.status = status
        self.message = message


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fake-rerank"

    def log_message(self, fmt, *args):
        if self.server.verbose:
            sys.stderr.write("fake-rerank-server: " + (fmt % args) + "\n")

    def send(self, status, body, headers=()):
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        url = urlsplit(self.path)
        params = {k: v[-1] for k, v in parse_qs(url.query).items()}
        if url.path == "/_stats":
            self.send(200, json.dumps(self.server.stats.get(params.get("tag", ""))).encode())
        else:
            self.send(405, b'{"message":"rerank endpoints take POST"}')

    def do_POST(self):
        url = urlsplit(self.path)
        params = {k: v[-1] for k, v in parse_qs(url.query).items()}
        tag = params.get("tag", "")
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        stats = self.server.stats
        nth = stats.begin(tag)
        try:
            self.answer(url.path, params, tag, nth, raw)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a timeout test)
        finally:
            stats.end(tag)

    def provider_for(self, path):
        for name, p in PROVIDERS.items():
            if path == "/" + name + p["path"]:
                return name, p
        return None, None

    def check_auth(self, name, params):
        key = self.server.key
        auth = self.headers.get("Authorization")
        api_key = self.headers.get("Api-Key")
        if params.get("selfhosted") == "1":
            if auth is not None or api_key is not None:
                raise BadRequest(400, "credentials sent to a keyless self-hosted server")
            return
        if name == "pinecone":
            if auth is not None:
                raise BadRequest(400, "Pinecone takes Api-Key, not Authorization")
            if self.headers.get("X-Pinecone-Api-Version") != PINECONE_VERSION:
                raise BadRequest(400, "X-Pinecone-Api-Version must be " + PINECONE_VERSION)
            if api_key is None or api_key != key:
                raise BadRequest(401, "Invalid API Key")
            return
        if api_key is not None:
            raise BadRequest(400, "unexpected Api-Key header")
        if auth is None:
            raise BadRequest(401, "no api key supplied")
        if auth != "Bearer " + key:
            raise BadRequest(401, "invalid api token")

    def check_body(self, name, p, raw, params):
        """The parsed body, or BadRequest naming the problem."""
        ctype = self.headers.get("Content-Type", "")
        if not ctype.startswith("application/json"):
            raise BadRequest(400, "Content-Type must be application/json, not %r" % ctype)
        try:
            body = json.loads(raw)
        except ValueError as exc:
            raise BadRequest(400, "body is not JSON: %s" % exc)
        if not isinstance(body, dict):
            raise BadRequest(400, "body must be a JSON object")
        unknown = set(body) - p["fields"]
        if unknown:
            raise BadRequest(400, "unknown field(s): %s" % ", ".join(sorted(unknown)))
        required = set(p["required"])
        if params.get("selfhosted") == "1":
            required.discard("model")
        missing = required - set(body)
        if missing:
            raise BadRequest(400, "missing field(s): %s" % ", ".join(sorted(missing)))
        if "model" in body and (not isinstance(body["model"], str) or not body["model"]):
            raise BadRequest(400, "model must be a non-empty string")
        query = body["query"]
        if not isinstance(query, str) or not query.strip():
            raise BadRequest(400, "invalid request: query must not be empty or be only "
                             "whitespace")
        docs = body[p["docs"]]
        if not isinstance(docs, list) or not docs:
            raise BadRequest(400, "invalid request: list of documents must not be empty")
        for i, d in enumerate(docs):
            kind = ("str" if isinstance(d, str) else "obj" if isinstance(d, dict)
                    else "list" if isinstance(d, list) else None)
            if kind not in p["doc_types"]:
                raise BadRequest(400, "%s[%d] must be one of %s" % (p["docs"], i,
                                                                    "/".join(p["doc_types"])))
            if kind == "obj" and not isinstance(d.get("text"), str):
                raise BadRequest(400, "%s[%d] has no text" % (p["docs"], i))
        for f in BOOL_FIELDS & set(body):
            if not isinstance(body[f], bool):
                raise BadRequest(400, "%s must be a boolean" % f)
        topk = p["topk"]
        if topk and topk in body:
            v = body[topk]
            if not isinstance(v, int) or isinstance(v, bool) or (v < 1 and v != -1) or \
                    (v == -1 and name != "mixedbread"):
                raise BadRequest(400, "%s must be a positive integer" % topk)
        limit = p["limit"]
        if name == "pinecone":
            limit = PINECONE_LIMITS.get(body["model"], PINECONE_DEFAULT_LIMIT)
        if limit and len(docs) > limit:
            if name == "tei":
                raise BadRequest(422, "batch size %d > maximum allowed batch size %d"
                                 % (len(docs), limit))
            raise BadRequest(400, "too many documents: %d > %d" % (len(docs), limit))
        return body

    def leak(self, name, params):
        """Echoes the credentials sent, whatever they are, as a server may."""
        sent = self.headers.get("Authorization") or self.headers.get("Api-Key") or ""
        if params["fault"] == "leak":
            pad = "x" * int(params.get("pad", "0"))
            self.send(401, error_body(name, 401, "invalid api token: " + pad + sent))
        else:
            self.send(200, (sent.split(" ")[-1] + " is not a valid key").encode())

    def answer(self, path, params, tag, nth, raw):
        name, p = self.provider_for(path)
        if not name:
            self.send(404, json.dumps({"message": "no such endpoint: " + path}).encode())
            return
        if params.get("fault") in ("leak", "leakjson"):
            self.leak(name, params)
            return
        try:
            self.check_auth(name, params)
            body = self.check_body(name, p, raw, params)
        except BadRequest as exc:
            self.send(exc.status, error_body(name, exc.status, exc.message))
            return

        docs = body[p["docs"]]
        self.server.stats.batch(tag, len(docs))
        times = int(params.get("times", "1000000000"))
        fault = params.get("fault") if nth <= times else None

        status_faults = {"400": "invalid request: fake bad request",
                         "404": "model not found", "422": "fake unprocessable request",
                         "500": "internal server error", "503": "service unavailable",
                         "401": "invalid api token"}
        if fault in status_faults:
            self.send(int(fault), error_body(name, int(fault), status_faults[fault]))
            return
        if fault == "502html":
            page = b"<html><body><h1>502 Bad Gateway</h1></body></html>"
            self.send_response(502)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(page)))
            self.end_headers()
            self.wfile.write(page)
            return
        if fault == "429":
            ra = params.get("retry_after", "1")
            headers = []
            if ra.startswith("date:"):
                when = time.time() + float(ra[5:])
                headers.append(("Retry-After", email.utils.formatdate(when, usegmt=True)))
            elif ra != "none":
                headers.append(("Retry-After", ra))
            self.send(429, error_body(name, 429, "You are past the per minute request "
                                      "limit, please wait and try again later."), headers)
            return
        if fault == "drop":
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        if fault == "slow":
            time.sleep(float(params.get("delay", "5")))
        if fault == "malformed":
            self.send(200, b'{"results": [{"index": 0, "relevance_sc')
            return

        shift = float(params.get("shift", "0"))
        results = [(i, score(body["query"], doc_text(d)) + shift) for i, d in enumerate(docs)]
        order = params.get("order", "score")
        if order == "score":
            results.sort(key=lambda r: (-r[1], r[0]))
        elif order == "reverse":
            results.sort(key=lambda r: (r[1], -r[0]))
        elif order == "shuffle":
            random.Random(len(docs)).shuffle(results)
        topk = p["topk"]
        if topk and isinstance(body.get(topk), int) and body[topk] > 0:
            results = results[:body[topk]]

        echo = body.get("return_documents", name == "pinecone") or body.get("return_input") \
            or body.get("return_text")
        items = []
        for i, s in results:
            item = {"index": i, p["score"]: s}
            if echo:
                d = docs[i]
                if name in ("voyage",):
                    item["document"] = d
                elif name == "mixedbread":
                    item["input"] = d
                elif name == "tei":
                    item["text"] = d
                else:
                    item["document"] = d if isinstance(d, dict) else {"text": d}
            items.append(item)
        if fault == "missing":
            items.pop()
        elif fault == "repeat":
            items[-1]["index"] = items[0]["index"]
        elif fault == "range":
            items[-1]["index"] = len(docs)
        elif fault == "badscore":
            items[0][p["score"]] = str(items[0][p["score"]])

        if p["results"] is None:
            out = items
        else:
            out = {p["results"]: items, "model": body.get("model", "fake")}
            if fault == "nokey":
                del out[p["results"]]
        self.send(200, json.dumps(out).encode())


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--port", type=int, default=0, help="0: a free port")
    ap.add_argument("--port-file", help="also write the port here (atomically)")
    ap.add_argument("--key", default="fake-key", help="the API key to expect")
    ap.add_argument("--idle", type=float, default=30, help="stop after this many idle seconds")
    ap.add_argument("--tls-cert", help="PEM certificate for a second, HTTPS port")
    ap.add_argument("--tls-key", help="PEM private key of --tls-cert")
    ap.add_argument("--verbose", action="store_true", help="log requests to stderr")
    args = ap.parse_args()

    stats = Stats()
    servers = []
    for tls in (False, True) if args.tls_cert else (False,):
        s = ThreadingHTTPServer(("127.0.0.1", args.port if not tls else 0), Handler)
        if tls:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(args.tls_cert, args.tls_key)
            s.socket = ctx.wrap_socket(s.socket, server_side=True)
        s.daemon_threads = True
        s.key = args.key
        s.verbose = args.verbose
        s.stats = stats
        servers.append(s)
    server = servers[0]
    ports = " ".join(str(s.server_address[1]) for s in servers)
    print(ports, flush=True)
    if args.port_file:
        tmp = args.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write(ports + "\n")
        os.replace(tmp, args.port_file)

    parent = os.getppid()

    def watchdog():
        while True:
            time.sleep(0.2)
            with stats.lock:
                idle = time.monotonic() - stats.last
            if idle > args.idle or os.getppid() != parent:
                for s in servers:
                    s.shutdown()
                return

    threading.Thread(target=watchdog, daemon=True).start()
    for s in servers[1:]:
        threading.Thread(target=s.serve_forever, kwargs={"poll_interval": 0.1},
                         daemon=True).start()
    try:
        server.serve_forever(poll_interval=0.1)
    finally:
        for s in servers:
            s.server_close()


if __name__ == "__main__":
    main()
