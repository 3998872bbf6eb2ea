# A misbehaving OpenAI-compatible server for gen --server's fault tests.
# What a request gets depends on its prompt and on how often that prompt
# was asked before (in MODE "faulty"):
#   "rate ..."   first attempt 429 with Retry-After: 0, then an answer
#   "flaky ..."  first two attempts 500, then an answer
#   "down ..."   always 503 (rejected once the retries are spent)
#   "stall ..."  never answers in time (rejected as a timeout)
#   "bad ..."    200 with a body that is not a response
#   "drop ..."   first attempt: the connection closed without an answer
#   other        an answer: the prompt reversed
# In MODE "good" every request is answered.  Usage: fakeoai.py PORTFILE MODE
import json, sys, threading, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

seen = {}
lock = threading.Lock()
mode = sys.argv[2]

class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a):
        pass
    def send(self, code, body, extra=()):
        b = body.encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(b)))
        for k, v in extra:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(b)
    def do_POST(self):
        req = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        prompt = req["messages"][-1]["content"]
        with lock:
            n = seen.get(prompt, 0)
            seen[prompt] = n + 1
        kind = prompt.split()[0] if mode == "faulty" else ""
        if kind == "rate" and n == 0:
            return self.send(429, '{"error":{"message":"slow down"}}', [("Retry-After", "0")])
        if kind == "flaky" and n < 2:
            return self.send(500, '{"error":{"message":"internal hiccup"}}')
        if kind == "down":
            return self.send(503, '{"error":{"message":"overloaded"}}')
        if kind == "stall":
            time.sleep(6)
        if kind == "bad":
            return self.send(200, '{"choices": "none"}')
        if kind == "drop" and n == 0:
            self.close_connection = True
            self.connection.shutdown(2)
            return
        choices = [{"index": k, "message": {"role": "assistant", "content": prompt[::-1]},
                    "finish_reason": "stop"} for k in range(req.get("n", 1))]
        self.send(200, json.dumps({"model": "fake-1", "choices": choices,
                                   "usage": {"prompt_tokens": 5, "completion_tokens": 7}}))

s = ThreadingHTTPServer(("127.0.0.1", 0), H)
s.daemon_threads = True
with open(sys.argv[1] + ".tmp", "w") as f:
    f.write("http://127.0.0.1:%d/v1\n" % s.server_address[1])
import os
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
s.serve_forever()
