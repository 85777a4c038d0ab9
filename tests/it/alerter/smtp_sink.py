#!/usr/bin/env python3
"""A real SMTP server for the alerter's tests (aiosmtpd: Debian's python3-aiosmtpd).

Usage: smtp_sink.py PORT MAILDIR [--starttls CERT KEY | --tls CERT KEY] [--auth USER PASSWORD]

Each accepted message is written to MAILDIR as NNNN.json (envelope, subject, the text and HTML
parts decoded, the TLS version it came over or null, the login it was sent with or null) beside the
raw NNNN.eml, atomically (written aside, then renamed), so a test never reads half a mail. A
recipient whose address starts with "refuse" is refused with 550, the way a server refuses a mail
for good. Runs until killed.

--starttls: STARTTLS with that certificate and key, required before any mail (530 otherwise).
--tls: implicit TLS (the whole connection, as on port 465).
--auth: AUTH required before any mail, with this user and password only; offered only on an
encrypted connection (after STARTTLS, or from the start with --tls).
"""

import argparse
import email
import email.policy
import itertools
import json
import os
import sys
import ssl
import time

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

counter = itertools.count(1)


class Maildir:
    def __init__(self, folder):
        self.folder = folder

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.lower().startswith("refuse"):
            return "550 5.1.1 mailbox refused by the test sink"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        n = next(counter)
        raw = envelope.original_content or envelope.content
        message = email.message_from_bytes(raw, policy=email.policy.default)
        text = message.get_body(("plain",))
        html = message.get_body(("html",))
        tls = server.transport.get_extra_info("ssl_object")
        login = getattr(session.auth_data, "login", None)
        record = {
            "tls": tls.version() if tls is not None else None,
            "login": login.decode() if isinstance(login, bytes) else login,
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "subject": str(message["subject"]),
            "content_type": message.get_content_type(),
            "text": text.get_content() if text is not None else None,
            "html": html.get_content() if html is not None else None,
        }
        for name, content in ((f"{n:04}.eml", raw), (f"{n:04}.json", json.dumps(record).encode())):
            tmp = os.path.join(self.folder, "." + name + ".tmp")
            with open(tmp, "wb") as f:
                f.write(content)
            os.rename(tmp, os.path.join(self.folder, name))
        return "250 Message accepted for delivery"


def authenticator(user, password):
    def check(server, session, envelope, mechanism, auth_data):
        ok = auth_data.login == user.encode() and auth_data.password == password.encode()
        # handled=False: aiosmtpd then answers a failure with 535 itself (True would mean "already
        # answered" and leave the client waiting).
        return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)

    return check


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("port", type=int)
    parser.add_argument("folder")
    tls = parser.add_mutually_exclusive_group()
    tls.add_argument("--starttls", nargs=2, metavar=("CERT", "KEY"))
    tls.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"))
    parser.add_argument("--auth", nargs=2, metavar=("USER", "PASSWORD"))
    args = parser.parse_args()
    os.makedirs(args.folder, exist_ok=True)
    options = {}
    if args.starttls or args.tls:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(*(args.starttls or args.tls))
        if args.starttls:
            options.update(tls_context=context, require_starttls=True)
        else:
            options.update(ssl_context=context)
    if args.auth:
        options.update(authenticator=authenticator(*args.auth), auth_required=True)
        # aiosmtpd counts only STARTTLS as encrypted: over implicit TLS it would never offer AUTH.
        options.update(auth_require_tls=not args.tls)
    port, folder = args.port, args.folder
    controller = Controller(Maildir(folder), hostname="127.0.0.1", port=port, **options)
    controller.start()
    print(f"smtp sink listening on 127.0.0.1:{port}", flush=True)
    try:
        while True:  # the server runs in the controller's thread; SIGTERM/SIGKILL end it
            time.sleep(3600)
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
