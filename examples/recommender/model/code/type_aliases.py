"""Names for the ids and scores the recommender passes around."""

from __future__ import annotations

UserId = str
ContentId = str
PreferenceScore = float
Vector = list[float]
