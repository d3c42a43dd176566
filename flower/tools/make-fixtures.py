"""Golden vectors of Flower's wire objects for medfl's unit tests (no Python at test time).

Run once with the pinned flwr (scripts/flower/venv.sh) and commit the output:

    .venv-flower/bin/python flower/tools/make-fixtures.py test/flower/fixtures/golden.json

Every entry is produced by flwr itself (numpy's `.npy` writer, the records'
`deflate`, `object_id`, `get_object_tree`), so the TypeScript codecs are
checked against the reference implementation, not against themselves.
Bytes are hex strings. A second pass runs in a subprocess with a tiny
FLWR_PRIVATE_MAX_ARRAY_CHUNK_SIZE (read by flwr at import) for the
chunked-array vectors.
"""

import io
import json
import os
import subprocess
import sys

import numpy as np

CHUNK_ENV = "FLWR_PRIVATE_MAX_ARRAY_CHUNK_SIZE"


def npy_bytes(a: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, a, allow_pickle=False)
    return buf.getvalue()


def tree_json(tree) -> dict:
    return {"id": tree.object_id, "children": [tree_json(c) for c in tree.children]}


def arrays() -> dict[str, np.ndarray]:
    """Small float32 arrays of every rank medfl's models use (values exact in float32)."""
    return {
        "conv/kernel": (np.arange(3 * 3 * 1 * 2, dtype=np.float32).reshape(3, 3, 1, 2) - 7.5) / 8,
        "conv/bias": np.array([0.25, -1.5], dtype=np.float32),
        "dense/kernel": np.array([[1.0, 2.0, 3.0], [-4.0, 0.5, 1e-3]], dtype=np.float32),
        "scalar": np.array(3.5, dtype=np.float32),
    }


def main_vectors() -> dict:
    from flwr.app import Array, ArrayRecord, ConfigRecord, Message, MetricRecord, RecordDict
    from flwr.app.error import Error
    from flwr.app.metadata import Metadata
    from flwr.app.message.message import make_message
    from flwr.supercore.inflatable.inflatable_object import get_object_tree

    out: dict = {"flwr": __import__("flwr").__version__, "numpy": np.__version__}

    out["npy"] = [
        {"name": k, "shape": list(v.shape), "values": v.reshape(-1).tolist(), "npy": npy_bytes(v).hex()}
        for k, v in arrays().items()
    ]

    # float64 payloads (Flower's FedAdam / FedYogi / FedAdagrad send them): nodes round them to float32
    f64 = np.array([[0.1, -2.5, 1e-3], [3.0e38, -7.25, 1.0 / 3.0]], dtype=np.float64)
    out["npy64"] = {"shape": list(f64.shape), "values": f64.reshape(-1).tolist(), "float32": f64.astype(np.float32).reshape(-1).tolist(), "npy": npy_bytes(f64).hex()}

    out["arrays"] = []
    for k, v in arrays().items():
        arr = Array(v)
        out["arrays"].append(
            {
                "name": k,
                "content": arr.deflate().hex(),
                "id": arr.object_id,
                "chunks": [{"id": cid, "content": ch.deflate().hex()} for cid, ch in arr.slice_array()],
            }
        )

    record = ArrayRecord({k: Array(v) for k, v in arrays().items()})
    out["arrayRecord"] = {"content": record.deflate().hex(), "id": record.object_id}

    metrics = MetricRecord({"num-examples": 12, "dice": 0.625, "loss": 0.1, "big": 2**63 + 5, "list": [1.5, 2.5]})
    out["metricRecord"] = {"content": metrics.deflate().hex(), "id": metrics.object_id}

    config = ConfigRecord(
        {"server-round": 2, "lr": 0.001, "name": "site-0", "flag": True, "neg": -3, "blob": b"\x00\x01", "many": [1, 2, 3]}
    )
    out["configRecord"] = {"content": config.deflate().hex(), "id": config.object_id}

    content = RecordDict({"arrays": record, "metrics": metrics})
    out["recordDict"] = {"content": content.deflate().hex(), "id": content.object_id}

    # A train instruction as a ServerApp sends it (fixed metadata), and a reply to it.
    ins_content = RecordDict({"arrays": record, "config": config})
    ins = make_message(
        metadata=Metadata(
            run_id=42,
            message_id="",
            src_node_id=1,
            dst_node_id=7,
            reply_to_message_id="",
            group_id="2",
            created_at=1767225600.25,
            ttl=43200.0,
            message_type="train",
            src_task_id=9,
            dst_task_id=None,
        ),
        content=ins_content,
    )
    ins.metadata.__dict__["_message_id"] = ins.object_id
    out["instruction"] = {
        "content": ins.deflate().hex(),
        "id": ins.object_id,
        "tree": tree_json(get_object_tree(ins)),
        "recordDictId": ins_content.object_id,
    }

    reply_meta = Metadata(
        run_id=42,
        message_id="",
        src_node_id=7,
        dst_node_id=1,
        reply_to_message_id=ins.object_id,
        group_id="2",
        created_at=1767225700.5,
        ttl=43100.0,
        message_type="train",
        src_task_id=None,
        dst_task_id=9,
    )
    reply = make_message(metadata=reply_meta, content=content)
    out["reply"] = {
        "content": reply.deflate().hex(),
        "id": reply.object_id,
        "tree": tree_json(get_object_tree(reply)),
    }
    err_meta = Metadata(**{k.lstrip("_"): v for k, v in reply_meta.__dict__.items() if k != "_delivered_at"})
    error_reply = make_message(metadata=err_meta, error=Error(code=2, reason="bad shape for 'conv/kernel'"))
    out["errorReply"] = {"content": error_reply.deflate().hex(), "id": error_reply.object_id}
    return out


def chunked_vectors() -> dict:
    """Run under a tiny chunk size: arrays split into several ArrayChunks (zeros repeat)."""
    from flwr.app import Array

    v = np.zeros(40, dtype=np.float32)
    v[:8] = np.arange(8, dtype=np.float32) + 1
    arr = Array(v)
    return {
        "chunkSize": int(os.environ[CHUNK_ENV]),
        "values": v.tolist(),
        "npy": npy_bytes(v).hex(),
        "content": arr.deflate().hex(),
        "id": arr.object_id,
        "chunks": [{"id": cid, "content": ch.deflate().hex()} for cid, ch in arr.slice_array()],
    }


if __name__ == "__main__":
    if len(sys.argv) == 2 and sys.argv[1] == "--chunked":
        print(json.dumps(chunked_vectors()))
        sys.exit(0)
    if len(sys.argv) != 2:
        sys.exit("usage: make-fixtures.py OUT.json")
    data = main_vectors()
    env = {**os.environ, CHUNK_ENV: "48"}
    data["chunked"] = json.loads(subprocess.check_output([sys.executable, __file__, "--chunked"], env=env))
    with open(sys.argv[1], "w", encoding="utf-8") as f:
        json.dump(data, f, indent=1)
        f.write("\n")
    print(f"wrote {sys.argv[1]} (flwr {data['flwr']}, numpy {data['numpy']})")
