"""The SageMaker inference handlers, found by sagemaker-inference's default handler service.

First request path: model_fn (once, at start) -> input_fn -> predict_fn -> output_fn.
"""

from pathlib import Path

from loader import load_vectors_csv
from models import Request, Response
from recommender import Recommender
from type_aliases import ContentId, PreferenceScore, UserId


def model_fn(model_dir: str) -> Recommender:
    """Load the trained vectors from the unpacked model.tar.gz."""
    model_dir_path = Path(model_dir)
    return Recommender(
        user_vectors=load_vectors_csv(model_dir_path / "user_vectors", "user_id"),
        movie_vectors=load_vectors_csv(model_dir_path / "movie_vectors", "movie_id"),
    )


def input_fn(request_body: str, request_content_type: str) -> Request:
    if request_content_type != "application/json":
        raise ValueError(f"Invalid content-type: {request_content_type} (expected: application/json)")
    return Request.model_validate_json(request_body)


def predict_fn(input_data: Request, model: Recommender) -> tuple[UserId, list[tuple[ContentId, PreferenceScore]]]:
    return input_data.user_id, model.predict_ver1(input_data.user_id, input_data.k)


def output_fn(prediction: tuple[UserId, list[tuple[ContentId, PreferenceScore]]], response_content_type: str) -> str:
    if response_content_type != "application/json":
        raise ValueError(f"Invalid content-type: {response_content_type} (expected: application/json)")
    user_id, recommendations = prediction
    return Response(user_id=user_id, recommendations=recommendations).model_dump_json()
