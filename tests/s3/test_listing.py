"""ListObjects V1 and V2: prefix, delimiter and common prefixes, start-after, continuation, max-keys, url encoding."""

from __future__ import annotations

from typing import Any

import pytest

KEYS = ["a.txt", "photos/2024/feb/1.jpg", "photos/2024/jan/1.jpg", "photos/2024/jan/2.jpg", "photos/2025/x.jpg",
        "photos/readme", "videos/v1.mp4", "videos/v2.mp4", "z"]


@pytest.fixture
def filled(s3: Any, bucket: str) -> str:
    for key in KEYS:
        s3.put_object(Bucket=bucket, Key=key, Body=b".")
    return bucket


def test_v2_prefix_and_delimiter(s3: Any, filled: str) -> None:
    top = s3.list_objects_v2(Bucket=filled, Delimiter="/")
    assert [c["Key"] for c in top["Contents"]] == ["a.txt", "z"]
    assert [p["Prefix"] for p in top["CommonPrefixes"]] == ["photos/", "videos/"]
    assert top["KeyCount"] == 4 and not top["IsTruncated"]
    photos = s3.list_objects_v2(Bucket=filled, Prefix="photos/", Delimiter="/")
    assert [c["Key"] for c in photos["Contents"]] == ["photos/readme"]
    assert [p["Prefix"] for p in photos["CommonPrefixes"]] == ["photos/2024/", "photos/2025/"]
    flat = s3.list_objects_v2(Bucket=filled, Prefix="photos/2024/")
    assert [c["Key"] for c in flat["Contents"]] == ["photos/2024/feb/1.jpg", "photos/2024/jan/1.jpg",
                                                    "photos/2024/jan/2.jpg"]


def test_v2_paging_with_delimiter(s3: Any, filled: str) -> None:
    seen: list[str] = []
    kwargs: dict[str, Any] = {"Bucket": filled, "Delimiter": "/", "MaxKeys": 1}
    while True:
        page = s3.list_objects_v2(**kwargs)
        seen += [c["Key"] for c in page.get("Contents", [])] + [p["Prefix"] for p in page.get("CommonPrefixes", [])]
        if not page["IsTruncated"]:
            break
        kwargs["ContinuationToken"] = page["NextContinuationToken"]
    assert seen == ["a.txt", "photos/", "videos/", "z"]


def test_v2_paginator_start_after_and_max_keys(s3: Any, filled: str) -> None:
    pages = list(s3.get_paginator("list_objects_v2").paginate(Bucket=filled, PaginationConfig={"PageSize": 2}))
    assert [c["Key"] for page in pages for c in page["Contents"]] == KEYS
    assert len(pages) == 5
    after = s3.list_objects_v2(Bucket=filled, StartAfter="photos/2025/x.jpg")
    assert [c["Key"] for c in after["Contents"]] == ["photos/readme", "videos/v1.mp4", "videos/v2.mp4", "z"]
    assert s3.list_objects_v2(Bucket=filled, MaxKeys=0)["KeyCount"] == 0


def test_v1_markers(s3: Any, filled: str) -> None:
    pages = list(s3.get_paginator("list_objects").paginate(Bucket=filled, PaginationConfig={"PageSize": 3}))
    assert [c["Key"] for page in pages for c in page["Contents"]] == KEYS
    page = s3.list_objects(Bucket=filled, Delimiter="/", MaxKeys=2)
    assert page["IsTruncated"] and page["NextMarker"] == "photos/"
    rest = s3.list_objects(Bucket=filled, Delimiter="/", Marker=page["NextMarker"])
    assert [p["Prefix"] for p in rest["CommonPrefixes"]] == ["videos/"]
    assert [c["Key"] for c in rest["Contents"]] == ["z"]


def test_url_encoding(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="with space/é", Body=b".")
    listed = s3.list_objects_v2(Bucket=bucket, EncodingType="url", Delimiter="/")
    assert [p["Prefix"] for p in listed["CommonPrefixes"]] == ["with+space/"]
    inner = s3.list_objects_v2(Bucket=bucket, EncodingType="url", Prefix="with space/")
    assert [c["Key"] for c in inner["Contents"]] == ["with+space/%C3%A9"]
    decoded = s3.list_objects_v2(Bucket=bucket, Prefix="with space/")
    assert [c["Key"] for c in decoded["Contents"]] == ["with space/é"]


def test_keys_with_control_characters_list_with_url_encoding(s3: Any, bucket: str) -> None:
    """A key XML 1.0 cannot hold is listed as S3 lists it: url-encoded on request, and a character
    reference (not a raw byte) in a plain listing, so the document never carries the raw character."""
    s3.put_object(Bucket=bucket, Key="bell\x07/esc\x1b", Body=b".")
    listed = s3.list_objects_v2(Bucket=bucket, EncodingType="url")
    assert [c["Key"] for c in listed["Contents"]] == ["bell%07/esc%1B"]
    raw = s3.list_objects_v2(Bucket=bucket, MaxKeys=1)  # botocore's parser takes the references too
    assert [c["Key"] for c in raw["Contents"]] == ["bell\x07/esc\x1b"]
