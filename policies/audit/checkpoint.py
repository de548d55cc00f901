"""Signed checkpoints: (tree size, root hash, time) signed by the log's key."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import datetime

from .record import canonical_json, format_time
from .signer import Signer, verify_signature

__all__ = ["CHECKPOINT_CONTEXT", "LOG_ORIGIN", "Checkpoint", "sign_checkpoint"]

LOG_ORIGIN = "bastion-audit/v1"
# Domain separation: a checkpoint signature can never be replayed as another kind of signature.
CHECKPOINT_CONTEXT = b"bastion-audit checkpoint\n"


@dataclass(frozen=True)
class Checkpoint:
    tree_size: int
    root_hash: bytes
    time: str
    key_id: str
    body: bytes  # canonical JSON that was signed (after CHECKPOINT_CONTEXT)
    signature: bytes

    def to_json(self) -> dict[str, str]:
        return {"body": self.body.decode(), "signature": base64.b64encode(self.signature).decode()}

    @classmethod
    def from_json(cls, obj: dict[str, str]) -> Checkpoint:
        return cls.from_signed(obj["body"].encode(), base64.b64decode(obj["signature"]))

    @classmethod
    def from_signed(cls, body: bytes, signature: bytes) -> Checkpoint:
        fields = json.loads(body)
        if fields.get("origin") != LOG_ORIGIN:
            raise ValueError(f"checkpoint origin is not {LOG_ORIGIN}")
        return cls(
            tree_size=int(fields["tree_size"]),
            root_hash=bytes.fromhex(fields["root_hash"]),
            time=str(fields["time"]),
            key_id=str(fields["key_id"]),
            body=body,
            signature=signature,
        )

    def verify(self, public_key_pem: bytes) -> bool:
        return verify_signature(public_key_pem, CHECKPOINT_CONTEXT + self.body, self.signature)


def sign_checkpoint(signer: Signer, tree_size: int, root_hash: bytes, at: datetime) -> Checkpoint:
    body = canonical_json(
        {
            "origin": LOG_ORIGIN,
            "tree_size": tree_size,
            "root_hash": root_hash.hex(),
            "time": format_time(at),
            "key_id": signer.key_id,
        }
    )
    return Checkpoint.from_signed(body, signer.sign(CHECKPOINT_CONTEXT + body))
