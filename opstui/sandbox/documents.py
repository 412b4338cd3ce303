"""SSM documents for the sandbox: AWS-owned documents with their real parameter schemas.

moto has ListDocuments / DescribeDocument / GetDocument, but only for documents created in the
account: AWS-RunShellScript and friends do not exist, so nothing can be sent and no parameter form
can be drawn. This module serves the AWS-owned documents next to moto's own store (technique B:
``list_documents``, ``describe_document`` and ``get_document`` assigned onto moto's
``SimpleSystemManagerResponse``).

The documents live in ``data/documents``: ``catalog.json`` holds their metadata (type, platforms,
creation date), ``<Name>.json`` their content, which GetDocument returns as-is and whose SHA-256 is the
``Hash``. Parameter schemas and descriptions are AWS's published ones; the few long script bodies that
only make sense on a real machine (AWS-RunPatchBaseline's patch payload, ManageAgent's control script)
are shorter stand-ins with the same parameters, so their hashes differ from AWS's.

Behaviour chosen to match AWS:

* ListDocuments merges the AWS-owned documents (Owner ``Amazon``) with the ones created through moto's
  CreateDocument (Owner = the account id). ``Filters``: ``Owner`` (one of Amazon, Self, Private, Public,
  ThirdParty, All; only one value), ``Name`` (prefix, as AWS documents it), ``DocumentType``,
  ``PlatformTypes``, ``TargetType``, ``SearchKeyword`` (case-insensitive part of the name) and
  ``tag:KEY``; other keys are ``InvalidFilterKey``. The deprecated ``DocumentFilterList`` (``key`` /
  ``value``: Name, Owner, PlatformTypes, DocumentType) still works. Values of one key are OR-ed, keys are
  AND-ed. Sorted by name, ``MaxResults`` 1-50 (default 50) with an opaque ``NextToken``.
* DescribeDocument / GetDocument accept a name or a document ARN, ``DocumentVersion`` ``$DEFAULT``,
  ``$LATEST`` or a number, and GetDocument ``DocumentFormat`` JSON (default) or YAML. An unknown name is
  HTTP 400 ``InvalidDocument`` "Document with name X does not exist."; an unknown version of an
  AWS-owned document is ``InvalidDocumentVersion``. Customer documents are answered by moto, with two
  repairs: PlatformTypes derived from the plugins the content uses (moto says "Not Implemented (moto)")
  and a CreatedDate on GetDocument.

For the Run Command executor (:mod:`opstui.sandbox.run_command`): :func:`find_document`,
:func:`document_platforms`, :func:`document_parameters` and :func:`document_info`.
"""

from __future__ import annotations

import base64
import copy
import datetime as dt
import functools
import hashlib
import json
from dataclasses import dataclass
from importlib import resources
from typing import Any

import yaml
from moto.core.exceptions import JsonRESTError
from moto.core.responses import ActionResult
from moto.ssm.models import ssm_backends
from moto.ssm.responses import SimpleSystemManagerResponse

from .extension import Extension, attach

AMAZON = "Amazon"
ALL_PLATFORMS = ("Windows", "Linux", "MacOS")
# Which platforms each plugin runs on (the Systems Manager plugin reference); what AWS's PlatformTypes
# is computed from. An unknown plugin counts as running everywhere, as aws:runDocument does.
_PLUGIN_PLATFORMS: dict[str, tuple[str, ...]] = {
    "aws:runShellScript": ("Linux", "MacOS"),
    "aws:runPowerShellScript": ALL_PLATFORMS,
    "aws:applications": ("Windows",),
    "aws:cloudWatch": ("Windows",),
    "aws:configureContainers": ("Windows",),
    "aws:configureDocker": ("Windows",),
    "aws:domainJoin": ("Windows",),
    "aws:psModule": ("Windows",),
    "aws:updateAgent": ("Windows",),
    "aws:runDockerAction": ("Windows", "Linux"),
}
_OWNER_VALUES = ("Amazon", "Self", "Private", "Public", "ThirdParty", "All")
_FILTER_KEYS = frozenset({"Owner", "Name", "DocumentType", "PlatformTypes", "SearchKeyword", "TargetType"})
_LEGACY_KEYS = frozenset({"Name", "Owner", "PlatformTypes", "DocumentType"})
_DEFAULT_MAX_RESULTS = 50


# --------------------------------------------------------------------------------------------
# the AWS-owned catalogue


@dataclass(frozen=True)
class AwsDocument:
    """One AWS-owned document: content exactly as GetDocument returns it, plus catalogue metadata."""

    name: str
    content: str
    parsed: dict[str, Any]
    document_type: str
    platform_types: tuple[str, ...]
    created_date: dt.datetime
    version: str = "1"
    owner: str = AMAZON  # or "self": owned by whichever account asks
    target_type: str | None = None

    @property
    def hash(self) -> str:
        return hashlib.sha256(self.content.encode("utf-8")).hexdigest()

    def owner_for(self, account_id: str) -> str:
        return account_id if self.owner == "self" else self.owner


@functools.cache
def catalog() -> dict[str, AwsDocument]:
    """The AWS-owned documents by name, read once from the package data."""
    folder = resources.files(__package__).joinpath("data", "documents")
    meta = json.loads(folder.joinpath("catalog.json").read_text(encoding="utf-8"))["documents"]
    out: dict[str, AwsDocument] = {}
    for name, info in meta.items():
        content = folder.joinpath(f"{name}.json").read_text(encoding="utf-8").strip()
        out[name] = AwsDocument(
            name=name,
            content=content,
            parsed=json.loads(content),
            document_type=info["documentType"],
            platform_types=tuple(info["platformTypes"]),
            created_date=dt.datetime.fromisoformat(info["createdDate"].replace("Z", "+00:00")),
            version=info.get("documentVersion", "1"),
            owner=info.get("owner", AMAZON),
            target_type=info.get("targetType"),
        )
    return out


# --------------------------------------------------------------------------------------------
# lookups shared by the API handlers and the Run Command executor


@dataclass(frozen=True)
class DocumentInfo:
    """What the executor needs to know about a resolved document (AWS-owned or customer)."""

    name: str
    owner: str
    document_type: str
    document_version: str
    schema_version: str
    platform_types: tuple[str, ...]
    content: dict[str, Any]  # parsed; callers get their own copy from find_document()
    aws_owned: bool


def split_name(account_id: str, name: str) -> tuple[str, str]:
    """``(account, name)`` for a plain name or a document ARN (``arn:aws:ssm:REGION:ACCOUNT:document/NAME``).

    An AWS-owned document's ARN has an empty account field; a shared document's ARN names its owner.
    """
    if name.startswith("arn:") and ":document/" in name:
        head, _, doc = name.partition(":document/")
        parts = head.split(":")
        owner = parts[4] if len(parts) > 4 and parts[4] else account_id
        return owner, doc
    return account_id, name


def derive_platforms(content: dict[str, Any]) -> tuple[str, ...]:
    """PlatformTypes of a document from its plugins, as AWS computes it for customer documents.

    1.2 documents: the union over the ``runtimeConfig`` plugins. 2.x documents: the union over the
    steps, a step with a ``platformType`` precondition counting for that platform only.
    """
    found: set[str] = set()
    steps = content.get("mainSteps")
    if isinstance(steps, list):
        for step in steps:
            if not isinstance(step, dict):
                continue
            plugin = _PLUGIN_PLATFORMS.get(str(step.get("action")), ALL_PLATFORMS)
            cond = step.get("precondition")
            pinned = None
            if isinstance(cond, dict):
                pair = cond.get("StringEquals")
                if isinstance(pair, list) and len(pair) == 2 and pair[0] == "platformType":
                    pinned = str(pair[1])
            if pinned is None:
                found.update(plugin)
            elif pinned in plugin:
                found.add(pinned)
    runtime = content.get("runtimeConfig")
    if isinstance(runtime, dict):
        for plugin_name in runtime:
            found.update(_PLUGIN_PLATFORMS.get(str(plugin_name), ALL_PLATFORMS))
    if not isinstance(steps, list) and not isinstance(runtime, dict):
        found.update(ALL_PLATFORMS)  # Session / Automation / policy-like documents
    return tuple(p for p in ALL_PLATFORMS if p in found)


def _moto_documents(account_id: str, region: str, name: str) -> Any | None:
    try:
        backend = ssm_backends[account_id][region]
    except (KeyError, ValueError):
        return None
    return backend._documents.get(name)


def _moto_version(docs: Any, version: str | None, version_name: str | None = None) -> Any | None:
    if version == "$DEFAULT":
        version = None
    return docs.find(version, version_name, strict=False)


def _aws_version_ok(doc: AwsDocument, version: str | None) -> bool:
    return version in (None, "", "$DEFAULT", "$LATEST", doc.version)


def document_info(account_id: str, region: str, name: str, version: str | None = None) -> DocumentInfo | None:
    """Resolve a document name or ARN (+ optional version) to its description, or None.

    Lookup order: AWS-owned documents, then the account's documents in moto (CreateDocument), then the
    catalogue's account-owned defaults (SSM-SessionManagerRunShell), which a created one replaces.
    """
    owner_account, plain = split_name(account_id, name)
    aws = catalog().get(plain)
    if aws is not None and aws.owner == AMAZON:
        if not _aws_version_ok(aws, version):
            return None
        return _aws_info(aws, account_id)
    docs = _moto_documents(owner_account, region, plain)
    if docs is not None:
        doc = _moto_version(docs, version)
        if doc is None:
            return None
        content = doc.content_json if isinstance(doc.content_json, dict) else {}
        return DocumentInfo(
            name=doc.name,
            owner=doc.owner,
            document_type=doc.document_type,
            document_version=doc.document_version,
            schema_version=str(doc.schema_version),
            platform_types=derive_platforms(content),
            content=content,
            aws_owned=False,
        )
    if aws is not None and _aws_version_ok(aws, version):
        return _aws_info(aws, owner_account)
    return None


def _aws_info(doc: AwsDocument, account_id: str) -> DocumentInfo:
    return DocumentInfo(
        name=doc.name,
        owner=doc.owner_for(account_id),
        document_type=doc.document_type,
        document_version=doc.version,
        schema_version=str(doc.parsed.get("schemaVersion", "")),
        platform_types=doc.platform_types,
        content=doc.parsed,
        aws_owned=doc.owner == AMAZON,
    )


def find_document(account_id: str, region: str, name: str, version: str | None = None) -> dict | None:
    """Parsed JSON content of a document (AWS-owned or created in moto via CreateDocument), or None.

    ``name`` may be a document ARN; ``version`` None / ``$DEFAULT`` / ``$LATEST`` / a number. The dict is
    a private copy: the caller may substitute parameters into it in place.
    """
    info = document_info(account_id, region, name, version)
    return None if info is None else copy.deepcopy(info.content)


def document_platforms(account_id: str, region: str, name: str) -> list[str]:
    """PlatformTypes of a document, e.g. ``["Linux", "MacOS"]``; ``[]`` for an unknown document."""
    info = document_info(account_id, region, name)
    return [] if info is None else list(info.platform_types)


def document_parameters(
    account_id: str, region: str, name: str, version: str | None = None
) -> dict[str, dict[str, Any]] | None:
    """The document's parameter schema, name -> ``{"type", "default"?, "description"?, "allowedValues"?, ...}``.

    As written in the document (so ``default`` keeps its JSON type: ``{}`` for a StringMap). A parameter
    without ``default`` is required. ``{}`` for a document without parameters, None for an unknown one.
    """
    info = document_info(account_id, region, name, version)
    if info is None:
        return None
    params = info.content.get("parameters")
    return copy.deepcopy(params) if isinstance(params, dict) else {}


# --------------------------------------------------------------------------------------------
# API shapes


def _default_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value)
    return str(value)


def parameter_list(content: dict[str, Any]) -> list[dict[str, Any]]:
    """DescribeDocument's ``Parameters`` for a document's ``parameters`` block."""
    out: list[dict[str, Any]] = []
    params = content.get("parameters")
    if not isinstance(params, dict):
        return out
    for pname, spec in params.items():
        if not isinstance(spec, dict):
            continue
        row: dict[str, Any] = {"Name": pname, "Type": str(spec.get("type", "String"))}
        if spec.get("description"):
            row["Description"] = spec["description"]
        if "default" in spec and spec["default"] is not None:
            row["DefaultValue"] = _default_value(spec["default"])
        out.append(row)
    return out


def _aws_identifier(doc: AwsDocument, account_id: str) -> dict[str, Any]:
    row: dict[str, Any] = {
        "Name": doc.name,
        "CreatedDate": doc.created_date,
        "Owner": doc.owner_for(account_id),
        "PlatformTypes": list(doc.platform_types),
        "DocumentVersion": doc.version,
        "DocumentType": doc.document_type,
        "SchemaVersion": str(doc.parsed.get("schemaVersion", "")),
        "DocumentFormat": "JSON",
        "Tags": [],
    }
    if doc.target_type:
        row["TargetType"] = doc.target_type
    return row


def _aws_description(doc: AwsDocument, account_id: str) -> dict[str, Any]:
    out: dict[str, Any] = {
        "Hash": doc.hash,
        "HashType": "Sha256",
        "Name": doc.name,
        "Owner": doc.owner_for(account_id),
        "CreatedDate": doc.created_date,
        "Status": "Active",
        "DocumentVersion": doc.version,
        "Description": doc.parsed.get("description", ""),
        "PlatformTypes": list(doc.platform_types),
        "DocumentType": doc.document_type,
        "SchemaVersion": str(doc.parsed.get("schemaVersion", "")),
        "LatestVersion": doc.version,
        "DefaultVersion": doc.version,
        "DocumentFormat": "JSON",
        "Tags": [],
    }
    params = parameter_list(doc.parsed)
    if params:
        out["Parameters"] = params
    if doc.target_type:
        out["TargetType"] = doc.target_type
    return out


def _render(parsed: dict[str, Any], fmt: str) -> str:
    if fmt == "YAML":
        return yaml.safe_dump(parsed, sort_keys=False, allow_unicode=True, width=1_000_000)
    return json.dumps(parsed, indent=2, ensure_ascii=False)


def _not_found(name: str) -> JsonRESTError:
    return JsonRESTError("InvalidDocument", f"Document with name {name} does not exist.")


def _bad_version() -> JsonRESTError:
    return JsonRESTError("InvalidDocumentVersion", "The document version is not valid or does not exist.")


def _check_format(fmt: str) -> str:
    if fmt not in ("JSON", "YAML"):
        raise JsonRESTError("ValidationException", f"Invalid document format {fmt}")
    return fmt


# --------------------------------------------------------------------------------------------
# ListDocuments


@dataclass(frozen=True)
class _Entry:
    """One listable document with the attributes the filters look at."""

    name: str
    owner: str
    document_type: str
    platform_types: tuple[str, ...]
    target_type: str | None
    tags: dict[str, str]
    row: dict[str, Any]


def _entries(backend: Any, account_id: str) -> list[_Entry]:
    out: list[_Entry] = []
    created: set[str] = set()
    for name, docs in backend._documents.items():
        doc = docs.get_default_version()
        tags = backend._get_documents_tags(name)
        content = doc.content_json if isinstance(doc.content_json, dict) else {}
        platforms = derive_platforms(content)
        row = doc.list_describe(tags=tags)
        row["PlatformTypes"] = list(platforms)
        row["CreatedDate"] = doc.created_date
        row.setdefault("Tags", [])
        created.add(name)
        out.append(_Entry(name, doc.owner, doc.document_type, platforms, doc.target_type,
                          {t["Key"]: t["Value"] for t in tags}, row))
    for doc in catalog().values():
        if doc.owner != AMAZON and doc.name in created:
            continue  # the account made its own (e.g. Session Manager preferences)
        out.append(_Entry(doc.name, doc.owner_for(account_id), doc.document_type, doc.platform_types,
                          doc.target_type, {}, _aws_identifier(doc, account_id)))
    out.sort(key=lambda e: (e.name, e.owner))
    return out


def _owner_test(value: str, account_id: str) -> Any:
    if value not in _OWNER_VALUES:
        raise JsonRESTError("ValidationException", f"Invalid value {value} for filter key Owner. "
                            f"Valid values: {', '.join(_OWNER_VALUES)}")
    if value == "Amazon":
        return lambda e: e.owner == AMAZON
    if value in ("Self", "Private"):
        return lambda e: e.owner == account_id
    if value == "All":
        return lambda e: True
    return lambda e: False  # Public / ThirdParty: nothing shared with the sandbox account


def _parse_filters(filters: list[dict[str, Any]], legacy: list[dict[str, Any]], account_id: str) -> list[Any]:
    """Turn both filter forms into predicates over :class:`_Entry` (all must hold)."""
    pairs: list[tuple[str, list[str]]] = []
    for f in legacy:
        key = f.get("key", "")
        if key not in _LEGACY_KEYS:
            raise JsonRESTError("InvalidFilterKey", f"The filter key {key} is not valid.")
        pairs.append((key, [str(f.get("value", ""))]))
    for f in filters:
        key = f.get("Key", "")
        if key not in _FILTER_KEYS and not (key.startswith("tag:") and len(key) > 4):
            raise JsonRESTError("InvalidFilterKey", f"The filter key {key} is not valid.")
        pairs.append((key, [str(v) for v in f.get("Values") or []]))
    tests: list[Any] = []
    for key, values in pairs:
        if not values:
            continue
        if key == "Owner":
            if len(values) != 1:
                raise JsonRESTError("ValidationException", "Owner filter can only have one value.")
            tests.append(_owner_test(values[0], account_id))
        elif key == "Name":
            tests.append(lambda e, vs=tuple(values): e.name.startswith(vs))
        elif key == "SearchKeyword":
            words = [v.lower() for v in values]
            tests.append(lambda e, ws=words: any(w in e.name.lower() for w in ws))
        elif key == "DocumentType":
            tests.append(lambda e, vs=frozenset(values): e.document_type in vs)
        elif key == "PlatformTypes":
            tests.append(lambda e, vs=frozenset(values): not vs.isdisjoint(e.platform_types))
        elif key == "TargetType":
            tests.append(lambda e, vs=frozenset(values): e.target_type in vs)
        else:
            tag = key[4:]
            tests.append(lambda e, t=tag, vs=frozenset(values): e.tags.get(t) in vs)
    return tests


def _encode_token(entry: _Entry) -> str:
    return base64.urlsafe_b64encode(json.dumps([entry.name, entry.owner]).encode()).decode()


def _decode_token(token: str) -> tuple[str, str]:
    try:
        name, owner = json.loads(base64.urlsafe_b64decode(token.encode()))
        return str(name), str(owner)
    except Exception as exc:
        raise JsonRESTError("InvalidNextToken", "The specified token isn't valid.") from exc


def list_documents(self: Any) -> str:
    """Answer ListDocuments: AWS-owned documents merged with moto's (installed on moto's SSM class)."""
    max_results = self._get_param("MaxResults")
    max_results = _DEFAULT_MAX_RESULTS if max_results is None else int(max_results)
    if not 1 <= max_results <= 50:
        bound = "greater than or equal to 1" if max_results < 1 else "less than or equal to 50"
        raise JsonRESTError("ValidationException", f"1 validation error detected: Value '{max_results}' at "
                            f"'maxResults' failed to satisfy constraint: Member must have value {bound}")
    account_id = self.current_account
    tests = _parse_filters(self._get_param("Filters") or [], self._get_param("DocumentFilterList") or [],
                           account_id)
    matched = [e for e in _entries(self.ssm_backend, account_id) if all(t(e) for t in tests)]
    token = self._get_param("NextToken")
    start = 0
    if token:
        after = _decode_token(token)
        start = next((n for n, e in enumerate(matched) if (e.name, e.owner) > after), len(matched))
    page = matched[start : start + max_results]
    result: dict[str, Any] = {"DocumentIdentifiers": [e.row for e in page]}
    if start + max_results < len(matched):
        result["NextToken"] = _encode_token(page[-1])
    return json.dumps(result, default=_json_default, ensure_ascii=False)


def _json_default(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return round(value.timestamp(), 3)
    raise TypeError(f"cannot serialise {type(value).__name__}")


# --------------------------------------------------------------------------------------------
# DescribeDocument / GetDocument


def _resolve(self: Any) -> tuple[str, str, AwsDocument | None, Any | None]:
    """``(account, name, aws_doc, moto_docs)`` for the request's Name; InvalidDocument if neither exists."""
    raw = self._get_param("Name") or ""
    account, name = split_name(self.current_account, raw)
    aws = catalog().get(name)
    if aws is not None and aws.owner == AMAZON:
        return account, name, aws, None
    docs = _moto_documents(account, self.region, name)
    if docs is not None:
        return account, name, None, docs
    if aws is not None:
        return account, name, aws, None
    raise _not_found(raw)


def describe_document(self: Any) -> Any:
    """Answer DescribeDocument for AWS-owned and customer documents (installed on moto's SSM class)."""
    version = self._get_param("DocumentVersion")
    version_name = self._get_param("VersionName")
    account, name, aws, docs = _resolve(self)
    if aws is not None:
        if not _aws_version_ok(aws, version) or version_name:
            raise _bad_version()
        return json.dumps({"Document": _aws_description(aws, account)}, default=_json_default,
                          ensure_ascii=False)
    backend = ssm_backends[account][self.region]
    if version == "$DEFAULT":
        version = None
    result = backend.describe_document(name=name, document_version=version, version_name=version_name)
    doc = docs.find(version, version_name)
    content = doc.content_json if isinstance(doc.content_json, dict) else {}
    result["PlatformTypes"] = list(derive_platforms(content))
    return ActionResult({"Document": result})


def get_document(self: Any) -> Any:
    """Answer GetDocument (JSON or YAML content) for AWS-owned and customer documents."""
    version = self._get_param("DocumentVersion")
    version_name = self._get_param("VersionName")
    fmt = self._get_param("DocumentFormat")
    account, name, aws, docs = _resolve(self)
    if aws is not None:
        if not _aws_version_ok(aws, version) or version_name:
            raise _bad_version()
        fmt = _check_format(fmt or "JSON")
        content = aws.content if fmt == "JSON" else _render(aws.parsed, fmt)
        result = {
            "Name": aws.name,
            "CreatedDate": aws.created_date,
            "DocumentVersion": aws.version,
            "Status": "Active",
            "Content": content,
            "DocumentType": aws.document_type,
            "DocumentFormat": fmt,
        }
        return json.dumps(result, default=_json_default, ensure_ascii=False)
    backend = ssm_backends[account][self.region]
    if version == "$DEFAULT":
        version = None
    result = backend.get_document(name=name, document_version=version, version_name=version_name,
                                  document_format=_check_format(fmt) if fmt else "")
    result["CreatedDate"] = docs.find(version, version_name).created_date
    return ActionResult(result)


# --------------------------------------------------------------------------------------------
# the extension


class Documents(Extension):
    """ListDocuments / DescribeDocument / GetDocument from the AWS-owned documents' package data."""

    name = "documents"

    def patch(self) -> None:
        catalog()  # fail at start-up, not on the first request, if the package data is missing
        attach(SimpleSystemManagerResponse, list_documents, describe_document, get_document)


EXTENSION = Documents()
