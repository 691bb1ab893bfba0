"""SageMaker inference handlers of the movie recommender.

model_fn runs once when an instance starts; each request then goes
input_fn -> predict_fn -> output_fn.
"""

from __future__ import annotations

from pathlib import Path

from loader import load_vectors_csv
from models import Request, Response
from recommender import Recommender
from type_aliases import ContentId, PreferenceScore, UserId


def model_fn(model_dir: str) -> Recommender:
    """Load the user and movie vectors shipped in model.tar.gz."""
    root = Path(model_dir)
    model = Recommender(user_vectors=load_vectors_csv(root / "user_vectors", "user_id"),
                        movie_vectors=load_vectors_csv(root / "movie_vectors", "movie_id"))
    print(f"recommender ready: {len(model.user_vectors)} users, {len(model.movie_vectors)} movies", flush=True)
    return model


def input_fn(request_body: str | bytes, request_content_type: str) -> Request:
    """Validate the JSON request body."""
    if request_content_type != "application/json":
        raise ValueError(f"Invalid content-type: {request_content_type} (expected: application/json)")
    return Request.model_validate_json(request_body)


def predict_fn(input_data: Request, model: Recommender) -> tuple[UserId, list[tuple[ContentId, PreferenceScore]]]:
    """The top-k movies of the user."""
    return input_data.user_id, model.predict_ver1(input_data.user_id, input_data.k)


def output_fn(prediction: tuple[UserId, list[tuple[ContentId, PreferenceScore]]], response_content_type: str) -> str:
    """Serialize through the Response model (JSON)."""
    if response_content_type not in ("application/json", "*/*"):
        raise ValueError(f"Invalid content-type: {response_content_type} (expected: application/json)")
    user_id, recommendations = prediction
    return Response(user_id=user_id, recommendations=recommendations).model_dump_json()
