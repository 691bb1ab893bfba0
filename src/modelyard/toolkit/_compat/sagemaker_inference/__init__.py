"""Stand-in for ``sagemaker_inference`` when the model environment does not install it.

Handlers written for SageMaker often import ``content_types``, ``decoder``, ``encoder`` or
``errors`` from it; the toolkit appends this directory to ``sys.path`` only when the real
package is absent, and these modules re-export the toolkit's own implementations.
"""
