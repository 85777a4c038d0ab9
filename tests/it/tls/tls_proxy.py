#!/usr/bin/env python3
"""A TLS terminator in front of a plain TCP service: the local RabbitMQ has no TLS listener (and
the tests must not reconfigure it), so the amqps tests put this in front of it.

Usage: tls_proxy.py CERT KEY UPSTREAM_PORT

Listens with TLS (certificate CERT, private key KEY) on 127.0.0.1, on a port of its choosing,
prints "listening PORT" on stdout once it accepts connections, and forwards the decrypted bytes of
each connection to 127.0.0.1:UPSTREAM_PORT and back. On stderr, one line per connection:
"sni NAME" (the name the client asked for, "-" for none), then "tls connection" once the handshake
completed, or "handshake failed: REASON". Runs until killed.
"""

import asyncio
import ssl
import sys


def log(line):
    print(line, file=sys.stderr, flush=True)


async def pipe(reader, writer):
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, ssl.SSLError, OSError):
        pass
    finally:
        writer.close()


async def main():
    cert, key, upstream = sys.argv[1], sys.argv[2], int(sys.argv[3])
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    context.sni_callback = lambda _ssl_object, name, _context: log(f"sni {name or '-'}")

    async def serve(client_reader, client_writer):
        log("tls connection")
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection("127.0.0.1", upstream)
        except OSError as e:
            log(f"upstream unreachable: {e}")
            client_writer.close()
            return
        await asyncio.gather(pipe(client_reader, upstream_writer), pipe(upstream_reader, client_writer))

    loop = asyncio.get_running_loop()
    # A refused handshake (the client did not trust the certificate) ends up here.
    loop.set_exception_handler(
        lambda _loop, ctx: log(f"handshake failed: {ctx.get('exception') or ctx.get('message')}")
    )
    server = await asyncio.start_server(serve, "127.0.0.1", 0, ssl=context)
    print(f"listening {server.sockets[0].getsockname()[1]}", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
