# mitmdump addon for bench/gateway.bench.ts: the same work the bottle gateway does for a
# route host (set one credential header, only over TLS to the route's port, and drop a
# client's copy elsewhere). Upstreams must be `localhost` (resolved from
# /etc/hosts, like the gateway's --hosts-file): anything else is refused, so no DNS query
# can leave the machine. (Rewriting the address here instead would defeat mitmproxy's
# server-connection reuse and make it look slower than it is.)
import os

ALLOWED = ("localhost", "127.0.0.1")


class BenchRoute:
    def __init__(self):
        self.token = os.environ.get("BENCH_TOKEN", "")
        self.port = int(os.environ.get("BENCH_ROUTE_PORT", "443"))

    def server_connect(self, data):
        if data.server.address[0] not in ALLOWED:
            data.server.error = "bench: only localhost upstreams"

    def request(self, flow):
        if flow.request.scheme == "https" and flow.request.port == self.port:
            flow.request.headers["X-Bench-Token"] = self.token
        else:
            flow.request.headers.pop("X-Bench-Token", None)


addons = [BenchRoute()]
