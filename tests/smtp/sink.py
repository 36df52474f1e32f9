"""A local SMTP sink for the tests of mailed reports (aiosmtpd).

    python sink.py PORT OUT_DIR

Listens on 127.0.0.1:PORT without TLS or login, prints "ready" once it
accepts mail, and stores each message it receives as a folder
OUT_DIR/mail-N: every attachment under its file name, decoded, and
envelope.json with the sender, recipients, subject and text. A folder appears
whole (it is written under another name, then renamed). Stops on SIGTERM or
when its standard input closes.
"""

import asyncio
import email
import json
import pathlib
import sys
from email import policy

from aiosmtpd.controller import Controller


class Sink:
    def __init__(self, out):
        self.out = out
        self.count = 0

    async def handle_DATA(self, server, session, envelope):
        self.count += 1
        partial = self.out / f".mail-{self.count}"
        partial.mkdir()
        message = email.message_from_bytes(envelope.content, policy=policy.default)
        attachments = []
        for part in message.iter_attachments():
            name = part.get_filename()
            (partial / name).write_bytes(part.get_payload(decode=True))
            attachments.append({"name": name, "content_type": part.get_content_type()})
        body = message.get_body(preferencelist=("plain",))
        facts = {
            "from": envelope.mail_from,
            "to": envelope.rcpt_tos,
            "subject": str(message["subject"]),
            "message_id": str(message["message-id"]),
            "text": body.get_content() if body is not None else None,
            "attachments": attachments,
        }
        (partial / "envelope.json").write_text(json.dumps(facts, indent=1))
        partial.rename(self.out / f"mail-{self.count}")
        return "250 Message accepted"


async def main():
    port = int(sys.argv[1])
    out = pathlib.Path(sys.argv[2])
    out.mkdir(parents=True, exist_ok=True)
    controller = Controller(Sink(out), hostname="127.0.0.1", port=port)
    controller.start()
    print("ready", flush=True)
    loop = asyncio.get_running_loop()
    # Until stdin closes (the test dropped its end) or the process is killed.
    await loop.run_in_executor(None, sys.stdin.read)
    controller.stop()


if __name__ == "__main__":
    asyncio.run(main())
