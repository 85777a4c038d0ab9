#!/usr/bin/env python3
"""A real SMTP server for the alerter's tests (aiosmtpd: Debian's python3-aiosmtpd).

Usage: smtp_sink.py PORT MAILDIR

Each accepted message is written to MAILDIR as NNNN.json (envelope, subject, the text and HTML
parts decoded) beside the raw NNNN.eml, atomically (written aside, then renamed), so a test never
reads half a mail. A recipient whose address starts with "refuse" is refused with 550, the way a
server refuses a mail for good. Runs until killed.
"""

import email
import email.policy
import itertools
import json
import os
import sys
import time

from aiosmtpd.controller import Controller

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
        record = {
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


def main():
    port, folder = int(sys.argv[1]), sys.argv[2]
    os.makedirs(folder, exist_ok=True)
    controller = Controller(Maildir(folder), hostname="127.0.0.1", port=port)
    controller.start()
    print(f"smtp sink listening on 127.0.0.1:{port}", flush=True)
    try:
        while True:  # the server runs in the controller's thread; SIGTERM/SIGKILL end it
            time.sleep(3600)
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
