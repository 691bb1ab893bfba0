"""Dot-product recommendations from user and movie vectors."""

import numpy as np
import pandas as pd
from type_aliases import ContentId, PreferenceScore, UserId


class Recommender:
    """Scores every movie for a user by the dot product of their vectors."""

    def __init__(self, user_vectors: pd.DataFrame, movie_vectors: pd.DataFrame) -> None:
        if list(user_vectors.columns) != list(movie_vectors.columns):
            raise ValueError("user and movie vectors must have the same components")
        self.user_vectors = user_vectors
        self.movie_ids = [str(movie_id) for movie_id in movie_vectors.index]
        self.movie_matrix = movie_vectors.to_numpy()

    def predict_ver1(self, user_id: UserId, k: int) -> list[tuple[ContentId, PreferenceScore]]:
        """The ``k`` best movies for ``user_id``, best first."""
        if user_id not in self.user_vectors.index:
            raise KeyError(f"unknown user_id {user_id}")
        scores = self.movie_matrix @ self.user_vectors.loc[user_id].to_numpy()
        best = np.argsort(-scores, kind="stable")[:k]
        return [(self.movie_ids[i], float(scores[i])) for i in best]
