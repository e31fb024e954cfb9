"""Executes a notebook headlessly with Debian's nbclient and records every IOPub display message.

Usage: /usr/bin/python3 run_notebook.py <in.ipynb> <kernel name> <out.ipynb> <messages.json> [timeout_s]

The kernel runs in the notebook's folder. <messages.json> lists, per cell, the display
messages the kernel sent: msg_type (display_data / update_display_data / stream / error),
display_id and MIME types. Executed notebooks keep only the final state of updated displays,
so this is how the tests see that outputs were updated in place. Under its "late" key it lists,
per cell, the messages that came after the cell's status idle (Deno only; see LATE_GRACE_S).
"""
import json
import os
import queue
import sys
import time

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionComplete
from nbclient.util import ensure_async

# How long (s) to keep reading a cell's IOPub after its status idle, for Deno's kernel only.
# Deno 2.9's kernel (cli/js/jupyter_kernel.js at v2.9.5) publishes a cell's displays, console
# output and execute_result through a drainer task fed by the REPL thread (iopubDrainer,
# l.587-601; the value is handed over at l.815), but execute_reply and status idle straight from
# handleExecute (l.852): the cell's value can come a millisecond after its idle (1 run in 6
# here), and nbclient, which stops reading a cell at idle, would drop it without a word. Late
# messages keep the cell's parent header (the next cell is sent only after this wait), count as
# its outputs, and are listed under "late" so the test can say so. tslab keeps nbclient's strict
# behaviour.
LATE_GRACE_S = 0.25


class RecordingClient(NotebookClient):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.recorded = {}
        self.late = {}
        self.late_grace_s = 0.0

    def process_message(self, msg, cell, cell_index):
        kind = msg.get("msg_type") or msg["header"]["msg_type"]
        if kind in ("display_data", "update_display_data", "execute_result", "stream", "error"):
            content = msg.get("content", {})
            self.recorded.setdefault(str(cell_index), []).append({
                "msg_type": kind,
                "display_id": (content.get("transient") or {}).get("display_id"),
                "mimes": sorted((content.get("data") or {}).keys()),
                "text": content.get("text", "")[:2000] if kind == "stream" else None,
            })
        return super().process_message(msg, cell, cell_index)

    async def _async_poll_output_msg(self, parent_msg_id, cell, cell_index):
        """nbclient's loop up to the cell's status idle, then the grace period for late messages."""
        while True:
            msg = await ensure_async(self.kc.iopub_channel.get_msg(timeout=None))
            if msg["parent_header"].get("msg_id") != parent_msg_id:
                continue
            try:
                self.process_message(msg, cell, cell_index)
            except CellExecutionComplete:
                break
        idle_at = time.monotonic()
        while (left := self.late_grace_s - (time.monotonic() - idle_at)) > 0:
            try:
                msg = await ensure_async(self.kc.iopub_channel.get_msg(timeout=left))
            except queue.Empty:
                return
            if msg["parent_header"].get("msg_id") != parent_msg_id:
                continue
            self.late.setdefault(str(cell_index), []).append({
                "msg_type": msg["header"]["msg_type"],
                "after_idle_ms": round((time.monotonic() - idle_at) * 1000),
            })
            self.process_message(msg, cell, cell_index)


def main():
    src, kernel, out, messages = sys.argv[1:5]
    timeout = int(sys.argv[5]) if len(sys.argv) > 5 else 180
    nb = nbformat.read(src, as_version=4)
    client = RecordingClient(
        nb, kernel_name=kernel, timeout=timeout, allow_errors=False,
        # nbclient stops reading a cell's outputs 4 s (default) after the kernel's reply and
        # drops the rest with only a log line; large outputs (plotly.js, inline video) on a busy
        # machine take longer, so wait longer and fail loudly instead.
        iopub_timeout=60, raise_on_iopub_timeout=True,
        resources={"metadata": {"path": os.path.dirname(os.path.abspath(src))}},
    )
    if kernel == "deno":
        client.late_grace_s = LATE_GRACE_S
    try:
        client.execute()
    finally:
        nbformat.write(nb, out)
        with open(messages, "w") as f:
            json.dump({**client.recorded, "late": client.late}, f)


if __name__ == "__main__":
    main()
