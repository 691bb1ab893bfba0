"""The wire layer: AWS protocols driven by botocore's service models, errors, request authentication.

It knows no resource: services hand it validated dictionaries and get dictionaries back.
"""
