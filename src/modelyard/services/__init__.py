"""Services: one module per resource family. They see validated dictionaries, never HTTP or SQL strings.

Importing ``modelyard.services.catalog`` registers every implemented operation.
"""
