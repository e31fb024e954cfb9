"""Executes a notebook headlessly with Debian's nbclient and records every IOPub display message.

Usage: /usr/bin/python3 run_notebook.py <in.ipynb> <kernel name> <out.ipynb> <messages.json> [timeout_s]

The kernel runs in the notebook's folder. <messages.json> lists, per cell, the display
messages the kernel sent: msg_type (display_data / update_display_data / stream / error),
display_id and MIME types. Executed notebooks keep only the final state of updated displays,
so this is how the tests see that outputs were updated in place.
"""
import json
import os
import sys

import nbformat
from nbclient import NotebookClient


class RecordingClient(NotebookClient):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.recorded = {}

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
    try:
        client.execute()
    finally:
        nbformat.write(nb, out)
        with open(messages, "w") as f:
            json.dump(client.recorded, f)


if __name__ == "__main__":
    main()
