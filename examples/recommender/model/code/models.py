"""The endpoint's request and response bodies, validated with pydantic (design by contract)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field, field_validator
from type_aliases import ContentId, PreferenceScore, UserId


class Request(BaseModel):
    """What a client sends: whose recommendations, and how many."""

    user_id: UserId
    k: int = Field(default=10, ge=1, le=100)


class Response(BaseModel):
    """What the endpoint answers: ``[{movie_id: score}, ...]``, best first."""

    user_id: UserId
    recommendations: list[dict[ContentId, PreferenceScore]]

    @field_validator("recommendations", mode="before")
    @classmethod
    def parse_recommendations(cls, value: Any) -> Any:
        """Accept ``(movie_id, score)`` pairs as well as one-entry dicts."""
        parsed = []
        for item in value:
            if isinstance(item, tuple) and len(item) == 2:
                content_id, score = item
                if not isinstance(content_id, str) or not isinstance(score, (int, float)):
                    raise ValueError("a recommendation is a (ContentId, PreferenceScore) pair")
                item = {content_id: score}
            parsed.append(item)
        return parsed
