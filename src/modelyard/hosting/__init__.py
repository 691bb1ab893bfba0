"""Hosting: the invoke path: routing table, instance clients, InvokeEndpoint and its error mapping.

The endpoint controller (``modelyard.controllers.endpoints``) publishes routes here; nothing here imports it.
"""
