"""schemathesis hooks (SCHEMATHESIS_HOOKS=contract.hooks), for rules the schema
cannot state. map_case, unlike map_body, also sees the coverage phase's cases."""

import hashlib
import os
import re

import schemathesis

SHA256_HEX = re.compile(r"[0-9a-fA-F]{64}")

# tus's upload bytes (backups/tus.py) are raw bytes like any octet stream.
schemathesis.serializer.alias("application/offset+octet-stream", "application/octet-stream")


@schemathesis.hook
def map_case(context, case):
    operation_id = case.operation.definition.raw.get("operationId")
    if operation_id == "backup_upload":
        _with_matching_checksum(case.body)
    elif operation_id == "auth_verify":
        _with_a_live_token(case)
    return case


def _with_matching_checksum(body) -> None:
    """A backup's checksum must be the payload's SHA-256: uploads whose fields are otherwise
    well-formed get the right one, so generated uploads are stored rather than all refused."""
    well_formed = (
        isinstance(body, dict)
        and isinstance(body.get("encrypted_data"), str)
        and isinstance(body.get("checksum"), str)
        and SHA256_HEX.fullmatch(body["checksum"])
    )
    if well_formed:
        payload = body["encrypted_data"].encode("utf-8", "surrogatepass")
        body["checksum"] = hashlib.sha256(payload).hexdigest()


def _with_a_live_token(case) -> None:
    """The schema's example token is shaped like a real one but is not valid; where a case
    uses it, it becomes the fuzzing user's live token (CONTRACT_ACCESS_TOKEN), so that
    verify's 200 is exercised as well as its 401."""
    body = case.body
    content = case.operation.definition.raw["requestBody"]["content"]["application/json"]
    example_token = next(iter(content["examples"].values()))["value"]["token"]
    if isinstance(body, dict) and body.get("token") == example_token:
        body["token"] = os.environ["CONTRACT_ACCESS_TOKEN"]
