"""The request and response contract of the endpoint, validated by pydantic (v2)."""

from typing import Any

from pydantic import BaseModel, field_validator
from type_aliases import ContentId, PreferenceScore, UserId


class Request(BaseModel):
    user_id: UserId
    k: int


class Response(BaseModel):
    user_id: UserId
    recommendations: list[dict[ContentId, PreferenceScore]]

    @field_validator("recommendations", mode="before")
    @classmethod
    def parse_recommendations(cls, value: Any) -> Any:
        """Accept (ContentId, PreferenceScore) pairs and turn each into {ContentId: PreferenceScore}."""
        return [cls._pair(item) if isinstance(item, tuple) else item for item in value]

    @staticmethod
    def _pair(item: tuple) -> dict[ContentId, PreferenceScore]:
        if len(item) == 2 and isinstance(item[0], str) and isinstance(item[1], (float, int)):
            return {item[0]: item[1]}
        raise ValueError("Invalid recommendation format. Expected a tuple of (ContentId, PreferenceScore).")
