"""What CreateModelPackage refuses until implemented.

A registry entry is a record: descriptions, metrics, drift baselines, model cards, metadata and the
inference specification are kept and described back, and CreateModel reads the specification. Only the
members that ask SageMaker to *run* something are refused. ``SkipModelValidation`` (the SDK sends
``None``) asks for nothing and stays accepted.
"""

from __future__ import annotations

from modelyard.services.unsupported import Unsupported, enabled

CREATE_MODEL_PACKAGE = (
    Unsupported("ValidationSpecification", "model package validation jobs are not run, so no validation status "
                "could be reported; remove it (run a batch transform to check the model yourself)"),
    Unsupported("CertifyForMarketplace", "there is no AWS Marketplace here; remove it or set it to false",
                enabled),
)
