"""The Buncher at work: bursts of messages become batches, on Flush or after an idle second."""

from __future__ import annotations

import queue
from typing import Any

import pykka

from actorfsm.logging import configure
from actors.buncher import Batch, Buncher, Flush, Queue, SetTarget


class Printer(pykka.ThreadingActor):
    """Receives the batches and hands them to the main thread to print."""

    def __init__(self, out: queue.Queue[Any]) -> None:
        super().__init__()
        self.out = out

    def on_receive(self, message: Any) -> None:
        self.out.put(message)


def main() -> None:
    configure(format="console")
    print("Buncher demo: Queue(...) messages are batched until Flush or 0.3 s of quiet.")
    batches: queue.Queue[Batch] = queue.Queue()
    printer = Printer.start(batches)
    buncher = Buncher.start(idle_timeout=0.3)
    buncher.tell(SetTarget(printer))
    try:
        print("  -> Queue(42), Queue(43), then silence")
        buncher.tell(Queue(42))
        buncher.tell(Queue(43))
        print(f"  <- {batches.get(timeout=5)}   (sent by the state timeout)")
        print("  -> Queue(44), Flush, Queue(45), then silence")
        buncher.tell(Queue(44))
        buncher.tell(Flush())
        buncher.tell(Queue(45))
        print(f"  <- {batches.get(timeout=5)}   (sent by Flush)")
        print(f"  <- {batches.get(timeout=5)}   (sent by the state timeout)")
    finally:
        buncher.stop()
        printer.stop()
    print("Buncher demo done.")


if __name__ == "__main__":
    main()
