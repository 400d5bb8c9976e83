"""The Spark connector as a service: the running connector's HTTP API, as a client sees it.

``spark_demo`` calls :func:`run` with its connector: the API is served on a
free loopback port with a token (as ``spark-connector --http 127.0.0.1:0
--token ...`` does), and each request below goes over real HTTP and prints
its answer: the status, a block created with a name, written and read by that
name, a ping without the token (refused), and the first live events.
"""

from __future__ import annotations

import json
import sys
import urllib.request
from typing import Any

from actors.spark.connector import SparkConnector
from actors.spark.http_client import ApiFailure, SparkClient
from actors.spark.service import Service, ServiceOptions

TOKEN = "demo-token"


def say(text: str = "") -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def show(client: SparkClient, method: str, path: str, body: Any = None) -> Any:
    """Send one request and print it with its answer (or its error)."""
    shown = f" {json.dumps(body)}" if body is not None else ""
    try:
        answer = client.request(method, path, body)
    except ApiFailure as failure:
        say(f"   {method} {path}{shown}\n      -> {failure.status} {json.dumps(failure.body)}")
        return None
    text = json.dumps(answer)
    say(f"   {method} {path}{shown}\n      -> {text[:150]}{'...' if len(text) > 150 else ''}")
    return answer


def events(url: str, count: int) -> None:
    """Print the first ``count`` server-sent events of ``/spark/events``."""
    with urllib.request.urlopen(url + "/spark/events", timeout=10) as stream:
        seen = 0
        kind = ""
        for line in stream:
            text = line.decode().strip()
            if text.startswith("event: "):
                kind = text[7:]
            elif text.startswith("data: "):
                say(f"      event {kind}: {text[6:][:110]}...")
                seen += 1
                if seen == count:
                    return


def run(connector: SparkConnector) -> None:
    """Serve ``connector``'s API for a moment and use it as a client would."""
    say()
    say("5. The service: the same connector over its HTTP API (spark-connector --http")
    say("   HOST:PORT --token ...; loopback only by default). The service is the one owner")
    say("   of the port; every client goes through the API:")
    service = Service.start(connector, ServiceOptions(http=("127.0.0.1", 0), token=TOKEN))
    assert service.http is not None
    url = service.http.url
    client = SparkClient(url, TOKEN)
    anonymous = SparkClient(url)
    try:
        say(f"   serving {url}")
        status = show(client, "GET", "/spark/status")
        if status is not None and status["controller"] is not None:
            say(
                f"      (phase {status['phase']}, firmware "
                f"{status['controller']['firmware_version']}, over {status['connection']['kind']})"
            )
        show(client, "POST", "/spark/ping")
        show(client, "POST", "/spark/blocks", {"type": 301, "data": "0a0b", "name": "fermenter"})
        show(client, "PUT", "/spark/blocks/fermenter", {"data": "0c0d"})
        show(client, "GET", "/spark/blocks/fermenter")
        show(client, "GET", "/spark/blocks/kettle")
        show(anonymous, "POST", "/spark/ping")
        say("   GET /spark/events (the present phase, then each broadcast):")
        events(url, 2)
    finally:
        client.close()
        anonymous.close()
        service.stop()
