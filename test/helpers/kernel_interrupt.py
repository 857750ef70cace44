"""Drive a real tslab kernel through jupyter_client and interrupt long cells.

Usage: python3 kernel_interrupt.py SPEC.json  (prints one JSON object on stdout)

SPEC: {"cwd": dir, "setup": [code...], "probe": code, "cases": [{"name", "code", "trigger",
"min_done", "delay"}]}. The kernel is started from the project-local kernelspec (JUPYTER_PATH
set by the caller), as scripts/jupyter.ts does. For each case: run `probe` (it prints one line
"PROBE {json}"), send the long cell, wait for its trigger ("progress": a progress-bar update showing
at least min_done units; "delay": `delay` seconds), interrupt the kernel the way Jupyter's stop
button does (KernelManager.interrupt_kernel: SIGINT for tslab), collect everything until the
kernel is idle, sample the kernel process's CPU time twice, and run `probe` again.
"""
import json
import os
import re
import sys
import time

from jupyter_client import KernelManager

TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # fields[0] is the state (field 3); utime and stime are fields 14 and 15.
    return (int(fields[11]) + int(fields[12])) / TICK


def text_of(content):
    data = content.get("data", {})
    return str(data.get("text/plain", ""))


def run_cell(kc, code, timeout=300, on_msg=None):
    """Executes code; returns (reply status, outputs, seconds). on_msg(msg) sees each iopub message."""
    msg_id = kc.execute(code)
    outputs = []
    deadline = time.time() + timeout
    while True:
        msg = kc.get_iopub_msg(timeout=max(1, deadline - time.time()))
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        kind = msg["msg_type"]
        content = msg["content"]
        if on_msg:
            on_msg(msg)
        if kind == "stream":
            outputs.append({"type": "stream", "name": content["name"], "text": content["text"]})
        elif kind in ("display_data", "update_display_data", "execute_result"):
            outputs.append({"type": kind, "text": text_of(content)})
        elif kind == "error":
            outputs.append({"type": "error", "text": content.get("ename", "") + ": " + content.get("evalue", "")})
        elif kind == "status" and content["execution_state"] == "idle":
            break
    while True:
        reply = kc.get_shell_msg(timeout=max(1, deadline - time.time()))
        if reply["parent_header"].get("msg_id") == msg_id:
            return reply["content"]["status"], outputs


def probe(kc, code):
    status, outputs = run_cell(kc, code)
    text = "".join(o.get("text", "") for o in outputs if o["type"] == "stream")
    m = re.search(r"PROBE (\{.*\})", text)
    if status != "ok" or not m:
        raise RuntimeError(f"probe failed ({status}): {text[:2000]}")
    return json.loads(m.group(1))


def interrupt_case(km, kc, case):
    """Sends the long cell, interrupts it at its trigger, and reports what happened."""
    state = {"sent_at": None, "done_at_interrupt": None, "last_done": 0, "updates": 0}
    started = time.time()

    def on_msg(msg):
        if msg["msg_type"] in ("display_data", "update_display_data"):
            m = re.search(r"(\d+)/(\d+)", text_of(msg["content"]))
            if m:
                state["updates"] += 1
                state["last_done"] = int(m.group(1))
        if state["sent_at"] is None:
            ready = (case["trigger"] == "progress" and state["last_done"] >= case.get("min_done", 2)) or (
                case["trigger"] == "delay" and time.time() - started >= case.get("delay", 2))
            if ready:
                state["done_at_interrupt"] = state["last_done"]
                state["sent_at"] = time.time()
                km.interrupt_kernel()

    # The trigger is checked on each message; a "delay" case with a silent cell needs a ticker.
    msg_id = kc.execute(case["code"])
    outputs = []
    deadline = time.time() + case.get("timeout", 300)
    idle_at = None
    while idle_at is None:
        try:
            msg = kc.get_iopub_msg(timeout=0.1)
        except Exception:  # queue.Empty
            msg = None
        if msg is None:
            on_msg({"msg_type": "tick", "content": {}})
            if time.time() > deadline:
                raise RuntimeError("the interrupted cell never finished: " + json.dumps({"state": state, "outputs": outputs})[-3000:])
            continue
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        on_msg(msg)
        kind, content = msg["msg_type"], msg["content"]
        if kind == "stream":
            outputs.append({"type": "stream", "name": content["name"], "text": content["text"]})
        elif kind in ("display_data", "update_display_data"):
            outputs.append({"type": kind, "text": text_of(content)})
        elif kind == "error":
            outputs.append({"type": "error", "text": content.get("ename", "") + ": " + content.get("evalue", "")})
        elif kind == "status" and content["execution_state"] == "idle":
            idle_at = time.time()
    status = None
    while status is None:
        reply = kc.get_shell_msg(timeout=30)
        if reply["parent_header"].get("msg_id") == msg_id:
            status = reply["content"]["status"]
    pid = km.provisioner.process.pid
    time.sleep(0.5)
    cpu0 = cpu_seconds(pid)
    time.sleep(2.0)
    cpu1 = cpu_seconds(pid)
    return {
        "status": status,
        "outputs": outputs,
        "interruptedAfterSeconds": None if state["sent_at"] is None else state["sent_at"] - started,
        "idleAfterInterruptSeconds": None if state["sent_at"] is None else idle_at - state["sent_at"],
        "doneAtInterrupt": state["done_at_interrupt"],
        "progressUpdates": state["updates"],
        "cpuSecondsOver2sAfterIdle": cpu1 - cpu0,
    }


def main():
    spec = json.load(open(sys.argv[1]))
    km = KernelManager(kernel_name="tslab")
    km.start_kernel(cwd=spec["cwd"])
    kc = km.client()
    kc.start_channels()
    result = {"setup": [], "cases": []}
    try:
        kc.wait_for_ready(timeout=120)
        for code in spec["setup"]:
            status, outputs = run_cell(kc, code)
            result["setup"].append({"status": status, "outputs": outputs})
            if status != "ok":
                raise RuntimeError(f"setup cell failed: {json.dumps(outputs)[:3000]}")
        result["probeFirst"] = probe(kc, spec["probe"])
        for case in spec["cases"]:
            before = probe(kc, spec["probe"])
            r = interrupt_case(km, kc, case)
            r["name"] = case["name"]
            r["before"] = before
            r["after"] = probe(kc, spec["probe"])
            result["cases"].append(r)
    except Exception as e:  # report what we have; the caller asserts
        result["failure"] = repr(e)
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
