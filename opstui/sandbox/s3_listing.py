"""S3 listings honour ``encoding-type=url``, so keys holding control characters list as they do on AWS.

Why: botocore sends ``EncodingType=url`` with every ListObjectVersions, ListObjectsV2 and ListMultipartUploads
(its ``set_list_objects_encoding_type_url`` handler) and URL-decodes the answer itself. moto ignores the
parameter for ListObjectVersions and ListMultipartUploads and encodes only part of ListObjectsV2, so a key
holding ``\\x1b`` or ``\\x07`` (any UTF-8 is a valid S3 key) lands raw in the XML: the response is not XML 1.0
and moto answers 500. S3 instead URL-encodes the fields its API reference lists under ``EncodingType``
(https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListObjectVersions.html: KeyMarker, NextKeyMarker,
Prefix, Key, Delimiter; https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListObjectsV2.html: Delimiter,
Prefix, Key, StartAfter; https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListMultipartUploads.html:
Delimiter, KeyMarker, Prefix, NextKeyMarker, Key) and CommonPrefixes, and echoes ``EncodingType: url``. Any
other value is refused with ``InvalidArgument`` ("Invalid Encoding Method specified in Request"), as S3 does.

Here each of the three handlers runs as moto wrote it, and the result is encoded just before serialisation
(fields moto already encoded in ListObjectsV2 are left alone). Encoding: percent-encoding of UTF-8 with ``/``
kept, as S3 does for these fields (botocore decodes with ``unquote_plus``, so ``+`` goes out as ``%2B``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from moto.core.responses import ActionResult
from moto.s3.exceptions import InvalidArgumentError
from moto.s3.responses import S3Response

from .extension import Extension


def encode(value: Any) -> Any:
    """S3's ``encoding-type=url`` form of one field (non-strings as they are)."""
    return quote(value, safe="/") if isinstance(value, str) else value


#: per operation: top-level fields, (list field, item field) pairs that S3 encodes and moto left raw
_FIELDS: dict[str, tuple[tuple[str, ...], tuple[tuple[str, str], ...]]] = {
    "list_object_versions": (("KeyMarker", "NextKeyMarker", "Prefix", "Delimiter"),
                             (("Versions", "Key"), ("DeleteMarkers", "Key"), ("CommonPrefixes", "Prefix"))),
    # moto's ListObjectsV2 already encodes Key, Prefix and CommonPrefixes
    "list_objects_v2": (("Delimiter", "StartAfter"), ()),
    "list_multipart_uploads": (("KeyMarker", "NextKeyMarker", "Prefix", "Delimiter"),
                               (("Uploads", "Key"), ("CommonPrefixes", "Prefix"))),
}


def _encoding(original: Callable[[Any], Any], operation: str) -> Callable[[Any], Any]:
    top, nested = _FIELDS[operation]

    def handler(self: Any) -> Any:
        wanted = self.querystring.get("encoding-type", [None])[0]
        if wanted is None:
            return original(self)
        if wanted != "url":
            raise InvalidArgumentError("Invalid Encoding Method specified in Request", "encoding-type", wanted)
        serialize = self.serialized  # a fresh S3Response per request: shadowing it here is safe

        def serialized(action_result: ActionResult) -> Any:
            result = action_result.result
            if isinstance(result, dict):
                for name in top:
                    if result.get(name):
                        result[name] = encode(result[name])
                for list_name, item_name in nested:
                    for item in result.get(list_name) or ():
                        if isinstance(item, dict) and item.get(item_name):
                            item[item_name] = encode(item[item_name])
                result["EncodingType"] = "url"
            return serialize(action_result)

        self.serialized = serialized
        try:
            return original(self)
        finally:
            del self.serialized

    handler.__name__ = operation
    return handler


class S3Listing(Extension):
    """``encoding-type=url`` for the three S3 listings botocore asks it for (no state, no endpoints)."""

    name = "s3-listing"

    def patch(self) -> None:
        for operation in _FIELDS:
            setattr(S3Response, operation, _encoding(getattr(S3Response, operation), operation))


EXTENSION = S3Listing()
