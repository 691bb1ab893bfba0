"""Score every movie for a user by the dot product of their embedding vectors."""

from __future__ import annotations

from type_aliases import ContentId, PreferenceScore, UserId, Vector


class UnknownUser(KeyError):
    """The user has no vector."""


class Recommender:
    """Top-k movies for a user, from user and movie vectors."""

    def __init__(self, user_vectors: dict[UserId, Vector], movie_vectors: dict[ContentId, Vector]) -> None:
        self.user_vectors = user_vectors
        self.movie_vectors = movie_vectors

    def predict_ver1(self, user_id: UserId, k: int) -> list[tuple[ContentId, PreferenceScore]]:
        """The ``k`` best-scoring movies for ``user_id``, best first."""
        try:
            user = self.user_vectors[user_id]
        except KeyError:
            raise UnknownUser(f"unknown user_id {user_id!r}") from None
        scores = [(movie, sum(u * m for u, m in zip(user, vector, strict=True)))
                  for movie, vector in self.movie_vectors.items()]
        scores.sort(key=lambda item: item[1], reverse=True)
        return scores[:k]
