#!/usr/bin/env python3
"""A minimal OTLP trace viewer for the compose rehearsal, standing in for Jaeger (which cannot be
built from Debian's packages or PyPI): receives OTLP/HTTP on port 4318 (`POST /v1/traces`,
protobuf as the bridge sends it, or JSON), keeps the last 2000 spans in memory, and shows them on
a web page on port 16686: `/` lists the traces (root span, services, span count, duration),
`/traces/ID` shows one trace's spans as an indented tree, `/api/spans` returns every span as
JSON. Standard library only: the protobuf wire format is decoded by hand (just the fields shown)."""

import html
import json
import os
import signal
import struct
import threading
from collections import OrderedDict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SPANS = OrderedDict()  # (trace_id, span_id) -> span
LOCK = threading.Lock()
KEEP = 2000


def fields(buf):
    """Yields (field number, wire type, value) of one protobuf message."""
    i, n = 0, len(buf)
    while i < n:
        key, i = varint(buf, i)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, i = varint(buf, i)
        elif wire == 1:
            value, i = struct.unpack_from("<Q", buf, i)[0], i + 8
        elif wire == 2:
            size, i = varint(buf, i)
            value, i = buf[i:i + size], i + size
        elif wire == 5:
            value, i = struct.unpack_from("<I", buf, i)[0], i + 4
        else:
            raise ValueError(f"unsupported wire type {wire}")
        yield number, wire, value


def varint(buf, i):
    shift = result = 0
    while True:
        b = buf[i]
        i += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, i
        shift += 7


def any_value(buf):
    for number, _, value in fields(buf):
        if number == 1:
            return value.decode("utf-8", "replace")
        if number in (2, 3):
            return value
        if number == 4:
            return struct.unpack("<d", struct.pack("<Q", value))[0]
    return None


def attributes(buf_list):
    out = {}
    for kv in buf_list:
        key, value = None, None
        for number, _, v in fields(kv):
            if number == 1:
                key = v.decode("utf-8", "replace")
            elif number == 2:
                value = any_value(v)
        if key is not None:
            out[key] = value
    return out


def decode_protobuf(body):
    spans = []
    for number, _, resource_spans in fields(body):
        if number != 1:
            continue
        service, scope_spans = "?", []
        for n, _, v in fields(resource_spans):
            if n == 1:
                attrs = attributes([a for k, _, a in fields(v) if k == 1])
                service = attrs.get("service.name", "?")
            elif n == 2:
                scope_spans.append(v)
        for scope in scope_spans:
            for n, _, span in fields(scope):
                if n != 2:
                    continue
                s = {"service": service, "attributes": {}, "parent_span_id": ""}
                attrs = []
                for k, _, v in fields(span):
                    if k == 1:
                        s["trace_id"] = v.hex()
                    elif k == 2:
                        s["span_id"] = v.hex()
                    elif k == 4:
                        s["parent_span_id"] = v.hex()
                    elif k == 5:
                        s["name"] = v.decode("utf-8", "replace")
                    elif k == 7:
                        s["start_ns"] = v
                    elif k == 8:
                        s["end_ns"] = v
                    elif k == 9:
                        attrs.append(v)
                s["attributes"] = attributes(attrs)
                spans.append(s)
    return spans


def decode_json(body):
    spans = []
    for rs in json.loads(body).get("resourceSpans", []):
        service = "?"
        for a in rs.get("resource", {}).get("attributes", []):
            if a.get("key") == "service.name":
                service = a.get("value", {}).get("stringValue", "?")
        for ss in rs.get("scopeSpans", []):
            for sp in ss.get("spans", []):
                spans.append({
                    "service": service, "trace_id": sp.get("traceId", ""), "span_id": sp.get("spanId", ""),
                    "parent_span_id": sp.get("parentSpanId", ""), "name": sp.get("name", ""),
                    "start_ns": int(sp.get("startTimeUnixNano", 0)), "end_ns": int(sp.get("endTimeUnixNano", 0)),
                    "attributes": {a["key"]: next(iter(a.get("value", {}).values()), None)
                                   for a in sp.get("attributes", [])},
                })
    return spans


def traces():
    with LOCK:
        spans = list(SPANS.values())
    by_trace = OrderedDict()
    for s in spans:
        by_trace.setdefault(s.get("trace_id", ""), []).append(s)
    return by_trace


class Receiver(BaseHTTPRequestHandler):
    def reply(self, status, kind, data):
        if isinstance(data, str):
            data = data.encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0") or 0))
        if self.path != "/v1/traces":
            return self.reply(404, "text/plain", "only /v1/traces\n")
        try:
            if "json" in self.headers.get("Content-Type", ""):
                spans, kind, answer = decode_json(body), "application/json", b"{}"
            else:
                spans, kind, answer = decode_protobuf(body), "application/x-protobuf", b""
        except Exception as e:  # a malformed request: say so, keep serving
            return self.reply(400, "text/plain", f"cannot decode: {e}\n")
        with LOCK:
            for s in spans:
                SPANS[(s.get("trace_id"), s.get("span_id"))] = s
            while len(SPANS) > KEEP:
                SPANS.popitem(last=False)
        return self.reply(200, kind, answer)

    def do_GET(self):
        if self.path == "/healthz":
            return self.reply(200, "text/plain", "ok\n")
        if self.path == "/api/spans":
            with LOCK:
                return self.reply(200, "application/json", json.dumps(list(SPANS.values())))
        if self.path.startswith("/traces/"):
            spans = traces().get(self.path.rsplit("/", 1)[1])
            if not spans:
                return self.reply(404, "text/plain", "no such trace\n")
            start = min(s.get("start_ns", 0) for s in spans)
            children = {}
            for s in spans:
                children.setdefault(s.get("parent_span_id", ""), []).append(s)
            ids = {s.get("span_id") for s in spans}
            lines = []

            def walk(span, depth):
                ms = (span.get("end_ns", 0) - span.get("start_ns", 0)) / 1e6
                offset = (span.get("start_ns", 0) - start) / 1e6
                attrs = ", ".join(f"{k}={v}" for k, v in span["attributes"].items())
                lines.append(f"{'  ' * depth}{span['service']}: {span.get('name', '?')}  "
                             f"+{offset:.1f} ms, {ms:.1f} ms  {attrs}")
                for c in sorted(children.get(span.get("span_id"), []), key=lambda x: x.get("start_ns", 0)):
                    walk(c, depth + 1)

            for root in sorted((s for s in spans if s.get("parent_span_id", "") not in ids),
                               key=lambda x: x.get("start_ns", 0)):
                walk(root, 0)
            page = (f"<!doctype html><meta charset='utf-8'><title>trace</title><h1>Trace {html.escape(self.path)}</h1>"
                    f"<pre>{html.escape(chr(10).join(lines))}</pre><p><a href='/'>all traces</a></p>")
            return self.reply(200, "text/html; charset=utf-8", page)
        if self.path != "/":
            return self.reply(404, "text/plain", "not found\n")
        rows = []
        for trace_id, spans in reversed(traces().items()):
            ids = {s.get("span_id") for s in spans}
            roots = [s for s in spans if s.get("parent_span_id", "") not in ids] or spans
            root = min(roots, key=lambda s: s.get("start_ns", 0))
            ms = (max(s.get("end_ns", 0) for s in spans) - min(s.get("start_ns", 0) for s in spans)) / 1e6
            services = ", ".join(sorted({s["service"] for s in spans}))
            rows.append(f"<tr><td><a href='/traces/{trace_id}'>{html.escape(root.get('name', '?'))}</a></td>"
                        f"<td>{html.escape(services)}</td><td>{len(spans)}</td><td>{ms:.1f} ms</td></tr>")
        page = ("<!doctype html><meta charset='utf-8'><title>Traces</title><meta http-equiv='refresh' content='10'>"
                f"<h1>Traces ({len(rows)})</h1><table border=1 cellpadding=4>"
                "<tr><th>Root span</th><th>Services</th><th>Spans</th><th>Duration</th></tr>"
                f"{''.join(rows)}</table>")
        return self.reply(200, "text/html; charset=utf-8", page)

    def log_message(self, *args):
        pass


def main():
    otlp = ThreadingHTTPServer(("0.0.0.0", int(os.environ.get("OTLP_PORT", "4318"))), Receiver)
    web = ThreadingHTTPServer(("0.0.0.0", int(os.environ.get("WEB_PORT", "16686"))), Receiver)
    for server in (otlp, web):
        threading.Thread(target=server.serve_forever, daemon=True).start()
    print(f"traceviewer: OTLP/HTTP on {otlp.server_address[1]}, web UI on {web.server_address[1]}", flush=True)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()


if __name__ == "__main__":
    main()
