"""Hosting: the invoke path (router, instance clients, limits, error mapping) and the endpoint controller."""
