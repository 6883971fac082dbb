#!/usr/bin/env python3
"""fake-llm-server.py — a local stand-in for an OpenAI-compatible chat
completions endpoint that reranks like an LLM, deterministically.

Standard library only.  It binds 127.0.0.1 on a free port, prints the port on
stdout (and writes it to --port-file), and stops by itself after --idle
seconds without a request or when the process that started it is gone.

    POST /v1/chat/completions[?params]     GET /_stats?tag=NAME

Every request is checked against shared/reference/rerank-apis.md §12–§13:
method, Content-Type, `Authorization: Bearer KEY`, known fields and their
types, temperature 0, roles, and the exact prompt text:
  - listwise: RankGPT's messages (system, user prefix, "Okay, please provide
    the passages.", a user "[i] passage" / assistant "Received passage [i]."
    pair per passage, the final user instruction), numbered 1..num;
  - pointwise (the request has "logprobs"): max_tokens 1, logprobs true,
    top_logprobs 0..20, one user message with RankGPT's relevance question.
A request that is wrong gets 400 (401 for a bad key) with an OpenAI-style
error body {"error": {"message", "type", "param", "code"}}.

The hidden rule.  Tokens are the maximal runs of ASCII letters and digits,
lowercased.  A passage's relevance is the number of its tokens (with
repetition) that are also query tokens:
    rel = |{ i : passage_token[i] in set(query_tokens) }|
Listwise answers rank the window's passages by rel, highest first, ties by
their number, as "[3] > [1] > [2]".  Pointwise answers, with s = rel/(rel+2),
carry top_logprobs whose yes spellings ("Yes", " yes", "YES") hold 0.9*s of
the probability and whose no spellings ("No", "no") hold 0.9*(1-s), plus a
decoy "Yesterday" (0.1), so P(yes)/(P(yes)+P(no)) = s exactly; a yes spelling
with no probability is sent as logprob -9999.0 (OpenAI's convention).  The
answer text is "Yes" when s >= 0.5, else "No".

Query parameters:
    tag=NAME       requests are counted per tag; GET /_stats?tag=NAME answers
                   {"requests", "max_inflight", "sizes" (passages per request,
                   in arrival order), "max_words" (longest passage in words)}
    order=reverse  listwise: rank worst first (an imperfect model)
    logprobs=none  pointwise: answer without logprobs (text only)
    answer=maybe   pointwise: answer "Maybe", without logprobs
    fault=KIND     429 (with Retry-After), 500, slow (answer after `delay` s),
                   leak (a 401 echoing the Authorization header after `pad`
                   x's), leakjson (a 200 whose body, not JSON, starts with
                   the key sent), notjson (a cut body), nochoices;
                   listwise answers: repeat (an id
                   twice), range (an id past the end, first), missing (the
                   best id left out), prose (ids in a sentence), empty (""),
                   nonumbers (a refusal), nullcontent (content null), think
                   (a <think> block naming other ids first), fancy (full-width
                   digits)
    times=N        the fault hits only the first N requests of the tag
    retry_after=V  for 429: seconds (default 1) or none
    delay=S        for slow (default 5)
    selfhosted=1   a keyless server: credentials are refused and the model
                   field is optional
"""
import argparse
import json
import math
import os
import re
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

PATH = "/v1/chat/completions"
SYSTEM = ("You are RankGPT, an intelligent assistant that can rank passages based on their "
          "relevancy to the query.")
PREFIX = re.compile(r"\AI will provide you with (\d+) passages, each indicated by number "
                    r"identifier \[\]\. \nRank the passages based on their relevance to "
                    r"query: (.*)\.\Z", re.S)
READY = "Okay, please provide the passages."
POST = ("Search Query: {query}. \nRank the {num} passages above based on their relevance to "
        "the search query. The passages should be listed in descending order using "
        "identifiers. The most relevant passages should be listed first. The output format "
        "should be [] > [], e.g., [1] > [2]. Only response the ranking results, do not say "
        "any word or explain.")
RELEVANCE = re.compile(r"\AGiven a passage and a question, predict whether the passage "
                       r"includes an answer to the question by producing either `Yes` or "
                       r"`No`\.\nPassage: (.*)\nQuery: (.*)\nDoes the passage answer the "
                       r"query\?\nAnswer:\Z", re.S)
FIELDS = {"model", "messages", "temperature", "max_tokens", "logprobs", "top_logprobs"}
TOKEN = re.compile(rb"[A-Za-z0-9]+")
NO_PROB = -9999.0


def tokens(text):
    return [t.lower() for t in TOKEN.findall(text.encode("utf-8"))]


def relevance(query, passage):
    q = set(tokens(query))
    return sum(1 for t in tokens(passage) if t in q)


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.tags = {}
        self.last = time.monotonic()

    def begin(self, tag):
        with self.lock:
            self.last = time.monotonic()
            t = self.tags.setdefault(tag, {"requests": 0, "inflight": 0, "max_inflight": 0,
                                           "sizes": [], "max_words": 0})
            t["requests"] += 1
            t["inflight"] += 1
            t["max_inflight"] = max(t["max_inflight"], t["inflight"])
            return t["requests"]

    def end(self, tag):
        with self.lock:
            self.tags[tag]["inflight"] -= 1
            self.last = time.monotonic()

    def passages(self, tag, passages):
        with self.lock:
            t = self.tags[tag]
            t["sizes"].append(len(passages))
            t["max_words"] = max([t["max_words"]] + [len(p.split()) for p in passages])

    def get(self, tag):
        with self.lock:
            t = self.tags.get(tag, {"requests": 0, "max_inflight": 0, "sizes": [],
                                    "max_words": 0})
            return {k: t[k] for k in ("requests", "max_inflight", "sizes", "max_words")}


class BadRequest(Exception):
    def __init__(self, status, message):
        super().__init__(message)
        self.status = status
        self.message = message


def error_body(status, message):
    kind = "invalid_request_error" if status < 500 else "server_error"
    return json.dumps({"error": {"message": message, "type": kind, "param": None,
                                 "code": None}}).encode()


def check_messages(body):
    """("listwise", query, passages) or ("pointwise", query, [passage])."""
    msgs = body.get("messages")
    if not isinstance(msgs, list) or not msgs:
        raise BadRequest(400, "messages must be a non-empty array")
    for i, m in enumerate(msgs):
        if not isinstance(m, dict) or set(m) != {"role", "content"}:
            raise BadRequest(400, "messages[%d] must have exactly role and content" % i)
        if m["role"] not in ("system", "user", "assistant"):
            raise BadRequest(400, "messages[%d].role %r is not a chat role" % (i, m["role"]))
        if not isinstance(m["content"], str):
            raise BadRequest(400, "messages[%d].content must be a string" % i)
    if "logprobs" in body:
        if body["logprobs"] is not True:
            raise BadRequest(400, "logprobs must be true")
        tl = body.get("top_logprobs")
        if not isinstance(tl, int) or isinstance(tl, bool) or not 0 <= tl <= 20:
            raise BadRequest(400, "top_logprobs must be an integer from 0 to 20")
        if body.get("max_tokens") != 1:
            raise BadRequest(400, "a yes/no question takes max_tokens 1")
        if len(msgs) != 1 or msgs[0]["role"] != "user":
            raise BadRequest(400, "the relevance question is one user message")
        m = RELEVANCE.match(msgs[0]["content"])
        if not m:
            raise BadRequest(400, "the user message is not RankGPT's relevance question")
        return "pointwise", m.group(2), [m.group(1)]
    if "top_logprobs" in body:
        raise BadRequest(400, "top_logprobs needs logprobs")  # as llama.cpp (§13)
    if len(msgs) < 6 or len(msgs) % 2:
        raise BadRequest(400, "RankGPT's prompt has 4 + 2 * num messages, not %d" % len(msgs))
    if msgs[0] != {"role": "system", "content": SYSTEM}:
        raise BadRequest(400, "messages[0] is not RankGPT's system message")
    m = PREFIX.match(msgs[1]["content"]) if msgs[1]["role"] == "user" else None
    if not m:
        raise BadRequest(400, "messages[1] is not RankGPT's opening user message")
    num, query = int(m.group(1)), m.group(2)
    if len(msgs) != 4 + 2 * num:
        raise BadRequest(400, "the prompt announces %d passages but has %d messages"
                         % (num, len(msgs)))
    if msgs[2] != {"role": "assistant", "content": READY}:
        raise BadRequest(400, "messages[2] is not RankGPT's assistant reply")
    passages = []
    for i in range(1, num + 1):
        u, a = msgs[1 + 2 * i], msgs[2 + 2 * i]
        head = "[%d] " % i
        if u["role"] != "user" or not u["content"].startswith(head):
            raise BadRequest(400, "messages[%d] must be user \"[%d] passage\"" % (1 + 2 * i, i))
        if a != {"role": "assistant", "content": "Received passage [%d]." % i}:
            raise BadRequest(400, "messages[%d] must be \"Received passage [%d].\""
                             % (2 + 2 * i, i))
        passages.append(u["content"][len(head):])
    if msgs[-1] != {"role": "user", "content": POST.format(query=query, num=num)}:
        raise BadRequest(400, "the last message is not RankGPT's instruction")
    return "listwise", query, passages


def listwise_text(query, passages, params, fault):
    ids = sorted(range(1, len(passages) + 1),
                 key=lambda i: (-relevance(query, passages[i - 1]), i))
    if params.get("order") == "reverse":
        ids.reverse()
    perm = " > ".join("[%d]" % i for i in ids)
    if fault == "repeat":
        ids = ids[:2] + ids[:1] + ids[1:]  # the best again, third
        return " > ".join("[%d]" % i for i in ids)
    if fault == "range":
        return "[%d] > %s" % (len(passages) + 5, perm)
    if fault == "missing":
        return " > ".join("[%d]" % i for i in ids[1:])
    if fault == "prose":
        return "The most relevant is passage %s." % ", then ".join(str(i) for i in ids)
    if fault == "empty":
        return ""
    if fault == "nonumbers":
        return "I am sorry, but I cannot rank these passages."
    if fault == "think":
        return "<think>Maybe [%d] > [1]?</think>\n%s" % (len(passages), perm)
    if fault == "fancy":
        return " > ".join("[%s]" % "".join(chr(0xFF10 + int(d)) for d in str(i)) for i in ids)
    return perm


def pointwise_choice(query, passage, params):
    r = relevance(query, passage)
    s = r / (r + 2)
    text = "Yes" if s >= 0.5 else "No"
    if params.get("answer") == "maybe":
        return {"index": 0, "message": {"role": "assistant", "content": "Maybe"},
                "logprobs": None, "finish_reason": "length"}

    def lp(p):
        return math.log(p) if p > 0 else NO_PROB

    top = [{"token": "Yes", "logprob": lp(0.5 * s)}, {"token": " yes", "logprob": lp(0.3 * s)},
           {"token": "No", "logprob": lp(0.6 * (1 - s))}, {"token": "Yesterday",
                                                          "logprob": math.log(0.1)},
           {"token": "no", "logprob": lp(0.3 * (1 - s))}, {"token": "YES", "logprob": lp(0.1 * s)}]
    for t in top:
        t["bytes"] = list(t["token"].encode())
    first = {"token": text, "logprob": next(t["logprob"] for t in top if t["token"] == text),
             "bytes": list(text.encode()), "top_logprobs": top}
    logprobs = None if params.get("logprobs") == "none" else {"content": [first]}
    return {"index": 0, "message": {"role": "assistant", "content": text},
            "logprobs": logprobs, "finish_reason": "length"}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fake-llm"

    def log_message(self, fmt, *args):
        if self.server.verbose:
            sys.stderr.write("fake-llm-server: " + (fmt % args) + "\n")

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
            self.send(405, error_body(405, "chat completions take POST"))

    def do_POST(self):
        url = urlsplit(self.path)
        params = {k: v[-1] for k, v in parse_qs(url.query).items()}
        tag = params.get("tag", "")
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        nth = self.server.stats.begin(tag)
        try:
            self.answer(url.path, params, tag, nth, raw)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a timeout test)
        finally:
            self.server.stats.end(tag)

    def check(self, params, raw):
        auth = self.headers.get("Authorization")
        selfhosted = params.get("selfhosted") == "1"
        if selfhosted and auth is not None:
            raise BadRequest(400, "credentials sent to a keyless self-hosted server")
        if not selfhosted and auth != "Bearer " + self.server.key:
            raise BadRequest(401, "Incorrect API key provided." if auth else
                             "You didn't provide an API key.")
        ctype = self.headers.get("Content-Type", "")
        if not ctype.startswith("application/json"):
            raise BadRequest(400, "Content-Type must be application/json, not %r" % ctype)
        try:
            body = json.loads(raw)
        except ValueError as exc:
            raise BadRequest(400, "body is not JSON: %s" % exc)
        if not isinstance(body, dict):
            raise BadRequest(400, "body must be a JSON object")
        unknown = set(body) - FIELDS
        if unknown:
            raise BadRequest(400, "unknown field(s): %s" % ", ".join(sorted(unknown)))
        if "model" in body or not selfhosted:
            if not isinstance(body.get("model"), str) or not body["model"]:
                raise BadRequest(400, "model must be a non-empty string")
        if body.get("temperature") != 0 or isinstance(body.get("temperature"), bool):
            raise BadRequest(400, "a reranker asks for temperature 0")
        return body

    def answer(self, path, params, tag, nth, raw):
        if path != PATH:
            self.send(404, error_body(404, "no such endpoint: " + path))
            return
        try:
            body = self.check(params, raw)
            mode, query, passages = check_messages(body)
        except BadRequest as exc:
            self.send(exc.status, error_body(exc.status, exc.message))
            return
        self.server.stats.passages(tag, passages)
        times = int(params.get("times", "1000000000"))
        fault = params.get("fault") if nth <= times else None

        if fault == "500":
            self.send(500, error_body(500, "The server had an error while processing your "
                                      "request."))
            return
        if fault == "429":
            ra = params.get("retry_after", "1")
            headers = [("Retry-After", ra)] if ra != "none" else []
            self.send(429, error_body(429, "Rate limit reached for requests"), headers)
            return
        if fault == "leak":
            self.send(401, error_body(401, "Incorrect API key provided: %s%s"
                                      % ("x" * int(params.get("pad", "0")),
                                         self.headers.get("Authorization", ""))))
            return
        if fault == "leakjson":
            key = self.headers.get("Authorization", "").split(" ")[-1]
            self.send(200, (key + " is not a valid key").encode())
            return
        if fault == "slow":
            time.sleep(float(params.get("delay", "5")))
        if fault == "notjson":
            self.send(200, b'{"id": "chatcmpl-fake", "choices": [{"index": 0, "mess')
            return

        if mode == "pointwise":
            choice = pointwise_choice(query, passages[0], params)
        else:
            text = listwise_text(query, passages, params, fault)
            choice = {"index": 0, "message": {"role": "assistant", "content": text},
                      "logprobs": None, "finish_reason": "stop"}
            if fault == "nullcontent":
                choice["message"]["content"] = None
        out = {"id": "chatcmpl-fake-%d" % nth, "object": "chat.completion", "created": 0,
               "model": body.get("model", "fake-served-model"), "choices": [choice],
               "usage": {"prompt_tokens": len(raw) // 4, "completion_tokens": 1,
                         "total_tokens": len(raw) // 4 + 1}}
        if fault == "nochoices":
            out["choices"] = []
        self.send(200, json.dumps(out).encode())


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--port", type=int, default=0, help="0: a free port")
    ap.add_argument("--port-file", help="also write the port here (atomically)")
    ap.add_argument("--key", default="fake-key", help="the API key to expect")
    ap.add_argument("--idle", type=float, default=30, help="stop after this many idle seconds")
    ap.add_argument("--verbose", action="store_true", help="log requests to stderr")
    args = ap.parse_args()

    stats = Stats()
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    server.key = args.key
    server.verbose = args.verbose
    server.stats = stats
    port = server.server_address[1]
    print(port, flush=True)
    if args.port_file:
        tmp = args.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % port)
        os.replace(tmp, args.port_file)

    parent = os.getppid()

    def watchdog():
        while True:
            time.sleep(0.2)
            with stats.lock:
                idle = time.monotonic() - stats.last
            if idle > args.idle or os.getppid() != parent:
                server.shutdown()
                return

    threading.Thread(target=watchdog, daemon=True).start()
    try:
        server.serve_forever(poll_interval=0.1)
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
