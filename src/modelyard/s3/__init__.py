"""modelyard's own S3: buckets and objects served over rest-xml, bytes as files under the data dir,
metadata in the SQL store (see ``s3.service`` for the operations, ``s3.catalog`` for the metadata and
``s3.blobs`` for the files)."""
