#!/usr/bin/env python3
"""fake-hub-server.py — a stand-in for the Hugging Face hub, for tests.

Serves the files of --dir as every repository's files, the way the hub's
/resolve/ endpoint does:
  GET /ORG/NAME/resolve/REV/FILE
    small files: 200 with ETag and X-Repo-Commit;
    *.safetensors (LFS): 302 to /cdn/SHA256 with X-Linked-Etag,
      X-Linked-Size and X-Repo-Commit, like the real hub;
    missing files: 404 with {"error": ...}.
  GET /cdn/SHA256 — the content, honouring Range (206).
Faults for tests: --drop-once cuts the first /cdn transfer after half the
bytes; --token T answers 401 unless "Authorization: Bearer T" is sent;
--no-range ignores Range (answers 200 with the whole file); --deny
answers 403 to every /resolve/ request (a gated model the token
may not read).  --cdn-host H makes the LFS redirect point to http://H:PORT
(another host name for the same server, to check where credentials go).
Binds 127.0.0.1 on a free port, writes the port to --port-file, logs one
line per request to --log, and exits after --idle seconds without requests.
Python 3 standard library only."""
import argparse, hashlib, http.server, json, os, sys, threading, time

COMMIT = "0123456789abcdef0123456789abcdef01234567"

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", required=True)
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--drop-once", action="store_true")
    ap.add_argument("--token")
    ap.add_argument("--deny", action="store_true")
    ap.add_argument("--no-range", action="store_true")
    ap.add_argument("--cdn-host")
    ap.add_argument("--idle", type=float, default=30)
    args = ap.parse_args()
    state = {"dropped": False, "last": time.time()}
    log = open(args.log, "a", buffering=1)

    def blob(name):
        path = os.path.join(args.dir, name)
        if not os.path.isfile(path):
            return None
        data = open(path, "rb").read()
        return data, hashlib.sha256(data).hexdigest()

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a):
            pass

        def send(self, code, body=b"", headers=()):
            self.send_response(code)
            for k, v in headers:
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):
            state["last"] = time.time()
            log.write("%s %s range=%s auth=%s\n" % (self.command, self.path,
                      self.headers.get("Range"), "yes" if self.headers.get("Authorization") else "no"))
            parts = self.path.split("/")
            if args.token and self.headers.get("Authorization") != "Bearer " + args.token \
                    and not self.path.startswith("/cdn/"):
                return self.send(401, b'{"error":"Invalid credentials"}')
            if len(parts) >= 6 and parts[3] == "resolve":
                if args.deny:
                    return self.send(403, json.dumps({"error": "Access to model %s/%s is "
                                     "restricted." % (parts[1], parts[2])}).encode())
                name = "/".join(parts[5:])
                b = blob(name)
                if b is None:
                    return self.send(404, json.dumps({"error": "Entry not found"}).encode(),
                                     [("X-Repo-Commit", COMMIT)])
                data, sha = b
                if name.endswith(".safetensors"):
                    cdn = "http://%s:%d" % (args.cdn_host, srv.server_address[1]) \
                        if args.cdn_host else ""
                    return self.send(302, b"", [("Location", cdn + "/cdn/" + sha + "?f=" + name),
                                                ("X-Repo-Commit", COMMIT),
                                                ("X-Linked-Etag", '"%s"' % sha),
                                                ("X-Linked-Size", str(len(data)))])
                etag = hashlib.sha1(data).hexdigest()
                return self.send(200, data, [("ETag", '"%s"' % etag), ("X-Repo-Commit", COMMIT)])
            if parts[1] == "cdn":
                name = self.path.split("?f=")[1]
                data, sha = blob(name)
                start = 0
                rng = self.headers.get("Range")
                if rng and rng.startswith("bytes=") and not args.no_range:
                    start = int(rng[6:].split("-")[0])
                body = data[start:]
                self.send_response(206 if start else 200)
                self.send_header("Content-Length", str(len(body)))
                if start:
                    self.send_header("Content-Range", "bytes %d-%d/%d" % (start, len(data) - 1, len(data)))
                self.send_header("ETag", '"%s"' % sha)
                self.end_headers()
                if args.drop_once and not state["dropped"] and not start:
                    state["dropped"] = True
                    self.wfile.write(body[: len(body) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return
                self.wfile.write(body)
                return
            self.send(404, b'{"error":"no route"}')

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    with open(args.port_file + ".tmp", "w") as f:
        f.write(str(srv.server_address[1]))
    os.rename(args.port_file + ".tmp", args.port_file)

    def watchdog():
        while time.time() - state["last"] < args.idle:
            time.sleep(0.2)
        srv.shutdown()
    threading.Thread(target=watchdog, daemon=True).start()
    srv.serve_forever()

if __name__ == "__main__":
    main()
