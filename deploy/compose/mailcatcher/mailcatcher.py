#!/usr/bin/env python3
"""A mail catcher for the compose rehearsal: accepts every message on SMTP (port 1025, no auth,
no TLS) and shows them on a web page (port 8025): `/` lists them, `/messages/N` shows one,
`/api/messages` returns them as JSON (what deploy/ci/containers.sh checks). Messages live in
memory (the last 500). Debian's python3-aiosmtpd and the standard library only."""

import asyncio
import email
import email.policy
import html
import json
import os
import threading
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from aiosmtpd.controller import Controller

MESSAGES = []
LOCK = threading.Lock()
KEEP = 500


class Catcher:
    async def handle_DATA(self, server, session, envelope):
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        body = msg.get_body(preferencelist=("plain", "html"))
        with LOCK:
            MESSAGES.append({
                "id": len(MESSAGES) + 1,
                "received": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                "from": envelope.mail_from,
                "to": list(envelope.rcpt_tos),
                "subject": str(msg.get("Subject", "")),
                "body": body.get_content() if body is not None else "",
            })
            del MESSAGES[:-KEEP]
        print(f"mailcatcher: message from {envelope.mail_from} to {', '.join(envelope.rcpt_tos)}: "
              f"{msg.get('Subject', '')}", flush=True)
        return "250 OK"


class Web(BaseHTTPRequestHandler):
    def send(self, status, kind, text):
        data = text.encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        with LOCK:
            messages = list(MESSAGES)
        if self.path == "/api/messages":
            return self.send(200, "application/json", json.dumps(messages))
        if self.path == "/healthz":
            return self.send(200, "text/plain", "ok\n")
        if self.path.startswith("/messages/"):
            found = [m for m in messages if str(m["id"]) == self.path.rsplit("/", 1)[1]]
            if not found:
                return self.send(404, "text/plain", "no such message\n")
            m = found[0]
            page = (f"<h1>{html.escape(m['subject'])}</h1><p>From {html.escape(m['from'])} to "
                    f"{html.escape(', '.join(m['to']))}, {m['received']}</p>"
                    f"<pre>{html.escape(m['body'])}</pre><p><a href='/'>all messages</a></p>")
            return self.send(200, "text/html; charset=utf-8", page)
        if self.path != "/":
            return self.send(404, "text/plain", "not found\n")
        rows = "".join(
            f"<tr><td>{m['received']}</td><td>{html.escape(', '.join(m['to']))}</td>"
            f"<td><a href='/messages/{m['id']}'>{html.escape(m['subject']) or '(no subject)'}</a></td></tr>"
            for m in reversed(messages))
        page = ("<!doctype html><meta charset='utf-8'><title>Mail catcher</title>"
                "<meta http-equiv='refresh' content='10'>"
                f"<h1>Mail catcher: {len(messages)} message(s)</h1>"
                "<table border=1 cellpadding=4><tr><th>Received</th><th>To</th><th>Subject</th></tr>"
                f"{rows}</table>")
        return self.send(200, "text/html; charset=utf-8", page)

    def log_message(self, *args):
        pass


def main():
    smtp_port = int(os.environ.get("SMTP_PORT", "1025"))
    web_port = int(os.environ.get("WEB_PORT", "8025"))
    controller = Controller(Catcher(), hostname="0.0.0.0", port=smtp_port)
    controller.start()
    web = ThreadingHTTPServer(("0.0.0.0", web_port), Web)
    threading.Thread(target=web.serve_forever, daemon=True).start()
    print(f"mailcatcher: SMTP on {smtp_port}, web UI on http://0.0.0.0:{web_port}/", flush=True)
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()
    import signal
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    loop.run_until_complete(stop.wait())
    controller.stop()
    web.shutdown()


if __name__ == "__main__":
    main()
